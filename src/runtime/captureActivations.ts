import type * as OrtTypes from 'onnxruntime-node';
import { detectTask } from '../core/data/detectTask';
import { ModelError } from '../core/errors';
import type { ModelIndex } from '../core/onnx/modelIndex';
import { accumulateGram, symmetrize } from '../core/quant/gramMatrix';
import { decodeFloat16 } from '../core/tensor/float16';
import { extraGraphOutputs } from '../core/write/extraGraphOutputs';
import { buildCandidate, type CandidateModel } from './candidateModel';
import { openModel } from './openModel';
import { samplesFor } from './data/sampleFeeds';
import { constantReaderOf } from './data/synthesizeInputs';
import type { ConstantReader } from '../core/data/integerRange';
import { type SynthesizedInput, synthesizeFeeds, type VerifyOptions } from './verifyModels';
import { loadOrt } from './loadOrt';

/** An activation to collect: the A input of quantized MatMul/Gemm nodes, rows of K values. */
export interface ActivationTarget {
  name: string;
  K: number;
  /** Its element type (the weight's: float32 or float16). */
  elemType: number;
}

/** XᵀX over every calibration row of one activation (its diagonal only with `diagonal`). */
export interface ActivationGram {
  name: string;
  K: number;
  rows: number;
  gram: Float64Array;
}

/** Where the calibration inputs come from. */
export interface CalibrationOptions extends VerifyOptions {
  /**
   * Synthesized batches at least (seeds CALIBRATION_SEED, +1, …); more, up to MAX_CALIBRATION_BATCHES,
   * until every activation has `rowsPerK`·K rows. A single batch with `inputsDir`.
   */
  batches: number;
  /** Rows per row of K the extra batches aim for (default 1; GPTQ wants GPTQ_MIN_ROWS_PER_K). */
  rowsPerK?: number;
  /** First seed of the synthesized batches (default CALIBRATION_SEED; the held-out rows use the verification's). */
  seedBase?: number;
  /** Collect only the diagonal of XᵀX (Σ x_k², K numbers): `gram` then holds K values. */
  diagonal?: boolean;
}

/**
 * Seeds of the synthesized calibration batches: away from the verification's (1), so the verification
 * figures are measured on inputs the calibration never saw.
 */
export const CALIBRATION_SEED = 1001;

/**
 * Tokens per synthesized calibration window of a language model captured part by part (a big model):
 * many rows per run, as the cost of a run and of adding its XᵀX grows with K² whatever the rows (8 tokens
 * a run left a 1.1 B model's GPTQ short of rows after 256 runs). Small models keep FREE_DIM-token windows:
 * on the tiny GPT-2, 256-token windows of random tokens calibrated the data-aware search 0.1 dB below
 * round-to-nearest on the verification's short windows.
 */
export const LM_CALIBRATION_WINDOW = 256;

/**
 * The options synthesized calibration batches of a model captured in parts are made with: a language
 * model's windows are LM_CALIBRATION_WINDOW tokens (at most its position tables' length) unless --dims,
 * --free-dim or an inputs folder say otherwise; captureInSegments falls back to `options` when the first
 * batch does not run.
 */
export function calibrationSynthesis(
  index: ModelIndex,
  readConstant: ConstantReader,
  options: CalibrationOptions,
): CalibrationOptions {
  if (options.freeDim !== undefined || options.inputsDir) return options;
  if (detectTask(index, readConstant).task !== 'lm') return options;
  // No longer than a position table (rotary caches, learned position embeddings): onnxruntime's fused
  // attention does not check its positions against the caches.
  let window = LM_CALIBRATION_WINDOW;
  for (const id of index.graphs[0].tensorIds) {
    const t = index.tensors[id];
    if (POSITION_TABLE.test(t.name) && t.dims.length === 2) window = Math.min(window, t.dims[0]);
  }
  return { ...options, freeDim: window };
}

const POSITION_TABLE = /cos_cache|sin_cache|wpe\b|pos(ition)?_?emb|embed_positions/i;

/**
 * The most synthesized batches a calibration runs to reach K rows per activation: a model that sees one
 * row per run (a classifier head on a [1, K] input) would otherwise get a Gram matrix of rank 16 for
 * K in the thousands, and the methods would fit noise.
 */
export const MAX_CALIBRATION_BATCHES = 256;

export interface CaptureResult {
  grams: ActivationGram[];
  /** Activations that could not be collected, with the reason (their weights stay round-to-nearest). */
  missing: { name: string; reason: string }[];
  /** What the calibration ran on, for the report. */
  calibration: string;
}

/**
 * Runs the model in onnxruntime-node on the calibration inputs with the target activations added as graph
 * outputs (a temporary in-memory copy of the message with the extra outputs; external data is read by
 * onnxruntime from the original's files, see buildCandidate) and accumulates XᵀX per activation, one batch at a time, so no activation outlives its batch.
 * Activations computed inside subgraphs are not reachable that way and are reported missing; one that is a
 * graph input is read from the feeds. `cancelled` is checked between batches (a native run cannot stop).
 */
export async function captureActivations(
  modelPath: string,
  targets: readonly ActivationTarget[],
  options: CalibrationOptions,
  control: { cancelled?(): boolean; onBatch?(done: number, total: number): void } = {},
): Promise<CaptureResult> {
  const ort = loadOrt();
  const model = openModel(modelPath);
  const missing: CaptureResult['missing'] = [];
  const { index } = model;
  const main = index.graphs[0];
  const inputs = new Set(main.inputs.map((i) => i.name));
  const outputs = new Set(main.outputs.map((o) => o.name));
  const produced = new Set(main.nodeIds.flatMap((id) => index.nodes[id].outputs));
  const wanted: ActivationTarget[] = [];
  for (const t of targets) {
    if (inputs.has(t.name) || produced.has(t.name)) wanted.push(t);
    else missing.push({ name: t.name, reason: 'computed inside a subgraph (or a constant)' });
  }
  const grams = new Map(wanted.map((t) => [t.name, emptyGram(t, options.diagonal)]));
  let batches = options.inputsDir ? 1 : Math.max(1, options.batches);
  const readConstant = constantReaderOf(model);
  let described: SynthesizedInput[] = [];
  let fromData: string | undefined;
  let session: OrtTypes.InferenceSession | undefined;
  let candidate: CandidateModel | undefined;
  try {
    const extra = wanted.filter((t) => !inputs.has(t.name) && !outputs.has(t.name));
    candidate = buildCandidate(
      model,
      [],
      CAPTURE_SESSION_OPTIONS,
      extraGraphOutputs(extra.map((t) => ({ name: t.name, elemType: t.elemType }))),
    );
    session = await ort.InferenceSession.create(candidate.bytes, candidate.sessionOptions).catch(
      (e: Error) => {
        throw new ModelError(
          modelPath,
          `onnxruntime cannot load it with its activations as outputs: ${e.message}`,
        );
      },
    );
    const fetch = wanted.filter((t) => !inputs.has(t.name)).map((t) => t.name);
    // The user's calibration samples, one run each, when there are some (their evaluation samples for a
    // held-out capture, seedBase set); else synthesized batches.
    const samples =
      options.data && !options.inputsDir ? await samplesFor(modelPath, index, options) : undefined;
    const heldOut = options.seedBase !== undefined;
    const pool =
      samples?.source === 'files' ? (heldOut ? samples.evaluation : samples.calibration) : undefined;
    const real = pool && pool.length > 0 ? pool : undefined;
    if (real) {
      batches = real.length;
      fromData = samplesText(real.length, heldOut ? 'evaluation' : 'calibration', samples!.section.paths);
    }
    for (let b = 0; b < batches; b++) {
      if (control.cancelled?.()) throw new CaptureCancelledError();
      described = [];
      const feeds = real
        ? real[b]
        : synthesizeFeeds(
            ort,
            index,
            session.inputNames,
            { ...options, seed: (options.seedBase ?? CALIBRATION_SEED) + b },
            described,
            readConstant,
          );
      let out: OrtTypes.InferenceSession.OnnxValueMapType;
      try {
        out = fetch.length ? await session.run(feeds, fetch) : {};
      } catch (e) {
        throw new ModelError(modelPath, `onnxruntime cannot run the calibration: ${(e as Error).message}`);
      }
      for (const g of grams.values()) addRows(g, out[g.name] ?? feeds[g.name], options.diagonal);
      if (b === 0 && !options.inputsDir && !real && options.seedBase === undefined)
        batches = Math.max(batches, batchesForK([...grams.values()], options.rowsPerK ?? 1));
      control.onBatch?.(b + 1, batches);
    }
  } finally {
    await session?.release();
    candidate?.dispose();
    model.close();
  }
  for (const g of grams.values()) {
    if (!options.diagonal) symmetrize(g.gram, g.K);
    if (g.rows === 0) missing.push({ name: g.name, reason: `no rows of ${g.K} values` });
  }
  const calibration = calibrationText(fromData, options, batches, described);
  return { grams: [...grams.values()].filter((g) => g.rows > 0), missing, calibration };
}

/** An activation's XᵀX (or with `diagonal` its diagonal) before any row. */
export function emptyGram(t: ActivationTarget, diagonal?: boolean): ActivationGram {
  return { name: t.name, K: t.K, rows: 0, gram: new Float64Array(diagonal ? t.K : t.K * t.K) };
}

/** `4 calibration samples of data/`: the user's samples a calibration ran on. */
export function samplesText(count: number, kind: 'calibration' | 'evaluation', paths: string[]): string {
  return `${count} ${kind} sample${count === 1 ? '' : 's'} of ${paths.join(', ')}`;
}

/**
 * What a calibration ran on, for the report: the user's samples (`fromData`), the inputs folder or the
 * synthesized batches and their seeds, then the first batch's inputs.
 */
export function calibrationText(
  fromData: string | undefined,
  options: CalibrationOptions,
  batches: number,
  described: readonly SynthesizedInput[],
): string {
  const from =
    fromData ??
    (options.inputsDir
      ? `inputs ${options.inputsDir}`
      : `${batches} synthesized batch${batches === 1 ? '' : 'es'} (seeds ${CALIBRATION_SEED}–${CALIBRATION_SEED + batches - 1})`);
  return `${from}: ${described.map((i) => `${i.name} ${i.dtype}[${i.dims.join(',')}] ${i.values}`).join('; ')}`;
}

/** How a calibration session runs: CPU, all graph optimizations, onnxruntime's own log quiet. */
export const CAPTURE_SESSION_OPTIONS: OrtTypes.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  logSeverityLevel: 4, // fatal only: ORT's own log lines stay off the terminal (errors reach us)
};

/**
 * Batches (at most MAX_CALIBRATION_BATCHES) for `perK`·K rows of every activation, from the first batch's
 * rows.
 */
export function batchesForK(grams: ActivationGram[], perK: number): number {
  let need = 1;
  for (const g of grams) if (g.rows > 0) need = Math.max(need, Math.ceil((perK * g.K) / g.rows));
  return Math.min(MAX_CALIBRATION_BATCHES, need);
}

/** Adds an activation tensor's rows of K values to its Gram matrix, or its diagonal (float16 decoded). */
export function addRows(g: ActivationGram, t: OrtTypes.Tensor | undefined, diagonal = false): void {
  if (!t || (t.type !== 'float32' && t.type !== 'float16')) return;
  const values = t.type === 'float16' ? decodeFloat16(t.data as Uint16Array) : (t.data as Float32Array);
  if (values.length % g.K !== 0) return;
  const rows = values.length / g.K;
  if (diagonal) for (let i = 0; i < values.length; i++) g.gram[i % g.K] += values[i] * values[i];
  else accumulateGram(g.gram, g.K, values, rows);
  g.rows += rows;
}

export class CaptureCancelledError extends Error {
  constructor() {
    super('calibration cancelled');
    this.name = 'CaptureCancelledError';
  }
}
