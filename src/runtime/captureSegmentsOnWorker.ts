import { Worker } from 'node:worker_threads';
import type { ActivationTarget, CalibrationOptions } from './captureActivations';
import { type SegmentCapture, SegmentsUnsupportedError } from './captureInSegments';
import { DataAwareCancelledError, errorOf } from './dataAwareErrors';
import type { FromDataAwareWorker, ToDataAwareWorker } from './dataAwareProtocol';
import { disableOrtTelemetry } from './loadOrt';

/**
 * captureInSegments on its own worker thread: yields each part's captured group, and the worker runs the
 * next part only when the caller asks for it (its values kept meanwhile), so the caller's solves have the
 * cores. Throws SegmentsUnsupportedError before the first part when the model cannot be cut (the caller
 * then captures group by group), DataAwareCancelledError when `signal` stops it between batches.
 */
export async function* captureSegmentsOnWorker(
  script: string,
  modelPath: string,
  groups: ActivationTarget[][],
  options: CalibrationOptions,
  heldOut: { batches: number; seedBase: number } | undefined,
  job: { signal?: AbortSignal; onProgress?(message: string): void },
): AsyncGenerator<SegmentCapture> {
  if (job.signal?.aborted) throw new DataAwareCancelledError();
  disableOrtTelemetry(); // before the worker loads onnxruntime-node
  const worker = new Worker(script);
  const cancelFlag = new SharedArrayBuffer(4);
  const onAbort = () => Atomics.store(new Int32Array(cancelFlag), 0, 1);
  job.signal?.addEventListener('abort', onAbort, { once: true });
  type Answer = FromDataAwareWorker | { type: 'exit'; code: number } | { type: 'crash'; error: Error };
  const answers: Answer[] = [];
  let wake: (() => void) | undefined;
  const push = (a: Answer) => {
    answers.push(a);
    wake?.();
  };
  worker.on('message', (m: FromDataAwareWorker) => {
    if (m.type === 'capture/batch')
      job.onProgress?.(`calibrating part ${(m.part ?? 0) + 1}/${m.parts ?? 1}: batch ${m.done}/${m.total}`);
    else push(m);
  });
  worker.on('error', (error) => push({ type: 'crash', error }));
  worker.on('exit', (code) => push({ type: 'exit', code }));
  const next = async (): Promise<Answer> => {
    while (answers.length === 0) await new Promise<void>((r) => (wake = r));
    return answers.shift()!;
  };
  const send = (m: ToDataAwareWorker) => worker.postMessage(m);
  try {
    send({ type: 'captureSegments', modelPath, groups, options, heldOut, cancelFlag });
    for (;;) {
      const a = await next();
      switch (a.type) {
        case 'captureSegments/part':
          yield a.capture;
          send({ type: 'captureSegments/next' });
          break;
        case 'captureSegments/done':
          return;
        case 'captureSegments/unsupported':
          throw new SegmentsUnsupportedError(a.reason);
        case 'cancelled':
          throw new DataAwareCancelledError();
        case 'error':
          throw errorOf(a);
        case 'crash':
          throw a.error;
        case 'exit':
          throw new Error(`the calibration worker exited (code ${a.code}) without an answer`);
      }
    }
  } finally {
    job.signal?.removeEventListener('abort', onAbort);
    await worker.terminate();
  }
}
