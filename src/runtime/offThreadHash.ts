import { Worker } from 'node:worker_threads';
import { workerScript } from './workerScript';

/** What dist/hashWorker.js is given (as workerData): the buffers chunks are hashed from. */
export interface HashJob {
  buffers: SharedArrayBuffer[];
  /** Where in each buffer its chunks start (0 when absent). */
  offsets?: number[];
}
export type ToHashWorker = { type: 'hash/chunk'; slot: number; length: number } | { type: 'hash/digest' };
export type FromHashWorker = { type: 'hash/hashed'; slot: number } | { type: 'hash/digest'; sha256: string };

/**
 * SHA-256 on a worker thread (dist/hashWorker.js) over chunks the caller leaves in shared buffers: the
 * writer of a large file fills one buffer while the worker hashes another and the thread pool writes a
 * third, so hashing costs the writing thread nothing. Chunks are hashed in the order given.
 */
export class OffThreadHash {
  private readonly worker: Worker;
  private readonly waiting: ((m: FromHashWorker) => void)[] = [];
  private failure: Error | undefined;

  constructor(buffers: SharedArrayBuffer[], offsets?: number[]) {
    this.worker = new Worker(workerScript('hashWorker.js'), {
      workerData: { buffers, offsets } satisfies HashJob,
    });
    this.worker.on('message', (m: FromHashWorker) => this.waiting.shift()?.(m));
    const fail = (e: Error) => {
      this.failure = e;
      for (const w of this.waiting.splice(0)) w({ type: 'hash/hashed', slot: -1 });
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      if (this.waiting.length > 0) fail(new Error(`the hashing worker exited with code ${code}`));
    });
  }

  /** Hashes `length` bytes of buffer `slot` (from its offset); resolves once the buffer may be reused. */
  update(slot: number, length: number): Promise<void> {
    return this.ask({ type: 'hash/chunk', slot, length }).then(() => undefined);
  }

  /** The digest (hex) of everything hashed; the worker then ends. */
  async digest(): Promise<string> {
    const m = await this.ask({ type: 'hash/digest' });
    if (m.type !== 'hash/digest') throw new Error('the hashing worker answered out of turn');
    return m.sha256;
  }

  /** Stops the worker (after a failed write). */
  dispose(): void {
    void this.worker.terminate();
  }

  private ask(message: ToHashWorker): Promise<FromHashWorker> {
    return new Promise((resolve, reject) => {
      this.waiting.push((m) => (this.failure ? reject(this.failure) : resolve(m)));
      this.worker.postMessage(message);
    });
  }
}
