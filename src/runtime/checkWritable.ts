import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelError } from '../core/errors';

/**
 * Refuses, before any work starts, output files that could not be written: a folder that does not exist,
 * a path through a regular file, an output that is a folder, or a folder this process may not write in
 * (tried with a probe file created and removed at once, which also finds read-only file systems and ACLs
 * that permission bits do not show). Throws a ModelError naming the output file.
 */
export function checkWritable(files: readonly string[]): void {
  const probed = new Set<string>();
  for (const file of files) {
    const abs = path.resolve(file);
    const dir = path.dirname(abs);
    const existing = statOf(abs);
    if (existing?.isDirectory()) throw new ModelError(file, 'cannot be written: it is a folder');
    if (probed.has(dir)) continue;
    probed.add(dir);
    const folder = statOf(dir);
    if (!folder) {
      const blocker = firstNonFolder(dir);
      throw new ModelError(
        file,
        blocker
          ? `cannot be written: ${blocker} is a file, not a folder`
          : `cannot be written: the folder ${dir} does not exist`,
      );
    }
    if (!folder.isDirectory())
      throw new ModelError(file, `cannot be written: ${dir} is a file, not a folder`);
    // Named like the output's own temporary files (`<file>.tmp-<pid>-…`), so a run killed between the
    // two calls leaves nothing the extension's clean-up after a cancel does not remove.
    const probe = `${abs}.tmp-${process.pid}-probe${Math.random().toString(36).slice(2, 8)}`;
    try {
      fs.closeSync(fs.openSync(probe, 'wx'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === 'EACCES' || code === 'EPERM'
          ? `no permission to write in ${dir}`
          : code === 'EROFS'
            ? `${dir} is on a read-only file system`
            : code === 'ENOSPC' || code === 'EDQUOT'
              ? `no space left in ${dir}`
              : `${dir}: ${(e as Error).message}`;
      throw new ModelError(file, `cannot be written: ${why}`);
    }
    fs.rmSync(probe, { force: true });
  }
}

function statOf(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

/** The first path above `dir` (from the root down) that exists but is not a folder. */
function firstNonFolder(dir: string): string | undefined {
  const parts: string[] = [];
  for (let p = dir; ; p = path.dirname(p)) {
    parts.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of parts) {
    const s = statOf(p);
    if (!s) return undefined;
    if (!s.isDirectory()) return p;
  }
  return undefined;
}
