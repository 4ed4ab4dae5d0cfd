import { availableParallelism, freemem } from 'node:os';
import type { DataSection } from '../core/data/dataSection';
import { rawByteLength } from '../core/tensor/dataType';
import { ModelError } from '../core/errors';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  planQuantize,
  type QuantizeOptions,
  type QuantizedTensorRow,
  type SkippedTarget,
} from '../core/quant/planQuantize';
import { describePerturbation, type Perturbation } from '../core/sensitivity/planOneWeight';
import type { WeightSweep } from '../core/sensitivity/sweepPoints';
import { samplesFor, stackFeeds } from './data/sampleFeeds';
import { floatOutputs, round } from './layerCandidate';
import { modelBytesOf, type OpenedModel, openModel } from './openModel';
import { openSensitivityPool, SensitivityCancelledError, type SensitivityPool } from './sensitivityPool';
import type { LayerMeasurement, SensitivityOutput, SerializedTensor } from './sensitivityProtocol';
import { constantReaderOf } from './data/synthesizeInputs';
import { type SynthesizedInput, synthesizeFeeds, type VerifyOptions } from './verifyModels';
import { loadOrt } from './loadOrt';

export { materialize } from './materialize';
export { SensitivityCancelledError };
export type { SensitivityOutput };

/** What a sensitivity run changes per layer, on which inputs, with how many workers. */
export interface SensitivityOptions extends VerifyOptions {
  bits: 2 | 4 | 8;
  /** Block size along K (default 32). */
  blockSize?: number;
  /** Op types whose weights are measured (default MatMul and Gemm). */
  ops?: string[];
  /** Measure magnitude pruning of this fraction per layer instead of quantization (`--sparsity`). */
  sparsity?: number;
  /** Measure only the weights whose name (or a reading node's name) matches (`--layers REGEX`). */
  layers?: RegExp;
  /** Worker threads measuring candidates in parallel (default: 2, or 1 on a one-core machine). */
  workers?: number;
}

/** What changing one weight (and only it) does to the model's outputs, and its data-free sweep. */
export interface LayerSensitivity {
  name: string;
  /** The ops that read the weight (`MatMul`, `Gemm`, `MatMul+Gemm`). */
  op: string;
  nodes: string[];
  dims: number[];
  /** Elements of the weight. */
  params: number;
  /** The float weight's bytes. */
  bytes: number;
  /** Codes, scales and zero points at `bits` (pruning: the weight's bytes after, stored dense). */
  quantizedBytes: number;
  /** Weight SQNR after the change (what `quantize` / `prune` reports for it). */
  weightSqnrDb: number;
  /** The worst output's SQNR (dB) against the original model's. */
  outputSqnrDb: number;
  /** The worst output's cosine similarity. */
  cosine: number;
  /** 1 - cosine: the loss this layer alone causes. */
  cosineLoss: number;
  outputs: SensitivityOutput[];
  sweep: WeightSweep;
  ms: number;
  /** Why this candidate could not be measured (it then sorts last). */
  error?: string;
}

export interface SensitivityReport {
  model: string;
  bits: number;
  blockSize: number;
  /** What each candidate does to its layer: quantize at `bits`, or prune to `sparsity`. */
  measure: 'quantize' | 'prune';
  sparsity?: number;
  /** `4-bit (block 32)`, `50% magnitude sparsity`. */
  change: string;
  /** Worker threads that measured the candidates (one onnxruntime intra-op thread each). */
  workers: number;
  /** Why one worker: e.g. a second session of a big model would pass the memory bound. */
  workersNote?: string;
  /** One line per input: name, type, shape, where the values came from. */
  inputs: string[];
  /** Most sensitive first (lowest output SQNR). */
  layers: LayerSensitivity[];
  skipped: SkippedTarget[];
  /**
   * True when external data was brought into the in-memory candidates (no longer done: candidates read the
   * original's data files; kept false for readers of older reports).
   */
  inlined: boolean;
  /** What the candidates ran on: the calibration samples of the user's data, or synthesized inputs. */
  data?: DataSection;
  timings: { originalMs: number; totalMs: number };
}

/** Progress and cancellation of a run. */
export interface SensitivityControl {
  /** After the original ran (done 0) and after each candidate (in completion order). */
  onProgress?(done: number, total: number, layer: string | undefined): void;
  /** Checked before each candidate is handed to a worker: aborted stops with a SensitivityCancelledError. */
  signal?: AbortSignal;
}

/** Two workers unless the machine has one core. */
export function defaultSensitivityWorkers(): number {
  return Math.min(2, availableParallelism());
}

const GIB = 2 ** 30;

/**
 * What a session of a model costs at its peak, as a multiple of the model's bytes: onnxruntime-node holds
 * more while it creates a session (external data read into buffers, MatMul weights pre-packed) than after.
 * Measured on the big suite's 2.84 GB fp32 decoder: 2.4 GB held once loaded, 3.3–3.7 GB while loading, so
 * two candidates loading at once peaked at 6.26 GB against a 6.19 GB bound.
 */
export const SESSION_LOAD_PEAK = 1.3;

/**
 * How many candidates of this model may run at once: two (defaultSensitivityWorkers) unless a second
 * onnxruntime session of the model, at its loading peak (SESSION_LOAD_PEAK), would break the memory bound
 * of big models — peak memory within 2 × the largest weight + 1 GiB on top of one session of the original —
 * or not fit in free memory; then one at a time, and `note` says why.
 */
export function sensitivityWorkersFor(model: OpenedModel): { workers: number; note?: string } {
  const cores = defaultSensitivityWorkers();
  if (cores < 2) return { workers: cores };
  const total = modelBytesOf(model);
  let largest = 0;
  for (const t of model.index.tensors) largest = Math.max(largest, rawByteLength(t.dtype, t.count));
  const bound = 2 * largest + GIB;
  const gib = (n: number) => `${(n / GIB).toFixed(2)} GiB`;
  if (SESSION_LOAD_PEAK * total > bound)
    return {
      workers: 1,
      note:
        `one candidate at a time: a second onnxruntime session of this ${gib(total)} model (up to ` +
        `${gib(SESSION_LOAD_PEAK * total)} while it loads) would pass the ` +
        `memory bound (2 × the largest weight + 1 GiB = ${gib(bound)} beyond one session)`,
    };
  if (2 * SESSION_LOAD_PEAK * total > freemem())
    return {
      workers: 1,
      note: `one candidate at a time: two sessions of ${gib(total)} do not fit in free memory`,
    };
  return { workers: cores };
}

/** A model opened for sensitivity: the measurable layers, the inputs, and the pool that measures them. */
export interface SensitivitySession {
  /** The MatMul/Gemm weights the whole-model quantization would change, one row per weight. */
  rows: QuantizedTensorRow[];
  skipped: SkippedTarget[];
  inputs: string[];
  inlined: boolean;
  originalMs: number;
  /** What the measurements ran on (the calibration samples, or synthesized inputs). */
  data?: DataSection;
  pool: SensitivityPool;
  /** Why the workers are fewer than the cores (one candidate at a time on a big model). */
  workersNote?: string;
  close(): Promise<void>;
}

/**
 * Opens a model for per-layer measurements: plans the whole-model quantization (to know the layers), runs
 * the original once in onnxruntime-node on the inputs verifyModels would use and keeps its float outputs,
 * then starts the workers, each with the model open, those inputs and those outputs.
 */
export async function openSensitivity(
  modelPath: string,
  options: SensitivityOptions,
  base: QuantizeOptions,
): Promise<SensitivitySession> {
  const t0 = performance.now();
  const ort = loadOrt();
  const model = openModel(modelPath);
  const auto = sensitivityWorkersFor(model);
  // Workers load onnxruntime and open the model while this thread runs the original.
  const pool = openSensitivityPool(
    { modelPath: model.path, base, threads: 1 },
    options.workers ?? auto.workers,
  );
  try {
    const { index, source, resolveExternal } = model;
    const full = planQuantize(index, source, resolveExternal, base);
    const original = await ort.InferenceSession.create(model.path, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 4, // fatal only: ORT's own log lines stay off the terminal (errors reach us)
    }).catch((e: Error) => {
      throw new ModelError(modelPath, `onnxruntime cannot load it: ${e.message}`);
    });
    const described: SynthesizedInput[] = [];
    const feeds: SerializedTensor[] = [];
    let reference;
    let data: DataSection | undefined;
    try {
      // The user's calibration samples (stacked into one batch where the shapes allow), else synthesized.
      const samples =
        options.data && !options.inputsDir ? await samplesFor(model.path, index, options) : undefined;
      data = samples?.section;
      const synthesized =
        samples?.source === 'files' && samples.calibration.length > 0
          ? stackFeeds(ort, index, samples.calibration)
          : synthesizeFeeds(ort, index, original.inputNames, options, described, constantReaderOf(model));
      if (samples?.source === 'files' && samples.calibration.length > 0)
        for (const [name, t] of Object.entries(synthesized))
          described.push({
            name,
            dtype: t.type,
            dims: [...t.dims],
            values: `${samples.section.inputs?.find((i) => i.name === name)?.source ?? 'data'}, calibration samples`,
          });
      for (const [name, t] of Object.entries(synthesized))
        feeds.push({ name, type: t.type, dims: [...t.dims], data: t.data as SerializedTensor['data'] });
      reference = floatOutputs(
        await original.run(synthesized).catch((e: Error) => {
          throw new ModelError(modelPath, `onnxruntime cannot run it: ${e.message}`);
        }),
      );
    } finally {
      await original.release();
    }
    if (reference.length === 0) throw new ModelError(modelPath, 'has no float outputs to compare');
    const originalMs = round(performance.now() - t0);
    pool.setReference({ feeds, reference });
    return {
      rows: uniqueByName(full.tensors),
      skipped: full.skipped,
      inputs: described.map((i) => `${i.name}: ${i.dtype}[${i.dims.join(',')}] ${i.values}`),
      inlined: false,
      originalMs,
      data,
      pool,
      ...(options.workers === undefined && auto.note ? { workersNote: auto.note } : {}),
      close: () => pool.close(),
    };
  } catch (e) {
    await pool.close();
    throw e;
  } finally {
    model.close();
  }
}

/**
 * Measures, one weight at a time, what quantizing it to `bits` (MatMulNBits, round-to-nearest, as
 * `quantize` does) or pruning it to `sparsity` (per-layer magnitude, as `prune` does) costs at the model's
 * outputs: every candidate is the original model with that weight alone changed, built in memory (the
 * write plan's pieces copied into one buffer) and run in onnxruntime-node on the same inputs as the
 * original, whose outputs are computed once and kept. A model with external data has it brought inline in
 * each candidate (so candidates need no files); that is refused past protobuf's 2 GiB limit. Candidates run
 * on `workers` threads at once (onnxruntime-node runs a session on the calling thread, so parallel
 * candidates need threads of their own), each session with one intra-op thread so the workers do not
 * fight over the cores. Each weight also gets its data-free sweep (weight SQNR at 2/3/4/8 bits and
 * 25/50/75% sparsity).
 */
export async function measureSensitivity(
  modelPath: string,
  options: SensitivityOptions,
  control: SensitivityControl = {},
): Promise<SensitivityReport> {
  const t0 = performance.now();
  const check = () => {
    if (control.signal?.aborted) throw new SensitivityCancelledError();
  };
  const base: QuantizeOptions = {
    ...DEFAULT_QUANTIZE_OPTIONS,
    bits: options.bits,
    blockSize: options.blockSize ?? DEFAULT_QUANTIZE_OPTIONS.blockSize,
    ops: options.ops ?? DEFAULT_QUANTIZE_OPTIONS.ops,
  };
  const perturbation: Perturbation =
    options.sparsity === undefined
      ? { kind: 'nbits', bits: options.bits, blockSize: base.blockSize }
      : { kind: 'prune', sparsity: options.sparsity };
  check();
  const session = await openSensitivity(modelPath, options, base);
  try {
    const pick = options.layers;
    const rows = pick
      ? session.rows.filter((r) => pick.test(r.name) || r.nodes.some((n) => pick.test(n)))
      : session.rows;
    // No weight at all is the caller's "nothing to measure"; none left by --layers is this error.
    if (pick && rows.length === 0 && session.rows.length > 0)
      throw new ModelError(modelPath, `no MatMul/Gemm weight matches --layers ${pick.source}`);
    const report: SensitivityReport = {
      model: modelPath,
      bits: options.bits,
      blockSize: base.blockSize,
      measure: perturbation.kind === 'prune' ? 'prune' : 'quantize',
      ...(options.sparsity === undefined ? {} : { sparsity: options.sparsity }),
      change: describePerturbation(perturbation),
      workers: session.pool.size,
      ...(session.workersNote ? { workersNote: session.workersNote } : {}),
      inputs: session.inputs,
      layers: [],
      skipped: session.skipped,
      inlined: session.inlined,
      ...(session.data ? { data: session.data } : {}),
      timings: { originalMs: session.originalMs, totalMs: NaN },
    };
    control.onProgress?.(0, rows.length, undefined);
    check();
    const measured = await session.pool.measure(
      rows.map((r) => ({ name: r.name, graph: r.graph, perturbation, sweep: true })),
      {
        signal: control.signal,
        onResult: (done, total, job) => control.onProgress?.(done, total, job.name),
      },
    );
    report.layers = rows.map((row, i) => layerOf(row, measured[i]));
    report.layers.sort(bySensitivity);
    report.timings.totalMs = round(performance.now() - t0);
    return report;
  } finally {
    await session.close();
  }
}

function layerOf(row: QuantizedTensorRow, m: LayerMeasurement): LayerSensitivity {
  return {
    name: row.name,
    op: row.op,
    nodes: row.nodes,
    dims: row.dims,
    params: row.dims.reduce((a, b) => a * b, 1),
    bytes: row.beforeBytes,
    quantizedBytes: Number.isNaN(m.afterBytes) ? row.afterBytes : m.afterBytes,
    weightSqnrDb: Number.isNaN(m.weightSqnrDb) ? row.weightSqnrDb : m.weightSqnrDb,
    outputSqnrDb: m.outputSqnrDb,
    cosine: m.cosine,
    cosineLoss: m.error ? NaN : round(1 - m.cosine, 9),
    outputs: m.outputs,
    sweep: m.sweep ?? { bits: { 2: NaN, 3: NaN, 4: NaN, 8: NaN }, sparsity: { 25: NaN, 50: NaN, 75: NaN } },
    ms: m.ms,
    ...(m.error ? { error: m.error } : {}),
  };
}

function uniqueByName(rows: QuantizedTensorRow[]): QuantizedTensorRow[] {
  const seen = new Set<string>();
  return rows.filter((r) => !seen.has(r.name) && seen.add(r.name));
}

/** Most sensitive first: lowest output SQNR, then lowest cosine; failed candidates last. */
function bySensitivity(a: LayerSensitivity, b: LayerSensitivity): number {
  if (!!a.error !== !!b.error) return a.error ? 1 : -1;
  return a.outputSqnrDb - b.outputSqnrDb || a.cosine - b.cosine || a.name.localeCompare(b.name);
}
