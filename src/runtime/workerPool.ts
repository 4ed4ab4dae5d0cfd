/**
 * A small pool of statistics worker threads (dist/worker.js), created on first use and shut down
 * after a while without work. Indexing requests jump the queue (an overview must show at once);
 * statistics are cut into batches that idle workers take in order, so both cores stay busy and a
 * cancelled job stops within one batch (a worker busy with a cancelled batch is terminated).
 */
import * as os from 'os';
import { Worker } from 'worker_threads';
import type { InspectReport } from '../core/inspect/inspectReport';
import { ChannelClosedError, Messenger } from '../protocol/messaging';
import type { FromWorker, TensorStatsResult, ToWorker } from '../protocol/worker';

export interface StatsJobProgress {
  done: number;
  total: number;
  bytesDone: number;
  bytesTotal: number;
  elapsedMs: number;
}

export interface StatsJobOptions {
  /** Histogram bins. */
  bins: number;
  /** Statistics (default) or sweeps (`stats/compute` with `what: 'sweep'`). */
  what?: 'stats' | 'sweep';
  /** Sweep block size along K. */
  blockSize?: number;
  /** Ahead of the queued batches (a sweep the user is waiting for). */
  urgent?: boolean;
  /** Behind every batch queued now or later (sweeps nobody waits for: another model's statistics go first). */
  background?: boolean;
  signal?: AbortSignal;
  /** Called for every tensor as soon as a worker has it. */
  onResult(result: TensorStatsResult): void;
  /** Called at most once per `progressIntervalMs`, and once at the end. */
  onProgress?(progress: StatsJobProgress): void;
  progressIntervalMs?: number;
}

/** A tensor to compute, with its stored size (to balance batches). */
export interface StatsTask {
  id: number;
  bytes: number;
}

export interface WorkerPoolOptions {
  /** Worker threads; default: every core, at most 4. */
  size?: number;
  /** Terminate idle workers after this long (default 60 s). */
  idleMs?: number;
  /** A batch ends after this many stored bytes (default 16 MiB) or tensors (default 256). */
  batchBytes?: number;
  batchTensors?: number;
}

/** Thrown by a job that was cancelled through its AbortSignal. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

interface PoolWorker {
  worker: Worker;
  messenger: Messenger<ToWorker, FromWorker>;
  busy: boolean;
  /** Receives `stats/tensor` events of the batch this worker runs. */
  onTensor?: (result: TensorStatsResult) => void;
  /** The job whose batch it runs (to terminate it on cancel). */
  job?: object;
}

interface Task {
  job?: object;
  /** Queued behind every other task (work nobody waits for). */
  background?: boolean;
  run(worker: PoolWorker): Promise<void>;
}

/** The default pool size: both cores of a dual-core machine, at most 4 threads. */
export function defaultPoolSize(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, cores));
}

export class WorkerPool {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Task[] = [];
  private readonly size: number;
  private readonly idleMs: number;
  private readonly batchBytes: number;
  private readonly batchTensors: number;
  private idleTimer?: ReturnType<typeof setTimeout>;
  private disposed = false;

  constructor(
    private readonly script: string,
    options: WorkerPoolOptions = {},
  ) {
    this.size = Math.max(1, options.size || defaultPoolSize());
    this.idleMs = options.idleMs ?? 60_000;
    this.batchBytes = options.batchBytes ?? 16 * 1024 * 1024;
    this.batchTensors = options.batchTensors ?? 256;
  }

  /** Worker threads alive now (they start on demand). */
  get threads(): number {
    return this.workers.length;
  }

  /** Worker threads running a task now. */
  get busyThreads(): number {
    return this.workers.filter((w) => w.busy).length;
  }

  /** Open the model in a worker and return its summary (tensors without stats). */
  index(
    path: string,
    key: string,
    signal?: AbortSignal,
  ): Promise<{ report: InspectReport; elapsedMs: number }> {
    return new Promise((resolve, reject) => {
      const job = {};
      const task: Task = {
        job,
        run: async (w) => {
          try {
            const answer = await w.messenger.request({ type: 'model/index', path, key }, 'model/indexed');
            resolve({ report: answer.report, elapsedMs: answer.elapsedMs });
          } catch (error) {
            reject(signal?.aborted ? new CancelledError() : error);
          }
        },
      };
      if (signal?.aborted) return reject(new CancelledError());
      signal?.addEventListener('abort', () => this.cancel(job), { once: true });
      this.schedule(task, true);
    });
  }

  /**
   * Compute statistics for `tensors` (in the given order). Resolves when every tensor has a result
   * (a tensor that fails gets one with `error`); rejects with CancelledError when `signal` aborts.
   */
  computeStats(path: string, key: string, tensors: StatsTask[], options: StatsJobOptions): Promise<void> {
    const job = {};
    const t0 = Date.now();
    const total = tensors.length;
    const bytesTotal = tensors.reduce((sum, t) => sum + t.bytes, 0);
    const bytesOf = new Map(tensors.map((t) => [t.id, t.bytes]));
    let done = 0;
    let bytesDone = 0;
    let lastProgress = 0;
    const interval = options.progressIntervalMs ?? 1000;
    const progress = (): StatsJobProgress => ({
      done,
      total,
      bytesDone,
      bytesTotal,
      elapsedMs: Date.now() - t0,
    });

    return new Promise<void>((resolve, reject) => {
      if (options.signal?.aborted) return reject(new CancelledError());
      let settled = false;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        if (error) reject(error);
        else {
          options.onProgress?.(progress());
          resolve();
        }
      };
      const deliver = (result: TensorStatsResult) => {
        if (settled) return;
        done++;
        bytesDone += bytesOf.get(result.id) ?? 0;
        options.onResult(result);
        const now = Date.now();
        if (options.onProgress && now - lastProgress >= interval && done < total) {
          lastProgress = now;
          options.onProgress(progress());
        }
        if (done === total) finish();
      };
      if (total === 0) return finish();
      options.signal?.addEventListener(
        'abort',
        () => {
          this.cancel(job);
          finish(new CancelledError());
        },
        { once: true },
      );
      const what = { what: options.what, blockSize: options.blockSize };
      for (const batch of this.batches(tensors)) {
        this.schedule({
          job,
          background: options.background,
          run: async (w) => {
            const pending = new Set(batch);
            w.onTensor = (result) => {
              if (!pending.delete(result.id)) return;
              deliver(result);
            };
            try {
              await w.messenger.request(
                { type: 'stats/compute', path, key, tensorIds: batch, bins: options.bins, ...what },
                'stats/computed',
              );
            } catch (error) {
              if (settled) return;
              // The worker died (or the model could not be opened): those tensors fail, the job goes on.
              const reason = error instanceof Error ? error.message : String(error);
              for (const id of pending) deliver({ id, error: reason });
            } finally {
              w.onTensor = undefined;
            }
          },
        });
      }
      if (options.urgent) this.hurry(job);
    });
  }

  /** Move the job's queued batches ahead of the others (a worker that is idle has started them already). */
  private hurry(job: object): void {
    const mine = this.queue.filter((t) => t.job === job);
    const others = this.queue.filter((t) => t.job !== job);
    this.queue.splice(0, this.queue.length, ...mine, ...others);
  }

  /** Let every worker forget the model opened under `key`. */
  close(key: string): void {
    for (const w of this.workers) w.messenger.post({ type: 'model/close', key });
  }

  dispose(): void {
    this.disposed = true;
    this.queue.length = 0;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const w of [...this.workers]) this.terminate(w, 'worker pool disposed');
  }

  private *batches(tensors: StatsTask[]): Generator<number[]> {
    let batch: number[] = [];
    let bytes = 0;
    for (const t of tensors) {
      if (batch.length > 0 && (bytes + t.bytes > this.batchBytes || batch.length >= this.batchTensors)) {
        yield batch;
        batch = [];
        bytes = 0;
      }
      batch.push(t.id);
      bytes += t.bytes;
    }
    if (batch.length) yield batch;
  }

  private schedule(task: Task, first = false): void {
    if (this.disposed) throw new ChannelClosedError('worker pool disposed');
    const firstBackground = task.background ? -1 : this.queue.findIndex((t) => t.background);
    if (first) this.queue.unshift(task);
    else if (firstBackground >= 0) this.queue.splice(firstBackground, 0, task);
    else this.queue.push(task);
    this.pump();
  }

  private pump(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    while (this.queue.length > 0) {
      const w = this.idleWorker();
      if (!w) return;
      const task = this.queue.shift()!;
      w.busy = true;
      w.job = task.job;
      // Busy workers keep the process alive (the CLI awaits them); idle ones must not.
      w.worker.ref();
      void task.run(w).finally(() => {
        w.busy = false;
        w.job = undefined;
        w.worker.unref();
        this.pump();
      });
    }
    if (!this.disposed && this.workers.every((w) => !w.busy)) {
      this.idleTimer = setTimeout(() => this.disposeIdle(), this.idleMs);
      this.idleTimer.unref?.();
    }
  }

  private disposeIdle(): void {
    if (this.queue.length === 0 && this.workers.every((w) => !w.busy)) {
      for (const w of [...this.workers]) this.terminate(w, 'idle');
    }
  }

  private idleWorker(): PoolWorker | undefined {
    const idle = this.workers.find((w) => !w.busy);
    if (idle) return idle;
    if (this.workers.length < this.size) return this.spawn();
    return undefined;
  }

  private spawn(): PoolWorker {
    const worker = new Worker(this.script);
    const w: PoolWorker = {
      worker,
      busy: false,
      messenger: new Messenger<ToWorker, FromWorker>(
        (m) => worker.postMessage(m),
        (m) => {
          if (m.type === 'stats/tensor') w.onTensor?.(m.result);
        },
      ),
    };
    worker.on('message', (m: FromWorker) => w.messenger.receive(m));
    worker.on('error', (e) => this.terminate(w, `worker failed: ${e.message}`));
    worker.on('exit', (code) => this.terminate(w, `worker exited with code ${code}`));
    worker.unref();
    this.workers.push(w);
    return w;
  }

  /** Drop the job's queued batches and stop the workers that run one of them. */
  private cancel(job: object): void {
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].job === job) this.queue.splice(i, 1);
    for (const w of [...this.workers]) if (w.job === job && w.busy) this.terminate(w, 'cancelled');
  }

  private terminate(w: PoolWorker, reason: string): void {
    const i = this.workers.indexOf(w);
    if (i < 0) return;
    this.workers.splice(i, 1);
    w.messenger.close(reason);
    void w.worker.terminate();
  }
}
