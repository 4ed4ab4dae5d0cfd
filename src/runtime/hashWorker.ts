/**
 * Entry of the hashing worker thread (bundled to dist/hashWorker.js): SHA-256 of a file being written,
 * fed chunk by chunk from shared buffers (no copies), so the writing thread does not spend its time
 * hashing. Answers each chunk once hashed (the buffer may be reused) and the digest at the end.
 */
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromHashWorker, HashJob, ToHashWorker } from './offThreadHash';

const port = parentPort;
if (!port) throw new Error('hashWorker.js runs as a worker thread');
const job = workerData as HashJob;
const views = job.buffers.map((b, i) => new Uint8Array(b, job.offsets?.[i] ?? 0));
const hash = createHash('sha256');
const post = (message: FromHashWorker) => port.postMessage(message);

port.on('message', (m: ToHashWorker) => {
  switch (m.type) {
    case 'hash/chunk':
      hash.update(views[m.slot].subarray(0, m.length));
      post({ type: 'hash/hashed', slot: m.slot });
      break;
    case 'hash/digest':
      post({ type: 'hash/digest', sha256: hash.digest('hex') });
      port.close();
      break;
    default: {
      const never: never = m;
      throw new Error(`unknown message ${JSON.stringify(never)}`);
    }
  }
});
