import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { ReportFile } from '../core/transform/transformReport';
import { workerScript } from './workerScript';

/** Files up to this size are compressed whole; larger ones have their gzip size estimated from samples. */
export const GZIP_EXACT_UP_TO = 64 << 20;
/**
 * The estimate compresses this many evenly spaced blocks of this size (4 MiB: 1% of a 400 MB model; on
 * the benchmark model it lands within about 1% of the whole file's gzip -6, 48 × 256 KiB within 0.3%).
 */
const SAMPLE_BLOCKS = 32;
const SAMPLE_BYTES = 128 << 10;

/**
 * A file's size, SHA-256 and, with `gzip`, the size of its gzip compression at the default level (6).
 * The file is read once, streamed (a multi-GB model is never held), and not at all for the hash when
 * `sha256` is already known (the writer hashes what it writes). A file above GZIP_EXACT_UP_TO is not
 * compressed whole: SAMPLE_BLOCKS evenly spaced blocks are, one by one, and their ratio gives the estimate
 * (`gzipEstimated`, with the share of the file compressed) — compressing 400 MB takes 10 s, the samples
 * take a fraction of one. Compression runs on libuv's thread pool, so the calling thread stays free.
 */
export async function describeFile(
  file: string,
  options: { gzip?: boolean; sha256?: string; gzipExactUpTo?: number } = {},
): Promise<ReportFile> {
  const size = (await fs.promises.stat(file)).size;
  if (!options.gzip || size > (options.gzipExactUpTo ?? GZIP_EXACT_UP_TO)) {
    const [sha256, sampled] = await Promise.all([
      options.sha256 ?? hashFile(file),
      options.gzip ? sampledGzip(file, size) : undefined,
    ]);
    return {
      path: file,
      bytes: size,
      sha256,
      ...(sampled
        ? { gzipBytes: sampled.bytes, gzipEstimated: true, gzipSampledFraction: sampled.fraction }
        : {}),
    };
  }
  const whole = await streamFile(file);
  return { path: file, bytes: whole.bytes, sha256: whole.sha256, gzipBytes: whole.gzipBytes };
}

/** Reads a file once for its SHA-256 and its whole gzip size. */
async function streamFile(file: string): Promise<{ bytes: number; sha256: string; gzipBytes: number }> {
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
  await pipeline(read, tap, zlib.createGzip(), count);
  return { bytes, sha256: hash.digest('hex'), gzipBytes };
}

/** Block size of hashFile's two reused read buffers. */
const HASH_BLOCK = 4 << 20;

/**
 * A file's SHA-256, read through two reused buffers: the next block is read (on libuv's thread pool)
 * while this one is hashed, and no fresh buffer per block means no page faults for every megabyte.
 */
async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await fs.promises.open(file, 'r');
  try {
    const buffers = [Buffer.allocUnsafe(HASH_BLOCK), Buffer.allocUnsafe(HASH_BLOCK)];
    let position = 0;
    let pending = handle.read(buffers[0], 0, HASH_BLOCK, position);
    for (let i = 0; ; i ^= 1) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      position += bytesRead;
      pending = handle.read(buffers[i ^ 1], 0, HASH_BLOCK, position);
      hash.update(buffers[i].subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

const gzipAsync = promisify(zlib.gzip);

/** The gzip size of a large file estimated from evenly spaced blocks, and the share of it compressed. */
async function sampledGzip(file: string, size: number): Promise<{ bytes: number; fraction: number }> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const step = (size - SAMPLE_BYTES) / (SAMPLE_BLOCKS - 1);
    const sizes = await Promise.all(
      Array.from({ length: SAMPLE_BLOCKS }, async (_, i) => {
        const block = Buffer.allocUnsafe(SAMPLE_BYTES);
        const { bytesRead } = await handle.read(block, 0, SAMPLE_BYTES, Math.floor(i * step));
        return { raw: bytesRead, packed: (await gzipAsync(block.subarray(0, bytesRead))).length };
      }),
    );
    const raw = sizes.reduce((s, x) => s + x.raw, 0);
    const packed = sizes.reduce((s, x) => s + x.packed, 0);
    return { bytes: Math.round((packed / raw) * size), fraction: raw / size };
  } finally {
    await handle.close();
  }
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
