/**
 * Runs the big-shrink CLI (dist/cli.js) in a child process, so quantization, conversion and the
 * onnxruntime verification never run on the extension host. Cancelling kills the child's process
 * group and removes what the run created: the CLI's temporary files (`<file>.tmp-<pid>-*`, the spill
 * file `<output>.spill-<pid>-*`) and any output that appeared or changed while it ran.
 *
 * No `vscode` here: the progress notification, prompts and panel live in shrinkCommands.ts.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { nodeRuntimes, startCliChild, type CliChild } from './startCliChild';

/** The files a transform writes for output model `output` (the CLI's naming, transformRun.ts). */
export interface OutputFiles {
  model: string;
  /** External data beside the output (written when the input has external data or the model is large). */
  data: string;
  reportJson: string;
  reportMd: string;
}

export function outputFiles(output: string): OutputFiles {
  const stem = output.replace(/\.onnx$/i, '');
  return {
    model: output,
    data: `${output}.data`,
    reportJson: `${stem}.report.json`,
    reportMd: `${stem}.report.md`,
  };
}

/** One CLI run. */
export interface ShrinkJob {
  /** Absolute path of dist/cli.js. */
  cli: string;
  /** Arguments after `cli.js`, e.g. `['quantize', MODEL, '--bits', '4', '-o', OUT]`. */
  args: string[];
  /** The output model the arguments name (`-o`). */
  output: string;
}

/** How a run ended. */
export interface ShrinkResult {
  status: 'done' | 'failed' | 'cancelled';
  exitCode: number | null;
  /**
   * The report JSON this run wrote. Exit code 3 writes one too: the output is there, but its fidelity is
   * FAIL or the models could not be compared (`error` then says which).
   */
  reportJson?: string;
  /** Why it failed, from the CLI's `big-shrink: error: FILE: REASON` (or exit 3's `big-shrink: FAIL: …`). */
  error?: { file: string; reason: string };
  /** Files removed after a cancel or a failure. */
  removed: string[];
  stderr: string;
  elapsedMs: number;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Lines the CLI prints as it goes (verification phases, the closing summary). */
  onProgress?(line: string): void;
  /** Milliseconds between SIGTERM and SIGKILL when cancelling. */
  killGraceMs?: number;
}

interface Stamp {
  size: number;
  mtimeMs: number;
  ino: number;
}

function stamp(file: string): Stamp | undefined {
  try {
    const s = fs.statSync(file);
    return { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
  } catch {
    return undefined;
  }
}

const sameStamp = (a: Stamp, b: Stamp) => a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;

/**
 * Remove what run `pid` left: its temporary and spill files beside `targets`, and every target that did
 * not exist before the run or changed during it (`before`).
 */
function removeLeftovers(targets: string[], before: Map<string, Stamp | undefined>, pid: number): string[] {
  const removed: string[] = [];
  const remove = (file: string) => {
    try {
      fs.rmSync(file, { force: true });
      removed.push(file);
    } catch {
      // Still there: the caller reports what it could remove.
    }
  };
  const byDir = new Map<string, string[]>();
  for (const t of targets)
    byDir.set(path.dirname(t), [...(byDir.get(path.dirname(t)) ?? []), path.basename(t)]);
  for (const [dir, bases] of byDir) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    const prefixes = bases.flatMap((b) => [`${b}.tmp-${pid}-`, `${b}.spill-${pid}-`]);
    for (const name of names) if (prefixes.some((p) => name.startsWith(p))) remove(path.join(dir, name));
  }
  for (const t of targets) {
    const now = stamp(t);
    const then = before.get(t);
    if (now && (!then || !sameStamp(now, then))) remove(t);
  }
  return removed;
}

/** `big-shrink: error: FILE: REASON` (the last one) → { file, reason }; otherwise the last words on stderr. */
export function parseCliError(stderr: string, exitCode: number | null): { file: string; reason: string } {
  const lines = stderr.split(/\r?\n/).filter((l) => l.trim());
  const prefix = /^big-shrink: (error|FAIL): /;
  const error = [...lines].reverse().find((l) => prefix.test(l));
  if (error) {
    const text = error.replace(prefix, '');
    // A ModelError prints "FILE: REASON" (the extension passes absolute paths); others only a reason.
    const at = text.indexOf(': ', /^[A-Za-z]:[\\/]/.test(text) ? 2 : 0);
    const file = at > 0 ? text.slice(0, at) : '';
    return /[\\/]|\.onnx$/i.test(file) ? { file, reason: text.slice(at + 2) } : { file: '', reason: text };
  }
  const usage = lines.find((l) => l.startsWith('big-shrink: '));
  if (usage) return { file: '', reason: usage.slice('big-shrink: '.length) };
  const last = lines.at(-1);
  return { file: '', reason: last ?? `the command line exited with code ${exitCode}` };
}

/** Run one transform; resolves (never rejects) when the child has exited and leftovers are gone. */
export async function runShrink(job: ShrinkJob, options: RunOptions = {}): Promise<ShrinkResult> {
  const t0 = Date.now();
  const files = outputFiles(job.output);
  const targets = [files.model, files.data, files.reportJson, files.reportMd];
  const before = new Map(targets.map((t) => [t, stamp(t)]));
  const result = (r: Omit<ShrinkResult, 'elapsedMs'>): ShrinkResult => ({ ...r, elapsedMs: Date.now() - t0 });
  if (options.signal?.aborted)
    return result({ status: 'cancelled', exitCode: null, removed: [], stderr: '' });

  let run: CliChild;
  try {
    run = await startCliChild([job.cli, ...job.args], path.dirname(job.output), options);
  } catch (e) {
    return result({
      status: 'failed',
      exitCode: null,
      error: { file: job.cli, reason: (e as Error).message },
      removed: [],
      stderr: '',
    });
  }
  const { child } = run;
  const pid = child.pid!;
  let stderr = '';

  const lines = (onLine: (line: string) => void) => {
    let rest = '';
    return (chunk: Buffer) => {
      const text = rest + chunk.toString('utf8');
      const parts = text.split(/\r?\n/);
      rest = parts.pop() ?? '';
      for (const p of parts) if (p.trim()) onLine(p);
    };
  };
  child.stderr!.on(
    'data',
    lines((line) => {
      stderr += `${line}\n`;
      if (!line.startsWith('big-shrink:') && !line.startsWith('    ')) options.onProgress?.(line);
    }),
  );
  child.stdout!.on(
    'data',
    lines((line) => options.onProgress?.(line)),
  );

  const { exitCode, cancelled } = await run.closed;

  const wrote = (f: string) => {
    const now = stamp(f);
    const then = before.get(f);
    return !!now && (!then || !sameStamp(now, then));
  };
  if (cancelled) {
    return result({
      status: 'cancelled',
      exitCode,
      removed: removeLeftovers(targets, before, pid),
      stderr,
    });
  }
  const reportJson = wrote(files.reportJson) && wrote(files.model) ? files.reportJson : undefined;
  if (exitCode === 0 && reportJson) {
    return result({ status: 'done', exitCode, reportJson, removed: [], stderr });
  }
  // Exit 3: written and reported, but the fidelity is FAIL or the models could not be compared.
  if (exitCode === 3 && reportJson) {
    return result({
      status: 'done',
      exitCode,
      reportJson,
      error: parseCliError(stderr, exitCode),
      removed: [],
      stderr,
    });
  }
  // Failed. A report left by an older CLI (exit 1 after a failed verification) stays for the user to
  // read; without one, whatever the run began is removed.
  return result({
    status: 'failed',
    exitCode,
    reportJson,
    error: parseCliError(stderr, exitCode),
    removed: reportJson ? [] : removeLeftovers(targets, before, pid),
    stderr,
  });
}

const commandCache = new Map<string, Promise<Set<string>>>();

/** The commands `cli.js --help` lists (`inspect`, `quantize`, `convert`, …); cached per CLI path. */
export function cliCommands(cli: string): Promise<Set<string>> {
  let cached = commandCache.get(cli);
  if (!cached) {
    cached = new Promise((resolve) => {
      const [runtime] = nodeRuntimes();
      execFile(runtime.command, [cli, '--help'], { env: runtime.env, timeout: 20000 }, (_e, stdout) => {
        const names = [...String(stdout ?? '').matchAll(/^\s*big-shrink ([a-z][a-z-]*)\b/gm)].map(
          (m) => m[1],
        );
        // A probe that failed is tried again next time.
        if (names.length === 0) commandCache.delete(cli);
        resolve(new Set(names));
      });
    });
    commandCache.set(cli, cached);
  }
  return cached;
}
