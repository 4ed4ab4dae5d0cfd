import { Worker } from 'node:worker_threads';
import { ModelError } from '../core/errors';
import { type VerifyOptions, type VerifyResult, VerifyCancelledError } from './verifyModels';
import type { FromVerifyWorker, ToVerifyWorker } from './verifyProtocol';
import { workerScript } from './workerScript';
import { disableOrtTelemetry } from './loadOrt';

/** What a verification is doing, reported about once a second. */
export interface VerifyProgress {
  phase: string;
  elapsedMs: number;
  /** "running the candidate 3/6 (4 s)". */
  message: string;
}

export interface VerifyJobOptions {
  signal?: AbortSignal;
  onProgress?(progress: VerifyProgress): void;
  progressIntervalMs?: number;
  /** The worker script (default: dist/verifyWorker.js beside the bundle that runs). */
  workerScript?: string;
}

export { VerifyCancelledError };

/**
 * Runs verifyModels on a worker thread, so the calling thread (the extension host, the CLI's progress
 * and Ctrl+C) stays responsive. Progress about once a second; `signal` cancels between steps (the native
 * session.run cannot be interrupted, and terminating a thread inside it aborts the process, so the worker
 * finishes the current load or run, releases its sessions and exits): the promise then rejects with
 * VerifyCancelledError. Problems with the inputs reject with a ModelError naming the file.
 */
export function verifyInWorker(
  original: string,
  candidate: string,
  options: VerifyOptions,
  job: VerifyJobOptions = {},
): Promise<VerifyResult> {
  const { signal, onProgress } = job;
  if (signal?.aborted) return Promise.reject(new VerifyCancelledError());
  disableOrtTelemetry(); // before the worker loads onnxruntime-node
  const worker = new Worker(job.workerScript ?? workerScript('verifyWorker.js'));
  const cancelFlag = new SharedArrayBuffer(4);
  const flag = new Int32Array(cancelFlag);
  const t0 = performance.now();
  let phase = 'starting';
  let phaseStart = t0;
  const report = () => {
    const elapsedMs = performance.now() - t0;
    const inPhase = Math.round((performance.now() - phaseStart) / 1000);
    onProgress?.({
      phase,
      elapsedMs,
      message: `verifying: ${phase}${inPhase >= 1 ? ` (${inPhase} s)` : ''}`,
    });
  };
  const timer = onProgress ? setInterval(report, job.progressIntervalMs ?? 1000) : undefined;
  timer?.unref();
  const onAbort = () => Atomics.store(flag, 0, 1);
  signal?.addEventListener('abort', onAbort, { once: true });

  return new Promise<VerifyResult>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (timer) clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    worker.on('message', (message: FromVerifyWorker) => {
      switch (message.type) {
        case 'verify/phase':
          phase = message.phase;
          phaseStart = performance.now();
          return;
        case 'verify/result':
          return settle(() => resolve(message.result));
        case 'verify/cancelled':
          return settle(() => reject(new VerifyCancelledError()));
        case 'error':
          return settle(() =>
            reject(message.file ? new ModelError(message.file, message.reason) : new Error(message.reason)),
          );
        default: {
          const never: never = message;
          return settle(() => reject(new Error(`unexpected message ${JSON.stringify(never)}`)));
        }
      }
    });
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) =>
      settle(() => reject(new Error(`the verification worker exited (code ${code}) without an answer`))),
    );
    const run: ToVerifyWorker = { type: 'verify/run', original, candidate, options, cancelFlag };
    worker.postMessage(run);
  });
}
