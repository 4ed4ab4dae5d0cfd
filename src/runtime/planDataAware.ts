import { Worker } from 'node:worker_threads';
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
import { inGraphOrder } from '../core/quant/captureSegments';
import { DataType } from '../core/tensor/dataType';
import type { ActivationGram, CalibrationOptions, CaptureResult } from './captureActivations';
import type {
  FromDataAwareWorker,
  PruneSolveRequest,
  SolveRequest,
  ToDataAwareWorker,
} from './dataAwareProtocol';
import { SegmentsUnsupportedError } from './captureInSegments';
import { captureSegmentsOnWorker } from './captureSegmentsOnWorker';
import { DataAwareCancelledError, errorOf } from './dataAwareErrors';
import { disableOrtTelemetry } from './loadOrt';
import type { OpenedModel } from './openModel';
import { defaultPoolSize } from './workerPool';
import { workerScript } from './workerScript';

export { DataAwareCancelledError };

/** The data-aware codes, ready for planQuantize, and what they gained. */
export interface DataAwarePlan {
  quantizer: WeightQuantizer;
  rows: DataAwareRow[];
  /** What the calibration ran on. */
  calibration: string;
  /** Weights left to round-to-nearest, and why. */
  uncovered: { name: string; reason: string }[];
}

export interface DataAwareJob {
  signal?: AbortSignal;
  onProgress?(message: string): void;
  /** The worker script (default: dist/dataAwareWorker.js beside the running bundle). */
  workerScript?: string;
  /** XᵀX bytes held at once (default GRAM_BUDGET_BYTES): smaller makes more groups (tests). */
  gramBudget?: number;
}

/**
 * Chooses data-aware codes for every weight `quantize` would turn into MatMulNBits: collects XᵀX of the
 * activations each one multiplies on the calibration inputs (one worker thread running onnxruntime-node),
 * then quantizes the layers with `method` on a few worker threads (both cores), the largest first. On a
 * big model this runs in groups of activations (gramGroups: at most GRAM_BUDGET_BYTES of XᵀX at once),
 * captured part by part (capturedGroups) and each solved and released before the next. A
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
  const rowsPerK = method === 'gptq' ? GPTQ_MIN_ROWS_PER_K : 1;
  const uncovered: DataAwarePlan['uncovered'] = [];
  const byKey = new Map<string, DataAwareLayer>();
  const rows: DataAwareRow[] = [];
  let calibrationText = '';
  // Held-out rows: activations of the evaluation inputs (seeds 1, …), never calibrated on.
  for await (const { group, captured, heldOut, calibration: text } of capturedGroups(
    script,
    model,
    uses,
    { rowsPerK, ...calibration },
    { batches: HELD_OUT_BATCHES, seedBase: 1 },
    job,
  )) {
    calibrationText = text;
    const inGroup = new Set(group.map((t) => t.name));
    await solveGroup(
      model,
      options,
      method,
      script,
      uses.filter((u) => inGroup.has(u.activation)),
      captured,
      heldOut,
      job,
      { byKey, rows, uncovered },
    );
  }
  return {
    quantizer: (t, layout, alpha) => byKey.get(keyOf(t.id, layout, alpha))?.weight,
    rows,
    calibration: calibrationText,
    uncovered,
  };
}

/** One group of activations (gramGroups) captured on the calibration inputs and held out. */
export interface CapturedGroup {
  group: { name: string; K: number; elemType: number }[];
  captured: CaptureResult;
  /** XᵀX of the held-out rows by activation (none with an inputs folder, whose files are both sets). */
  heldOut: Map<string, ActivationGram>;
  /** What the calibration ran on so far, for the report (the passes named after the last group). */
  calibration: string;
}

/**
 * The activations `uses` multiply, captured group by group (at most GRAM_BUDGET_BYTES of XᵀX at once) with
 * their held-out rows (`heldOut.batches` from `heldOut.seedBase`, or the user's evaluation samples): several
 * groups part by part (captureInSegments: the model runs once, each part loaded alone), or — when the graph
 * cannot be cut — one whole-model calibration pass and one held-out pass per group. The caller solves and
 * releases each group before asking for the next.
 */
export async function* capturedGroups(
  script: string,
  model: OpenedModel,
  uses: readonly MatMulNBitsUse[],
  calibration: CalibrationOptions & { rowsPerK: number },
  heldOut: { batches: number; seedBase: number },
  job: DataAwareJob,
): AsyncGenerator<CapturedGroup> {
  const targets = inGraphOrder(model.index, [
    ...new Map(
      uses.map((u) => [u.activation, { name: u.activation, K: u.K, elemType: u.tensor.dtype }]),
    ).values(),
  ]);
  let text = '';
  const groups = gramGroups(targets, uses, job.gramBudget ?? GRAM_BUDGET_BYTES);
  if (groups.length > 1) {
    // Part by part: the model runs once in all, each part loaded alone (captureInSegments).
    let started = false;
    try {
      for await (const part of captureSegmentsOnWorker(
        script,
        model.path,
        groups,
        calibration,
        calibration.inputsDir ? undefined : heldOut,
        job,
      )) {
        started = true;
        text ||= part.captured.calibration;
        if (part.part === part.parts - 1)
          text += ` (in ${part.parts} parts of the model, run one after another, XᵀX of at most ${mib(job.gramBudget ?? GRAM_BUDGET_BYTES)} at once)`;
        yield {
          group: groups[part.part],
          captured: part.captured,
          heldOut: new Map(part.heldOut.map((h) => [h.name, h])),
          calibration: text,
        };
      }
      return;
    } catch (e) {
      if (!(e instanceof SegmentsUnsupportedError) || started) throw e;
      job.onProgress?.(`${e.message}: one calibration pass per group instead`);
    }
  }
  for (const [g, group] of groups.entries()) {
    if (groups.length > 1)
      job.onProgress?.(`calibration pass ${g + 1}/${groups.length} (${group.length} activations)`);
    const captured = await capture(script, model.path, group, calibration, job);
    const held = calibration.inputsDir
      ? new Map<string, ActivationGram>()
      : new Map(
          (await capture(script, model.path, group, { ...calibration, ...heldOut }, job)).grams.map((h) => [
            h.name,
            h,
          ]),
        );
    text ||= captured.calibration;
    if (groups.length > 1 && g === groups.length - 1)
      text += ` (in ${groups.length} passes, XᵀX of at most ${mib(job.gramBudget ?? GRAM_BUDGET_BYTES)} at once)`;
    yield { group, captured, heldOut: held, calibration: text };
  }
}

/**
 * XᵀX matrices (float64) of calibration activations held at once at most (their held-out matrices as
 * many again): activations are captured in groups (graph order, so roughly block by block) of at most
 * this many bytes of Gram matrices, and each group's layers are solved and its matrices released before
 * the next. Captured part by part the model runs once however many groups there are, so the groups are
 * kept small: on a 1.1 B model 1 GiB of them (and 1 GiB held out) beside two K = 5632 solves passed the
 * memory bound. A small model is one group (one pass, as before). One activation larger than the budget
 * is a group of its own.
 */
export const GRAM_BUDGET_BYTES = 512 * 2 ** 20;

/** Evaluation batches whose activations judge each layer held out (seeds 1, 2, …, or the user's evaluation samples). */
const HELD_OUT_BATCHES = 8;

/**
 * Targets split into groups of at most `budget` bytes of Gram matrices (or of `cost`), in the order given
 * (inGraphOrder); the activations of one weight (read by several nodes) always share a group.
 */
export function gramGroups<T extends { name: string; K: number }>(
  targets: T[],
  uses: readonly MatMulNBitsUse[],
  budget: number,
  cost: (t: T) => number = (t) => t.K * t.K * 8,
): T[][] {
  // Units: activations linked through a weight that multiplies each of them (union-find).
  const parent = new Map(targets.map((t) => [t.name, t.name]));
  const find = (x: string): string => {
    while (parent.get(x) !== x) x = parent.get(x)!;
    return x;
  };
  const first = new Map<number, string>();
  for (const u of uses) {
    const other = first.get(u.tensor.id);
    if (other === undefined) first.set(u.tensor.id, u.activation);
    else if (parent.has(other) && parent.has(u.activation)) parent.set(find(u.activation), find(other));
  }
  const units = new Map<string, T[]>();
  for (const t of targets) {
    const root = find(t.name);
    units.set(root, [...(units.get(root) ?? []), t]);
  }
  const groups: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const unit of units.values()) {
    const b = unit.reduce((a, t) => a + cost(t), 0);
    if (current.length > 0 && bytes + b > budget) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(...unit);
    bytes += b;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/**
 * Solves the layers whose activations were captured in this pass: each weight is read (a float32 copy)
 * only when a worker is free for it, and a Gram matrix that only one weight uses is handed over rather
 * than copied, so at most one weight and one matrix per worker exist beside the group's matrices.
 */
async function solveGroup(
  model: OpenedModel,
  options: QuantizeOptions,
  method: QuantMethod,
  script: string,
  uses: MatMulNBitsUse[],
  captured: CaptureResult,
  heldOut: ReadonlyMap<string, ActivationGram>,
  job: DataAwareJob,
  into: {
    byKey: Map<string, DataAwareLayer>;
    rows: DataAwareRow[];
    uncovered: DataAwarePlan['uncovered'];
  },
): Promise<void> {
  const grams = new Map(captured.grams.map((g) => [g.name, g]));
  into.uncovered.push(...captured.missing);

  // One job per weight and layout (what planQuantize quantizes once).
  const jobs = new Map<string, { use: MatMulNBitsUse; grams: ActivationGram[] }>();
  const partial = new Set<string>();
  for (const u of uses) {
    const g = grams.get(u.activation);
    const key = keyOf(u.tensor.id, u.layout, u.alpha);
    if (!g || g.K !== u.K) {
      into.uncovered.push({ name: u.tensor.name, reason: `activation ${u.activation} was not collected` });
      partial.add(key);
      continue;
    }
    const entry = jobs.get(key) ?? { use: u, grams: [] };
    if (!entry.grams.includes(g)) entry.grams.push(g);
    jobs.set(key, entry);
  }
  const usersOf = new Map<ActivationGram, number>();
  for (const [key, j] of jobs)
    if (!partial.has(key)) for (const g of j.grams) usersOf.set(g, (usersOf.get(g) ?? 0) + 1);
  const meta: { key: string; use: MatMulNBitsUse; grams: ActivationGram[]; rows: number }[] = [];
  for (const [key, { use, grams: gs }] of jobs) {
    if (partial.has(key)) continue; // one of its readers' activations is unknown: round to nearest
    meta.push({ key, use, grams: gs, rows: gs.reduce((s, g) => s + g.rows, 0) });
  }
  const make = (id: number): SolveRequest | undefined => {
    const { use, grams: gs, rows } = meta[id];
    const values = readFloat32(use.tensor, model.source, model.resolveExternal);
    if (!values) return undefined; // NaN or infinite: planQuantize skips it
    // A copy: the reader may hand out a buffer it reuses for the next large tensor.
    const weight = Float32Array.from(values);
    let gram: Float64Array;
    if (gs.length === 1 && usersOf.get(gs[0]) === 1) {
      gram = gs[0].gram; // its only user: handed over (transferred), not copied
      grams.delete(gs[0].name);
    } else {
      gram = Float64Array.from(gs[0].gram);
      for (const g of gs.slice(1)) for (let i = 0; i < gram.length; i++) gram[i] += g.gram[i];
    }
    const held = gs.map((g) => heldOut.get(g.name));
    let heldOutGram: Float64Array | undefined;
    if (held.every((g) => g && g.K === use.K)) {
      heldOutGram = Float64Array.from(held[0]!.gram);
      for (const g of held.slice(1))
        for (let i = 0; i < heldOutGram.length; i++) heldOutGram[i] += g!.gram[i];
    }
    const { K, N, layout, alpha } = use;
    return {
      ...(heldOutGram ? { heldOutGram } : {}),
      type: 'solve',
      id,
      weight,
      K,
      N,
      layout,
      alpha,
      gram,
      rows,
      options: {
        bits: options.bits,
        blockSize: options.blockSize,
        symmetric: options.symmetric,
        scaleType: use.tensor.dtype === DataType.FLOAT16 ? 'float16' : 'float32',
      },
      method,
    };
  };
  const sizes = meta.map((m) => m.use.K * m.use.K * m.use.N);
  const layers = await solveAll(script, sizes, make, job, (id) => meta[id].use.tensor.name);
  layers.forEach((layer, id) => {
    if (!layer) return;
    const { key, use, rows: n } = meta[id];
    into.byKey.set(key, layer);
    const rtnSqnrDb = round(layerSqnrDb(layer.signal, layer.rtnError));
    const sqnrDb = round(layerSqnrDb(layer.signal, layer.error));
    into.rows.push({
      name: use.tensor.name,
      layout: use.layout,
      K: use.K,
      N: use.N,
      rows: n,
      kept: layer.kept,
      rtnSqnrDb,
      sqnrDb,
      gainDb: round(sqnrDb - rtnSqnrDb),
      ...(layer.fallback ? { fallback: layer.fallback } : {}),
    });
  });
}

function keyOf(tensorId: number, layout: string, alpha: number): string {
  return `${tensorId}:${layout}:${alpha}`;
}

/** Runs the capture on its own worker thread (also data-aware pruning's: planDataAwarePrune). */
export function capture(
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
 * Solves every layer on up to defaultPoolSize() worker threads, the largest (`sizes`: K²·N) first so the
 * last to finish is a small one; a request is made (`make`) only when a worker takes it, and a layer
 * `make` skips has no answer. Answers in id order. Quantization's `solve` requests answer with
 * DataAwareLayer, pruning's `prune` requests (`verb` 'pruning') with DataAwarePrunedLayer.
 */
export async function solveAll<L = DataAwareLayer>(
  script: string,
  sizes: number[],
  make: (id: number) => SolveRequest | PruneSolveRequest | undefined,
  job: DataAwareJob,
  nameOf: (id: number) => string,
  verb: 'quantizing' | 'pruning' = 'quantizing',
): Promise<(L | undefined)[]> {
  const results: (L | undefined)[] = new Array(sizes.length);
  const queue = sizes.map((_, id) => id).sort((a, b) => sizes[b] - sizes[a]);
  const size = Math.min(defaultPoolSize(), queue.length);
  const workers: Worker[] = [];
  let done = 0;
  let expected = 0;
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
        let request: SolveRequest | PruneSolveRequest | undefined;
        while (!failure && !request && queue.length > 0) request = make(queue.shift()!);
        if (!request) {
          void worker.terminate();
          return resolve();
        }
        expected++;
        const transfer = [request.weight.buffer as ArrayBuffer, request.gram.buffer as ArrayBuffer];
        worker.postMessage(request, transfer);
      };
      worker.on('message', (m: FromDataAwareWorker) => {
        if (m.type === 'solve/rows')
          job.onProgress?.(
            `${verb} ${nameOf(m.id)}: row ${m.done}/${m.total} (${done}/${sizes.length} layers done)`,
          );
        else if (m.type === 'solve/result' || m.type === 'prune/result') {
          results[m.id] = m.layer as L;
          done++;
          job.onProgress?.(
            `${verb === 'pruning' ? 'pruned' : 'quantized'} ${done}/${sizes.length} layers (${nameOf(m.id)})`,
          );
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
  if (done !== expected) throw new Error(`${expected - done} layers got no answer`);
  return results;
}

/** `1024 MiB`, `0.19 MiB`. */
function mib(bytes: number): string {
  const m = bytes / 2 ** 20;
  return `${Number.isInteger(m) ? m : m.toFixed(2)} MiB`;
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;
}
