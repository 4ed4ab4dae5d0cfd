import { Worker } from 'node:worker_threads';
import { ModelError } from '../core/errors';
import {
  type DataAwareLayer,
  GPTQ_MIN_ROWS_PER_K,
  layerSqnrDb,
  type QuantMethod,
} from '../core/quant/dataAwareQuantize';
import type { DataAwareRow } from '../core/quant/quantizeReport';
import {
  matMulNBitsUses,
  type MatMulNBitsUse,
  type QuantizeOptions,
  readFloat32,
  type WeightQuantizer,
} from '../core/quant/planQuantize';
import { DataType } from '../core/tensor/dataType';
import type { ActivationGram, CalibrationOptions, CaptureResult } from './captureActivations';
import type { FromDataAwareWorker, SolveRequest, ToDataAwareWorker } from './dataAwareProtocol';
import type { OpenedModel } from './openModel';
import { defaultPoolSize } from './workerPool';
import { workerScript } from './workerScript';
import { disableOrtTelemetry } from './loadOrt';

/** Synthesized evaluation batches whose activations judge each layer held out (seeds 1, 2, …). */
const HELD_OUT_BATCHES = 8;

/** The data-aware codes, ready for planQuantize, and what they gained. */
export interface DataAwarePlan {
  quantizer: WeightQuantizer;
  rows: DataAwareRow[];
  /** What the calibration ran on. */
  calibration: string;
  /** Weights left to round-to-nearest, and why. */
  uncovered: { name: string; reason: string }[];
}

export class DataAwareCancelledError extends Error {
  constructor() {
    super('data-aware quantization cancelled');
    this.name = 'DataAwareCancelledError';
  }
}

export interface DataAwareJob {
  signal?: AbortSignal;
  onProgress?(message: string): void;
  /** The worker script (default: dist/dataAwareWorker.js beside the running bundle). */
  workerScript?: string;
}

/**
 * Chooses data-aware codes for every weight `quantize` would turn into MatMulNBits: collects XᵀX of the
 * activations each one multiplies on the calibration inputs (one worker thread running onnxruntime-node),
 * then quantizes the layers with `method` on a few worker threads (both cores), the largest first. A
 * weight read by several nodes gets the sum of their Gram matrices (its error shows in each). Weights whose
 * activation could not be collected stay round-to-nearest and are listed. `signal` stops the capture
 * between batches and the solves at once (the promise then rejects with DataAwareCancelledError).
 */
export async function planDataAware(
  model: OpenedModel,
  options: QuantizeOptions,
  method: QuantMethod,
  calibration: CalibrationOptions,
  job: DataAwareJob = {},
): Promise<DataAwarePlan> {
  const script = job.workerScript ?? workerScript('dataAwareWorker.js');
  const uses = matMulNBitsUses(model.index, options);
  const targets = [
    ...new Map(
      uses.map((u) => [u.activation, { name: u.activation, K: u.K, elemType: u.tensor.dtype }]),
    ).values(),
  ];
  const rowsPerK = method === 'gptq' ? GPTQ_MIN_ROWS_PER_K : 1;
  const captured = await capture(script, model.path, targets, { rowsPerK, ...calibration }, job);
  const grams = new Map(captured.grams.map((g) => [g.name, g]));
  // Held-out rows: activations of the evaluation inputs (the verification's seeds), never calibrated on.
  const heldOut = calibration.inputsDir
    ? new Map<string, ActivationGram>()
    : new Map(
        (
          await capture(
            script,
            model.path,
            targets,
            { ...calibration, batches: HELD_OUT_BATCHES, seedBase: 1 },
            job,
          )
        ).grams.map((g) => [g.name, g]),
      );
  const uncovered = [...captured.missing];

  // One job per weight and layout (what planQuantize quantizes once).
  const jobs = new Map<string, { use: MatMulNBitsUse; grams: ActivationGram[] }>();
  const partial = new Set<string>();
  for (const u of uses) {
    const g = grams.get(u.activation);
    const key = keyOf(u.tensor.id, u.layout, u.alpha);
    if (!g || g.K !== u.K) {
      uncovered.push({ name: u.tensor.name, reason: `activation ${u.activation} was not collected` });
      partial.add(key);
      continue;
    }
    const entry = jobs.get(key) ?? { use: u, grams: [] };
    if (!entry.grams.includes(g)) entry.grams.push(g);
    jobs.set(key, entry);
  }
  const requests: SolveRequest[] = [];
  const meta: { key: string; use: MatMulNBitsUse; rows: number }[] = [];
  for (const [key, { use, grams: gs }] of jobs) {
    if (partial.has(key)) continue; // one of its readers' activations is unknown: round to nearest
    const values = readFloat32(use.tensor, model.source, model.resolveExternal);
    if (!values) continue; // NaN or infinite: planQuantize skips it
    // A copy: the reader may hand out a buffer it reuses for the next large tensor.
    const weight = Float32Array.from(values);
    const gram = Float64Array.from(gs[0].gram);
    for (const g of gs.slice(1)) for (let i = 0; i < gram.length; i++) gram[i] += g.gram[i];
    const blockwise = {
      bits: options.bits,
      blockSize: options.blockSize,
      symmetric: options.symmetric,
      scaleType: use.tensor.dtype === DataType.FLOAT16 ? ('float16' as const) : ('float32' as const),
    };
    const { K, N, layout, alpha } = use;
    const rows = gs.reduce((s, g) => s + g.rows, 0);
    const held = gs.map((g) => heldOut.get(g.name));
    let heldOutGram: Float64Array | undefined;
    if (held.every((g) => g && g.K === use.K)) {
      heldOutGram = Float64Array.from(held[0]!.gram);
      for (const g of held.slice(1))
        for (let i = 0; i < heldOutGram.length; i++) heldOutGram[i] += g!.gram[i];
    }
    requests.push({
      ...(heldOutGram ? { heldOutGram } : {}),
      type: 'solve',
      id: meta.length,
      weight,
      K,
      N,
      layout,
      alpha,
      gram,
      rows,
      options: blockwise,
      method,
    });
    meta.push({ key, use, rows });
  }
  const layers = await solveAll(script, requests, job, (id) => meta[id].use.tensor.name);
  const byKey = new Map<string, DataAwareLayer>();
  const rows: DataAwareRow[] = [];
  layers.forEach((layer, id) => {
    const { key, use, rows: n } = meta[id];
    byKey.set(key, layer);
    const rtnSqnrDb = round(layerSqnrDb(layer.signal, layer.rtnError));
    const sqnrDb = round(layerSqnrDb(layer.signal, layer.error));
    rows.push({
      name: use.tensor.name,
      layout: use.layout,
      K: use.K,
      N: use.N,
      rows: n,
      kept: layer.kept,
      ...(layer.fallback ? { fallback: layer.fallback } : {}),
      rtnSqnrDb,
      sqnrDb,
      gainDb: round(sqnrDb - rtnSqnrDb),
    });
  });
  return {
    quantizer: (t, layout, alpha) => byKey.get(keyOf(t.id, layout, alpha))?.weight,
    rows,
    calibration: captured.calibration,
    uncovered,
  };
}

function keyOf(tensorId: number, layout: string, alpha: number): string {
  return `${tensorId}:${layout}:${alpha}`;
}

/** Runs the capture on its own worker thread. */
function capture(
  script: string,
  modelPath: string,
  targets: { name: string; K: number; elemType: number }[],
  options: CalibrationOptions,
  job: DataAwareJob,
): Promise<CaptureResult> {
  if (job.signal?.aborted) return Promise.reject(new DataAwareCancelledError());
  disableOrtTelemetry(); // before the worker loads onnxruntime-node
  const worker = new Worker(script);
  const cancelFlag = new SharedArrayBuffer(4);
  const onAbort = () => Atomics.store(new Int32Array(cancelFlag), 0, 1);
  job.signal?.addEventListener('abort', onAbort, { once: true });
  return new Promise<CaptureResult>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      job.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    worker.on('message', (m: FromDataAwareWorker) => {
      if (m.type === 'capture/batch') job.onProgress?.(`calibrating: batch ${m.done}/${m.total}`);
      else if (m.type === 'capture/result') settle(() => resolve(m.result));
      else if (m.type === 'cancelled') settle(() => reject(new DataAwareCancelledError()));
      else if (m.type === 'error') settle(() => reject(errorOf(m)));
    });
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) =>
      settle(() => reject(new Error(`the calibration worker exited (code ${code}) without an answer`))),
    );
    const request: ToDataAwareWorker = { type: 'capture', modelPath, targets, options, cancelFlag };
    worker.postMessage(request);
  });
}

/**
 * Solves every layer on up to defaultPoolSize() worker threads, the largest (K²·N) first so the last to
 * finish is a small one; answers in request order.
 */
async function solveAll(
  script: string,
  requests: SolveRequest[],
  job: DataAwareJob,
  nameOf: (id: number) => string,
): Promise<DataAwareLayer[]> {
  const results: DataAwareLayer[] = new Array(requests.length);
  const queue = [...requests].sort((a, b) => b.K * b.K * b.N - a.K * a.K * a.N);
  const size = Math.min(defaultPoolSize(), queue.length);
  const workers: Worker[] = [];
  let done = 0;
  let failure: Error | undefined;
  const stop = () => {
    failure ??= new DataAwareCancelledError();
    for (const w of workers) void w.terminate();
  };
  if (job.signal?.aborted) throw new DataAwareCancelledError();
  job.signal?.addEventListener('abort', stop, { once: true });
  const runWorker = (worker: Worker) =>
    new Promise<void>((resolve) => {
      const next = () => {
        const request = failure ? undefined : queue.shift();
        if (!request) {
          void worker.terminate();
          return resolve();
        }
        const transfer = [request.weight.buffer as ArrayBuffer, request.gram.buffer as ArrayBuffer];
        worker.postMessage(request, transfer);
      };
      worker.on('message', (m: FromDataAwareWorker) => {
        if (m.type === 'solve/rows')
          job.onProgress?.(
            `quantizing ${nameOf(m.id)}: row ${m.done}/${m.total} (${done}/${requests.length} layers done)`,
          );
        else if (m.type === 'solve/result') {
          results[m.id] = m.layer;
          done++;
          job.onProgress?.(`quantized ${done}/${requests.length} layers (${nameOf(m.id)})`);
          next();
        } else if (m.type === 'error') {
          failure ??= errorOf(m);
          stop();
          resolve();
        }
      });
      worker.on('error', (e) => {
        failure ??= e;
        stop();
        resolve();
      });
      worker.on('exit', () => resolve());
      next();
    });
  try {
    disableOrtTelemetry(); // before the worker loads onnxruntime-node
    for (let i = 0; i < size; i++) workers.push(new Worker(script));
    await Promise.all(workers.map(runWorker));
  } finally {
    job.signal?.removeEventListener('abort', stop);
  }
  if (failure) throw failure;
  if (done !== requests.length) throw new Error(`${requests.length - done} layers got no answer`);
  return results;
}

function errorOf(m: { file: string; reason: string }): Error {
  return m.file ? new ModelError(m.file, m.reason) : new Error(m.reason);
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;
}
