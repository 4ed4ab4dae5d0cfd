import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/** A file's size and SHA-256, as the reports list them. */
export interface FileDigest {
  path: string;
  bytes: number;
  sha256: string;
}

/** SHA-256 of a file, read 8 MiB at a time. */
export function hashFile(file: string): FileDigest {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
    return { path: file, bytes: fs.fstatSync(fd).size, sha256: hash.digest('hex') };
  } finally {
    fs.closeSync(fd);
  }
}

// The worker's whole program: hash the files it is given and post the digests (or the error).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
try {
  parentPort.postMessage({ digests: workerData.map((file) => {
    const hash = createHash('sha256');
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(8 << 20);
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
      return { path: file, bytes: fs.fstatSync(fd).size, sha256: hash.digest('hex') };
    } finally { fs.closeSync(fd); }
  }) });
} catch (e) { parentPort.postMessage({ error: String(e && e.message || e) }); }
`;

/**
 * Hashes files on a worker thread, so a transform's input files are hashed while the main thread
 * quantizes (the inputs do not change during the run). Rejects with the first error.
 */
export function hashFilesInWorker(files: string[]): Promise<FileDigest[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: files });
    worker.once('message', (m: { digests?: FileDigest[]; error?: string }) =>
      m.digests ? resolve(m.digests) : reject(new Error(m.error)),
    );
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the hashing worker exited with code ${code}`)));
  });
}
