import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';

/** A file as a report lists it: size, SHA-256 and, when asked, its gzip-compressed size. */
export interface FileFigures {
  path: string;
  bytes: number;
  sha256: string;
  /** Bytes of `gzip -6` of the file (what a download or an artifact store sees). */
  gzipBytes?: number;
}

/**
 * Reads a file once (streamed, so a multi-GB model is never held) for its SHA-256 and, with `gzip`, the
 * size of its gzip compression at the default level. The compression runs on libuv's thread pool, so the
 * calling thread stays free for progress and Ctrl+C.
 */
export async function describeFile(file: string, options: { gzip?: boolean } = {}): Promise<FileFigures> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  let gzipBytes = 0;
  const count = new Writable({
    write(chunk: Buffer, _encoding, done) {
      gzipBytes += chunk.length;
      done();
    },
  });
  const read = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  if (options.gzip) await pipeline(read, tap, zlib.createGzip(), count);
  else await pipeline(read, tap, new Writable({ write: (_c, _e, done) => done() }));
  return {
    path: file,
    bytes,
    sha256: hash.digest('hex'),
    ...(options.gzip ? { gzipBytes } : {}),
  };
}
