import { Worker } from 'node:worker_threads';
import { ModelError } from '../core/errors';
import type {
  FromSensitivityWorker,
  LayerMeasurement,
  MeasureJob,
  SensitivityOpenMessage,
  SensitivityReferenceMessage,
  ToSensitivityWorker,
} from './sensitivityProtocol';
import { workerScript } from './workerScript';
import { disableOrtTelemetry } from './loadOrt';

export class SensitivityCancelledError extends Error {
  constructor() {
    super('sensitivity run cancelled');
    this.name = 'SensitivityCancelledError';
  }
}

/** Progress and cancellation of one batch of candidates. */
export interface MeasureControl {
  /** After each candidate, in completion order (not after a cancel). */
  onResult?(done: number, total: number, job: MeasureJob, result: LayerMeasurement): void;
  /** Checked before each candidate is handed out: aborted stops with a SensitivityCancelledError. */
  signal?: AbortSignal;
}

/** Worker threads that each hold the model open and measure candidates against the cached outputs. */
export interface SensitivityPool {
  readonly size: number;
  /** The inputs and the original's outputs: send once, before the first measure. */
  setReference(r: Omit<SensitivityReferenceMessage, 'type'>): void;
  /** Measures every job, on whichever worker is free; results in the jobs' order. */
  measure(jobs: readonly MeasureJob[], control?: MeasureControl): Promise<LayerMeasurement[]>;
  close(): Promise<void>;
}

/**
 * Starts `size` sensitivity workers on the same model (setReference then gives them the inputs and the
 * original's outputs). Candidates are handed out one at a time to the first free worker (their cost varies
 * with the layer), so two workers keep two cores busy; each worker's onnxruntime uses `open.threads`
 * intra-op threads. A cancel stops handing out
 * jobs and waits for the ones running (a native session.run cannot be interrupted, and terminating a
 * thread inside it would abort the process). Workers stay up between batches (shrink measures lazily).
 */
export function openSensitivityPool(
  open: Omit<SensitivityOpenMessage, 'type'>,
  size: number,
  script = workerScript('sensitivityWorker.js'),
): SensitivityPool {
  const workers = Array.from({ length: Math.max(1, size) }, () => {
    disableOrtTelemetry(); // before the worker loads onnxruntime-node
    const w = new Worker(script);
    const send = (m: ToSensitivityWorker) => w.postMessage(m);
    send({ type: 'sensitivity/open', ...open });
    return { w, send };
  });
  let closed = false;
  let busy = false;
  return {
    size: workers.length,
    setReference(r) {
      for (const { send } of workers) send({ type: 'sensitivity/reference', ...r });
    },
    measure(jobs, control = {}) {
      if (closed) return Promise.reject(new Error('sensitivity pool is closed'));
      if (busy) return Promise.reject(new Error('sensitivity pool runs one batch at a time'));
      busy = true;
      return new Promise<LayerMeasurement[]>((resolve, reject) => {
        const results: LayerMeasurement[] = new Array(jobs.length);
        let next = 0;
        let done = 0;
        let running = 0;
        let failure: Error | undefined;
        const listeners: Array<() => void> = [];
        const finish = () => {
          if (running > 0) return;
          for (const off of listeners) off();
          busy = false;
          if (failure) reject(failure);
          else if (control.signal?.aborted && done < jobs.length) reject(new SensitivityCancelledError());
          else resolve(results);
        };
        const feed = (k: number) => {
          if (failure || control.signal?.aborted || next >= jobs.length) return finish();
          const id = next++;
          running++;
          workers[k].send({ type: 'sensitivity/measure', id, job: jobs[id] });
        };
        workers.forEach(({ w }, k) => {
          const onMessage = (m: FromSensitivityWorker) => {
            running--;
            if (m.type === 'error') {
              failure ??= m.file ? new ModelError(m.file, m.reason) : new Error(m.reason);
            } else {
              results[m.id] = m.result;
              done++;
              if (!control.signal?.aborted) control.onResult?.(done, jobs.length, jobs[m.id], m.result);
            }
            feed(k);
          };
          const onError = (e: Error) => {
            failure ??= e;
            running = 0;
            finish();
          };
          const onExit = (code: number) => onError(new Error(`a sensitivity worker exited (code ${code})`));
          w.on('message', onMessage);
          w.on('error', onError);
          w.on('exit', onExit);
          listeners.push(() => {
            w.off('message', onMessage);
            w.off('error', onError);
            w.off('exit', onExit);
          });
        });
        if (jobs.length === 0) return finish();
        for (let k = 0; k < workers.length; k++) feed(k);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(
        workers.map(
          ({ w, send }) =>
            new Promise<void>((resolve) => {
              w.once('exit', () => resolve());
              send({ type: 'sensitivity/close' });
            }),
        ),
      );
    },
  };
}
