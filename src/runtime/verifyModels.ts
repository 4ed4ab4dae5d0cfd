import * as fs from 'node:fs';
import type * as OrtTypes from 'onnxruntime-node';
import { decodeFloat16 } from '../core/tensor/float16';
import { synthesizeFeeds } from './data/synthesizeInputs';
import { openModel } from './openModel';

// Synthesis and the .npy inputs moved to runtime/data; re-exported so callers keep their imports.
export { synthesizeFeeds } from './data/synthesizeInputs';
export { npyFileName, readInputFiles } from './data/npyInputs';

/** How inputs are synthesized. */
export interface VerifyOptions {
  /** PRNG seed (default 1). */
  seed?: number;
  /** Values for named symbolic dims (default: names with "batch" 1, "past" 0, first axis 1, others 8). */
  dims?: Record<string, number>;
  /** A constant fill for named inputs (e.g. a sample rate). */
  fill?: Record<string, number>;
  /** Timed runs per model for the median latency (default 5). */
  runs?: number;
  /**
   * A folder of `.npy` files named after the model's inputs (`input_ids.npy`; characters other than
   * letters, digits, `.`, `_` and `-` may be written as `_`). Inputs without a file are synthesized.
   */
  inputsDir?: string;
}

/** Fidelity of one output. */
export interface OutputMetrics {
  name: string;
  dtype: string;
  dims: number[];
  cosine: number;
  sqnrDb: number;
  maxAbsError: number;
  /** Rows whose arg-max agree, for 2-D [batch, classes>1] float outputs. */
  top1Agreement?: number;
}

/** One model's run. */
export interface ModelRun {
  path: string;
  /** The model file plus its external data files. */
  bytes: number;
  loadMs: number;
  medianMs: number;
  error?: string;
}

export interface SynthesizedInput {
  name: string;
  dtype: string;
  dims: number[];
  values: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Why the comparison failed (a model that does not load or run, mismatched outputs). */
  error?: string;
  inputs: SynthesizedInput[];
  outputs: OutputMetrics[];
  original: ModelRun;
  candidate: ModelRun;
  /** The lowest output cosine (1 when identical). */
  minCosine: number;
}

type Ort = typeof OrtTypes;
export type Feeds = Record<string, OrtTypes.Tensor>;

/** Hooks of a verification run: which step it is on, and whether to stop. */
export interface VerifyControl {
  /** Called as each step starts ("loading the original", "running the candidate 2/5" …). */
  onPhase?(phase: string): void;
  /** Checked before every load and run: true stops the run with a VerifyCancelledError. */
  cancelled?(): boolean;
}

/** A verification stopped through VerifyControl.cancelled. */
export class VerifyCancelledError extends Error {
  constructor() {
    super('verification cancelled');
    this.name = 'VerifyCancelledError';
  }
}

/**
 * Runs `original` and `candidate` in onnxruntime-node (CPU, all graph optimizations) on the same inputs
 * (the user's `.npy` files, or synthesized from the declared types and shapes with a fixed seed) and
 * compares every output: cosine, SQNR (dB), max abs error and top-1 agreement for 2-D class scores; also
 * file sizes, session load time and median latency. One session at a time (the original is released before
 * the candidate loads), so memory holds one model. A model that fails to load or run makes `ok` false with
 * the reason; nothing throws for that.
 */
export async function verifyModels(
  original: string,
  candidate: string,
  options: VerifyOptions = {},
  control: VerifyControl = {},
): Promise<VerifyResult> {
  // Loaded lazily: the native module is only needed when verifying.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as Ort;
  const result: VerifyResult = {
    ok: false,
    inputs: [],
    outputs: [],
    original: { path: original, bytes: modelBytes(original), loadMs: NaN, medianMs: NaN },
    candidate: { path: candidate, bytes: modelBytes(candidate), loadMs: NaN, medianMs: NaN },
    minCosine: NaN,
  };
  const runs = options.runs ?? 5;
  const step = (phase: string) => {
    if (control.cancelled?.()) throw new VerifyCancelledError();
    control.onPhase?.(phase);
  };

  step('loading the original');
  const a = await load(ort, original, result.original);
  if (!a) {
    result.error = `original failed to load: ${result.original.error}`;
    return result;
  }
  let outA: OrtTypes.InferenceSession.OnnxValueMapType | undefined;
  let feeds: Feeds;
  const outputNames = [...a.outputNames];
  try {
    const model = openModel(original);
    try {
      feeds = synthesizeFeeds(ort, model.index, a.inputNames, options, result.inputs);
    } finally {
      model.close();
    }
    outA = await timedRuns(a, feeds, runs, result.original, (i) =>
      step(`running the original ${i}/${runs + 1}`),
    );
  } finally {
    await a.release();
  }
  if (!outA) {
    result.error = `original failed to run: ${result.original.error}`;
    return result;
  }
  step('loading the candidate');
  const b = await load(ort, candidate, result.candidate);
  if (!b) {
    result.error = `candidate failed to load: ${result.candidate.error}`;
    return result;
  }
  let outB: OrtTypes.InferenceSession.OnnxValueMapType | undefined;
  try {
    outB = await timedRuns(b, feeds, runs, result.candidate, (i) =>
      step(`running the candidate ${i}/${runs + 1}`),
    );
  } finally {
    await b.release();
  }
  if (!outB) {
    result.error = `candidate failed to run: ${result.candidate.error}`;
    return result;
  }
  step('comparing outputs');
  for (const name of outputNames) {
    const x = outA[name];
    const y = outB[name];
    if (!y) {
      result.error = `candidate has no output ${name}`;
      return result;
    }
    if (x.dims.join() !== y.dims.join()) {
      result.error = `output ${name} is [${y.dims.join(', ')}], the original's is [${x.dims.join(', ')}]`;
      return result;
    }
    result.outputs.push(compareOutputs(name, x, y));
  }
  result.minCosine = Math.min(...result.outputs.map((o) => o.cosine));
  result.ok = true;
  return result;
}

async function load(ort: Ort, file: string, run: ModelRun): Promise<OrtTypes.InferenceSession | undefined> {
  const t0 = performance.now();
  try {
    const session = await ort.InferenceSession.create(file, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
    run.loadMs = round(performance.now() - t0);
    return session;
  } catch (e) {
    run.error = (e as Error).message;
    return undefined;
  }
}

async function timedRuns(
  session: OrtTypes.InferenceSession,
  feeds: Feeds,
  runs: number,
  run: ModelRun,
  step: (i: number) => void,
): Promise<OrtTypes.InferenceSession.OnnxValueMapType | undefined> {
  step(1);
  try {
    const first = await session.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      // A cancellation is not a failed run: let it through.
      step(i + 2);
      const t0 = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t0);
    }
    times.sort((p, q) => p - q);
    run.medianMs = round(times[Math.floor(times.length / 2)] ?? NaN);
    return first;
  } catch (e) {
    if (e instanceof VerifyCancelledError) throw e;
    run.error = (e as Error).message;
    return undefined;
  }
}

/** One output of the candidate against the original's: cosine, SQNR, max abs error, top-1 agreement. */
export function compareOutputs(name: string, x: OrtTypes.Tensor, y: OrtTypes.Tensor): OutputMetrics {
  const a = asNumbers(x);
  const b = asNumbers(y);
  let dot = 0;
  let na = 0;
  let nb = 0;
  let err = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    const p = a[i];
    const q = b[i];
    dot += p * q;
    na += p * p;
    nb += q * q;
    const d = Math.abs(p - q);
    err += d * d;
    if (d > maxAbs || Number.isNaN(d)) maxAbs = d;
  }
  const cosine = na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb);
  const sqnrDb = err === 0 ? Infinity : 10 * Math.log10(na / err);
  const metrics: OutputMetrics = {
    name,
    dtype: x.type,
    dims: [...x.dims],
    cosine: round(cosine, 6),
    sqnrDb: round(sqnrDb),
    maxAbsError: Number(maxAbs.toPrecision(4)),
  };
  if (x.dims.length === 2 && x.dims[1] > 1 && (x.type === 'float32' || x.type === 'float16')) {
    const [rows, cols] = x.dims;
    let agree = 0;
    for (let r = 0; r < rows; r++) if (argmax(a, r * cols, cols) === argmax(b, r * cols, cols)) agree++;
    metrics.top1Agreement = agree / rows;
  }
  return metrics;
}

function asNumbers(t: OrtTypes.Tensor): Float64Array {
  const data = t.data;
  if (t.type === 'float16') return Float64Array.from(decodeFloat16(data as Uint16Array));
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float64Array.from(data, Number);
  return Float64Array.from(data as ArrayLike<number>);
}

function argmax(v: Float64Array, start: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[start + i] > v[start + best]) best = i;
  return best;
}

function modelBytes(file: string): number {
  try {
    const model = openModel(file);
    try {
      return model.file.bytes + model.file.externalFiles.reduce((s, f) => s + f.bytes, 0);
    } finally {
      model.close();
    }
  } catch {
    return fs.existsSync(file) ? fs.statSync(file).size : 0;
  }
}

function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
