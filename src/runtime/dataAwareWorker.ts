/**
 * Entry of the data-aware quantization worker thread (bundled to dist/dataAwareWorker.js): collects the
 * calibration activations' Gram matrices in onnxruntime-node, or quantizes layers with them (search,
 * GPTQ), so neither the CLI's progress and Ctrl+C nor the extension host ever wait on the numbers.
 */
import { parentPort } from 'node:worker_threads';
import { ModelError } from '../core/errors';
import { pruneDataAware } from '../core/prune/dataAwarePrune';
import { quantizeDataAware } from '../core/quant/dataAwareQuantize';
import { CaptureCancelledError, captureActivations } from './captureActivations';
import { captureInSegments, SegmentsUnsupportedError } from './captureInSegments';
import type { FromDataAwareWorker, ToDataAwareWorker } from './dataAwareProtocol';
import { NpyError } from './readNpy';
import { ortProducts } from './ortProducts';

const port = parentPort;
if (!port) throw new Error('dataAwareWorker.js runs as a worker thread');
const post = (message: FromDataAwareWorker, transfer: ArrayBuffer[] = []) =>
  port.postMessage(message, transfer);

function fail(e: unknown): void {
  if (e instanceof CaptureCancelledError) post({ type: 'cancelled' });
  else if (e instanceof ModelError || e instanceof NpyError)
    post({ type: 'error', file: e.file, reason: e.reason });
  else post({ type: 'error', file: '', reason: (e as Error)?.message ?? String(e) });
}

/** A solver's row progress for job `id`, posted at most every half second. */
function rowProgress(id: number): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (now - last < 500) return;
    last = now;
    post({ type: 'solve/rows', id, done, total });
  };
}

/**
 * The solvers' products, in ONNX Runtime on one thread: solveAll runs a worker per core, each solving one
 * layer at a time (it sends the next request only after the answer).
 */
const products = ortProducts(1);

/** The part-by-part capture this worker runs, resumed by each `captureSegments/next`. */
let nextPart: (() => void) | undefined;

port.on('message', (m: ToDataAwareWorker) => {
  switch (m.type) {
    case 'captureSegments': {
      const flag = new Int32Array(m.cancelFlag);
      const parts = captureInSegments(m.modelPath, m.groups, m.options, m.heldOut, {
        cancelled: () => Atomics.load(flag, 0) !== 0,
        onBatch: (done, total, part, count) =>
          post({ type: 'capture/batch', done, total, part, parts: count }),
      });
      nextPart = () =>
        void parts
          .next()
          .then((r) => {
            if (r.done) {
              post({ type: 'captureSegments/done' });
              port.close();
              return;
            }
            const grams = [...r.value.captured.grams, ...r.value.heldOut];
            post(
              { type: 'captureSegments/part', capture: r.value },
              grams.map((g) => g.gram.buffer as ArrayBuffer),
            );
          })
          .catch((e: unknown) => {
            if (e instanceof SegmentsUnsupportedError)
              post({ type: 'captureSegments/unsupported', reason: e.reason });
            else fail(e);
            port.close();
          });
      nextPart();
      return;
    }
    case 'captureSegments/next':
      nextPart?.();
      return;
    case 'capture': {
      const flag = new Int32Array(m.cancelFlag);
      captureActivations(m.modelPath, m.targets, m.options, {
        cancelled: () => Atomics.load(flag, 0) !== 0,
        onBatch: (done, total) => post({ type: 'capture/batch', done, total }),
      })
        .then((result) =>
          post(
            { type: 'capture/result', result },
            result.grams.map((g) => g.gram.buffer as ArrayBuffer),
          ),
        )
        .catch(fail)
        .finally(() => port.close());
      return;
    }
    case 'solve':
      quantizeDataAware(
        m.weight,
        m.K,
        m.N,
        m.options,
        m.layout,
        m.alpha,
        m.gram,
        m.method,
        rowProgress(m.id),
        m.rows,
        m.heldOutGram,
        products,
      )
        .then((layer) => {
          const w = layer.weight;
          const buffers = [w.b, w.scales, w.scaleBytes, ...(w.zeroPoints ? [w.zeroPoints] : [])].map(
            (a) => a.buffer as ArrayBuffer,
          );
          post({ type: 'solve/result', id: m.id, layer }, [...new Set(buffers)]);
        })
        .catch(fail);
      return;
    case 'prune':
      pruneDataAware(
        m.method,
        m.weight,
        m.K,
        m.N,
        m.layout,
        m.gram,
        m.rule,
        rowProgress(m.id),
        m.rows,
        m.heldOutGram,
        products,
      )
        .then((layer) =>
          post({ type: 'prune/result', id: m.id, layer }, [
            layer.values.buffer as ArrayBuffer,
            layer.keep.buffer as ArrayBuffer,
          ]),
        )
        .catch(fail);
      return;
    default: {
      const never: never = m;
      post({ type: 'error', file: '', reason: `unknown message ${JSON.stringify(never)}` });
    }
  }
});
