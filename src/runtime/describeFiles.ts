import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import type { ReportFile } from '../core/transform/transformReport';
import { workerScript } from './workerScript';

/**
 * Reads a file once (streamed, so a multi-GB model is never held) for its SHA-256 and, with `gzip`, the
 * size of its gzip compression at the default level. The compression runs on libuv's thread pool, so the
 * calling thread stays free for progress and Ctrl+C.
 */
export async function describeFile(file: string, options: { gzip?: boolean } = {}): Promise<ReportFile> {
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

/** What dist/describeWorker.js is given (as workerData) and what it answers. */
export interface DescribeJob {
  files: string[];
  gzip: boolean;
}
export type FromDescribeWorker =
  | { type: 'files/described'; files: ReportFile[] }
  | { type: 'error'; reason: string };

/**
 * describeFile for several files on a worker thread (dist/describeWorker.js), so a transform's input files
 * are measured while this thread plans (the inputs do not change during the run). Rejects with the first
 * error; `signal` stops the worker (a failed run need not wait for a multi-GB input to be read).
 */
export function describeFilesInWorker(
  files: string[],
  options: { gzip?: boolean; signal?: AbortSignal } = {},
): Promise<ReportFile[]> {
  const job: DescribeJob = { files, gzip: Boolean(options.gzip) };
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerScript('describeWorker.js'), { workerData: job });
    const stop = () => {
      reject(new Error('stopped'));
      void worker.terminate();
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    const done = () => options.signal?.removeEventListener('abort', stop);
    worker.once('message', (m: FromDescribeWorker) => {
      done();
      if (m.type === 'files/described') resolve(m.files);
      else reject(new Error(m.reason));
    });
    worker.once('error', (e) => {
      done();
      reject(e);
    });
    worker.once('exit', (code) => {
      done();
      reject(new Error(`the file-describing worker exited with code ${code}`));
    });
  });
}
