import * as fs from 'node:fs';
import { ModelError } from '../core/errors';

/**
 * Writes a file whole or not at all: a temporary name beside it, renamed when complete. An existing file
 * is refused unless `force`. `data` is text or byte arrays written in order (not joined). Returns the bytes.
 */
export function writeFileAtomic(
  file: string,
  data: string | readonly Uint8Array[],
  options: { force?: boolean } = {},
): number {
  if (!options.force && fs.existsSync(file))
    throw new ModelError(file, 'already exists (use --force to overwrite)');
  const temp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let bytes = 0;
  try {
    const fd = fs.openSync(temp, 'wx');
    try {
      for (const part of typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data) {
        for (let done = 0; done < part.length; ) done += fs.writeSync(fd, part, done, part.length - done);
        bytes += part.length;
      }
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
    return bytes;
  } catch (e) {
    fs.rmSync(temp, { force: true });
    if (e instanceof ModelError) throw e;
    throw new ModelError(file, `could not write: ${(e as Error).message}`);
  }
}
