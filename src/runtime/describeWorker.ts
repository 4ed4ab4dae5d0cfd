/**
 * Entry of the file-describing worker thread (bundled to dist/describeWorker.js): describes the files it
 * is given (size, SHA-256, optionally gzip size), posts them once, and ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type DescribeJob, describeFile, type FromDescribeWorker } from './describeFiles';

const port = parentPort;
if (!port) throw new Error('describeWorker.js runs as a worker thread');
const post = (message: FromDescribeWorker) => port.postMessage(message);
const job = workerData as DescribeJob;

// All files at once: the hashing interleaves with zlib, which compresses on libuv's thread pool.
Promise.all(job.files.map((file) => describeFile(file, { gzip: job.gzip })))
  .then((files) => post({ type: 'files/described', files }))
  .catch((e: unknown) => post({ type: 'error', reason: (e as Error)?.message ?? String(e) }))
  .finally(() => port.close());
