import * as fs from 'node:fs';
import type * as OrtTypes from 'onnxruntime-node';
import { decodeFloat16 } from '../core/tensor/float16';
import { type DetectedTask, detectTask } from '../core/data/detectTask';
import {
  ClassificationAccumulator,
  LmMetricsAccumulator,
  summarizeOutputs,
  type TaskMetrics,
} from '../core/data/taskMetrics';
import { ModelError } from '../core/errors';
import { constantReaderOf, synthesizeFeeds } from './data/synthesizeInputs';
import {
  planSynthesis,
  type SynthesisModel,
  type SynthesisPlan,
  synthesizeSamples,
} from './data/synthesizeSamples';
import type { DataSection } from '../core/data/dataSection';
import type { DataOptions } from './data/loadSamples';
import { describeSamples, samplesFor } from './data/sampleFeeds';
import { loadOrt } from './loadOrt';
import { modelBytesOf, openModel } from './openModel';

// Synthesis and the .npy inputs moved to runtime/data; re-exported so callers keep their imports.
export { synthesizeFeeds } from './data/synthesizeInputs';
export { npyFileName, readInputFiles } from './data/npyInputs';

/** How inputs are synthesized. */
export interface VerifyOptions {
  /** PRNG seed (default 1). */
  seed?: number;
  /**
   * Values for open dims: by dim_param name, or `INPUT:AXIS` / `INPUT.AXIS` for one axis of one input
   * (default: names with "batch" 1, "past" 0, first axis 1, others `freeDim`).
   */
  dims?: Record<string, number>;
  /** Whole shapes of named inputs (`--dims input=1x512`). */
  shapes?: Record<string, number[]>;
  /** The size of open dims nothing else sets (default 8; raised to 64, 512 when the original fails). */
  freeDim?: number;
  /** A constant fill for named inputs (e.g. a sample rate). */
  fill?: Record<string, number>;
  /** Synthesized evaluation samples (default 4; one with an inputs folder). */
  evaluationSamples?: number;
  /** Timed runs per model for the median latency (default 5). */
  runs?: number;
  /**
   * A folder of `.npy` files named after the model's inputs (`input_ids.npy`; characters other than
   * letters, digits, `.`, `_` and `-` may be written as `_`). Inputs without a file are synthesized.
   */
  inputsDir?: string;
  /** The user's data (--data, --tokenizer, the split; MODEL.inputs.json): its evaluation samples are compared. */
  data?: DataOptions;
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
  /** Task metrics over every evaluation sample (absent when the comparison failed). */
  metrics?: TaskMetrics;
  /** What synthesis chose that the user should know (open dims raised after the original failed). */
  synthesisNote?: string;
  /** What the comparison ran on: the user's files (evaluation samples) or synthesized inputs. */
  data?: DataSection;
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
 * file sizes, session load time (timed after an untimed warm-up load of each model) and median latency. One
 * session at a time (the original is released before
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
  const ort = loadOrt();
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

  // Untimed warm-up loads of each model first, one session at a time: both timed loads then find their
  // files in the page cache and onnxruntime initialized, so the model loaded first is not slower for it.
  for (const [file, run, which] of [
    [original, result.original, 'original'],
    [candidate, result.candidate, 'candidate'],
  ] as const) {
    step(`warming up: loading the ${which}`);
    const warm = await load(ort, file, run);
    if (!warm) {
      result.error = `${which} failed to load: ${run.error}`;
      return result;
    }
    await warm.release();
  }
  step('loading the original');
  const a = await load(ort, original, result.original);
  if (!a) {
    result.error = `original failed to load: ${result.original.error}`;
    return result;
  }
  let outA: OrtTypes.InferenceSession.OnnxValueMapType[] | undefined;
  let samples: Feeds[];
  let task: DetectedTask;
  let labels: (number | undefined)[] | undefined;
  const outputNames = [...a.outputNames];
  try {
    const model = openModel(original);
    try {
      const synthesis: SynthesisModel = {
        path: original,
        index: model.index,
        readConstant: constantReaderOf(model),
      };
      const files =
        options.data && !options.inputsDir ? await samplesFor(original, model.index, options) : undefined;
      if (files?.source === 'files') {
        if (files.evaluation.length === 0)
          throw new ModelError(
            files.section.paths.join(', '),
            'leaves no evaluation sample (--evaluation 0?)',
          );
        task = detectTask(model.index, synthesis.readConstant);
        samples = files.evaluation;
        labels = files.labels?.evaluation;
        result.inputs.push(...describeSamples(files));
      } else if (options.inputsDir) {
        task = detectTask(model.index, synthesis.readConstant);
        samples = [
          synthesizeFeeds(ort, model.index, a.inputNames, options, result.inputs, synthesis.readConstant),
        ];
      } else {
        step('choosing the inputs');
        let plan: SynthesisPlan;
        try {
          plan = await planSynthesis(ort, a, synthesis, options);
        } catch (e) {
          if (!(e instanceof ModelError)) throw e;
          result.original.error = e.reason;
          result.error = e.reason;
          return result;
        }
        task = plan.task;
        if (plan.note) result.synthesisNote = plan.note;
        step(task.task === 'lm' ? 'sampling token sequences from the original' : 'synthesizing the inputs');
        samples = await synthesizeSamples(
          ort,
          a,
          synthesis,
          plan,
          options.evaluationSamples ?? EVALUATION_SAMPLES,
          options.seed ?? 1,
          result.inputs,
        );
      }
      result.data = files?.section ?? {
        source: options.inputsDir ? 'files' : 'synthetic',
        paths: options.inputsDir ? [options.inputsDir] : [],
        calibration: 0,
        evaluation: samples.length,
      };
    } finally {
      model.close();
    }
    outA = await runAll(a, samples, runs, result.original, (i) =>
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
  let outB: OrtTypes.InferenceSession.OnnxValueMapType[] | undefined;
  try {
    outB = await runAll(b, samples, runs, result.candidate, (i) =>
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
  const perSample: OutputMetrics[][] = [];
  for (const [s, x] of outA.entries()) {
    const y = outB[s];
    const row: OutputMetrics[] = [];
    for (const name of outputNames) {
      if (!y[name]) {
        result.error = `candidate has no output ${name}`;
        return result;
      }
      if (x[name].dims.join() !== y[name].dims.join()) {
        result.error = `output ${name} is [${y[name].dims.join(', ')}], the original's is [${x[name].dims.join(', ')}]`;
        return result;
      }
      row.push(compareOutputs(name, x[name], y[name]));
    }
    perSample.push(row);
  }
  result.outputs = pooledOutputs(ort, outputNames, outA, outB).map((o) => ({
    ...o,
    dims: perSample[0].find((p) => p.name === o.name)!.dims,
  }));
  result.metrics = taskMetricsOf(task, samples, outA, outB, perSample, labels);
  result.minCosine = Math.min(...result.outputs.map((o) => o.cosine));
  result.ok = true;
  return result;
}

/** Synthesized evaluation samples a verification compares on. */
export const EVALUATION_SAMPLES = 4;

/**
 * Every output over all samples as one batch (the samples concatenated along axis 0): cosine, SQNR and
 * top-1 agreement of the pooled values, so a small output (two logits) is not judged on one sample's
 * chance; the worst and mean sample are in `metrics.outputs`.
 */
export function pooledOutputs(
  ort: Ort,
  names: readonly string[],
  outA: readonly OrtTypes.InferenceSession.OnnxValueMapType[],
  outB: readonly OrtTypes.InferenceSession.OnnxValueMapType[],
): OutputMetrics[] {
  const concat = (ts: OrtTypes.Tensor[]): OrtTypes.Tensor => {
    if (ts.length === 1) return ts[0];
    const first = ts[0];
    const size = ts.reduce((n, t) => n + t.size, 0);
    type Typed = { set(a: ArrayLike<unknown>, at: number): void };
    const Ctor = (first.data as object).constructor as new (n: number) => Typed;
    const data = new Ctor(size);
    let at = 0;
    for (const t of ts) {
      data.set(t.data as ArrayLike<unknown>, at);
      at += t.size;
    }
    const dims = first.dims.length
      ? [ts.reduce((n, t) => n + (t.dims[0] ?? 1), 0), ...first.dims.slice(1)]
      : [ts.length];
    return new ort.Tensor(first.type as 'float32', data as unknown as Float32Array, dims);
  };
  return names.map((name) =>
    compareOutputs(name, concat(outA.map((o) => o[name])), concat(outB.map((o) => o[name]))),
  );
}

/** The task's metrics over the samples (LM next-token figures, classifier agreement) and every output. */
export function taskMetricsOf(
  task: DetectedTask,
  samples: readonly Feeds[],
  outA: readonly OrtTypes.InferenceSession.OnnxValueMapType[],
  outB: readonly OrtTypes.InferenceSession.OnnxValueMapType[],
  perSample: readonly (readonly OutputMetrics[])[],
  labels?: readonly (number | undefined)[],
): TaskMetrics {
  const metrics: TaskMetrics = {
    task: task.task,
    outputs: summarizeOutputs(perSample),
    samples: samples.length,
  };
  if (task.task === 'lm') {
    const acc = new LmMetricsAccumulator(task.vocab);
    for (const [s, feeds] of samples.entries()) {
      const ids = asNumbers(feeds[task.inputIds]);
      const mask = task.attentionMask ? feeds[task.attentionMask] : undefined;
      const batch = feeds[task.inputIds].dims[0] ?? 1;
      const seq = ids.length / batch;
      const x = asNumbers(outA[s][task.logits]);
      const y = asNumbers(outB[s][task.logits]);
      const m = mask && mask.size === ids.length ? asNumbers(mask) : undefined;
      if (x.length !== ids.length * task.vocab) continue;
      for (let r = 0; r < batch; r++) {
        const span = seq * task.vocab;
        acc.add(
          x.subarray(r * span, (r + 1) * span),
          y.subarray(r * span, (r + 1) * span),
          ids.subarray(r * seq, (r + 1) * seq),
          m?.subarray(r * seq, (r + 1) * seq),
        );
      }
    }
    metrics.lm = acc.result();
  } else if (task.task === 'classification') {
    const acc = new ClassificationAccumulator(task.classes);
    for (const [s, out] of outA.entries()) {
      const x = out[task.scores];
      if (!x || x.dims[x.dims.length - 1] !== task.classes) continue;
      acc.add(
        asNumbers(x),
        asNumbers(outB[s][task.scores]),
        labels && labels[s] !== undefined ? [labels[s]] : [],
      );
    }
    metrics.classification = acc.result();
  }
  return metrics;
}

async function load(ort: Ort, file: string, run: ModelRun): Promise<OrtTypes.InferenceSession | undefined> {
  const t0 = performance.now();
  try {
    const session = await ort.InferenceSession.create(file, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 4, // fatal only: ORT's own log lines stay off the terminal (errors reach us)
    });
    run.loadMs = round(performance.now() - t0);
    return session;
  } catch (e) {
    run.error = (e as Error).message;
    return undefined;
  }
}

/** Runs every sample once (the first one timed `runs` more times for the median latency). */
async function runAll(
  session: OrtTypes.InferenceSession,
  samples: readonly Feeds[],
  runs: number,
  run: ModelRun,
  step: (i: number) => void,
): Promise<OrtTypes.InferenceSession.OnnxValueMapType[] | undefined> {
  step(1);
  try {
    const outputs = [await session.run(samples[0])];
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      // A cancellation is not a failed run: let it through.
      step(i + 2);
      const t0 = performance.now();
      await session.run(samples[0]);
      times.push(performance.now() - t0);
    }
    times.sort((p, q) => p - q);
    run.medianMs = round(times[Math.floor(times.length / 2)] ?? NaN);
    for (const feeds of samples.slice(1)) outputs.push(await session.run(feeds));
    return outputs;
  } catch (e) {
    if (e instanceof VerifyCancelledError) throw e;
    run.error = (e as Error).message;
    return undefined;
  }
}

/**
 * One output of the candidate against the original's: cosine, SQNR, max abs error, top-1 agreement.
 * Identical outputs give cosine 1 and SQNR Infinity (also when both are all zeros); when only one side is all
 * zeros the cosine is 0 (nothing in common) and the SQNR -Infinity (original zeros) or 0 dB (candidate
 * zeros). A NaN on either side makes cosine, SQNR and max error NaN, which no fidelity floor accepts.
 * float16 outputs are decoded first; top-1 only for 2-D [rows, classes > 1] float outputs.
 */
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
  const cosine = na === 0 || nb === 0 ? (na === nb ? 1 : 0) : dot / Math.sqrt(na * nb);
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
      return modelBytesOf(model);
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
