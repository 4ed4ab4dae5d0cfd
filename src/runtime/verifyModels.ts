import * as fs from 'node:fs';
import type * as OrtTypes from 'onnxruntime-node';
import type { ModelIndex } from '../core/onnx/modelIndex';
import { dataTypeName } from '../core/tensor/dataType';
import { decodeFloat16, encodeFloat16 } from '../core/tensor/float16';
import { openModel } from './openModel';

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
type Feeds = Record<string, OrtTypes.Tensor>;

/**
 * Runs `original` and `candidate` in onnxruntime-node (CPU, all graph optimizations) on the same
 * synthesized fixed-seed inputs and compares every output: cosine, SQNR (dB), max abs error and top-1
 * agreement for 2-D class scores; also file sizes, session load time and median latency. A model that
 * fails to load or run makes `ok` false with the reason; nothing throws for that.
 */
export async function verifyModels(
  original: string,
  candidate: string,
  options: VerifyOptions = {},
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
  const a = await load(ort, original, result.original);
  const b = await load(ort, candidate, result.candidate);
  if (!a || !b) {
    result.error = `${!a ? 'original' : 'candidate'} failed to load: ${(a ? result.candidate : result.original).error}`;
    return result;
  }
  try {
    const model = openModel(original);
    let feeds: Feeds;
    try {
      feeds = synthesize(ort, model.index, a.inputNames, options, result.inputs);
    } finally {
      model.close();
    }
    const runs = options.runs ?? 5;
    const outA = await timedRuns(a, feeds, runs, result.original);
    const outB = await timedRuns(b, feeds, runs, result.candidate);
    if (!outA || !outB) {
      result.error = `${!outA ? 'original' : 'candidate'} failed to run: ${(outA ? result.candidate : result.original).error}`;
      return result;
    }
    for (const name of a.outputNames) {
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
      result.outputs.push(compare(name, x, y));
    }
    result.minCosine = Math.min(...result.outputs.map((o) => o.cosine));
    result.ok = true;
    return result;
  } finally {
    await a.release();
    await b.release();
  }
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
): Promise<OrtTypes.InferenceSession.OnnxValueMapType | undefined> {
  try {
    const first = await session.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t0);
    }
    times.sort((p, q) => p - q);
    run.medianMs = round(times[Math.floor(times.length / 2)] ?? NaN);
    return first;
  } catch (e) {
    run.error = (e as Error).message;
    return undefined;
  }
}

/** Fixed-seed inputs from the graph's declared types and shapes. */
function synthesize(
  ort: Ort,
  index: ModelIndex,
  names: readonly string[],
  options: VerifyOptions,
  described: SynthesizedInput[],
): Feeds {
  const main = index.graphs[0];
  const random = mulberry32(options.seed ?? 1);
  const symbols = new Map<string, number>(Object.entries(options.dims ?? {}));
  const feeds: Feeds = {};
  for (const name of names) {
    const info = main.inputs.find((i) => i.name === name);
    if (!info || info.dtype === undefined || !info.shape)
      throw new Error(`input ${name} has no declared type or shape`);
    const dims = info.shape.map((d, axis) => {
      if (typeof d === 'number' && d >= 0) return d;
      const symbol = typeof d === 'string' && d ? d : `${name}:${axis}`;
      let v = symbols.get(symbol);
      if (v === undefined) {
        const lower = symbol.toLowerCase();
        v = lower.includes('past') ? 0 : lower.includes('batch') || axis === 0 ? 1 : 8;
        symbols.set(symbol, v);
      }
      return v;
    });
    const count = dims.reduce((p, q) => p * q, 1);
    const dtype = dataTypeName(info.dtype);
    const fill = options.fill?.[name] ?? (/mask/i.test(name) ? 1 : undefined);
    const rows = fill === undefined ? gatherRows(index, name) : undefined;
    const intMax = rows ?? 8;
    let values: string;
    let tensor: OrtTypes.Tensor;
    if (dtype === 'float32' || dtype === 'float64' || dtype === 'float16') {
      const f = Float32Array.from({ length: count }, () => fill ?? random() * 2 - 1);
      values = fill === undefined ? 'uniform[-1,1]' : `const ${fill}`;
      tensor =
        dtype === 'float16'
          ? new ort.Tensor('float16', encodeFloat16(f), dims)
          : dtype === 'float64'
            ? new ort.Tensor('float64', Float64Array.from(f), dims)
            : new ort.Tensor('float32', f, dims);
    } else if (dtype === 'bool') {
      values = fill === undefined ? 'false' : `const ${fill ? 'true' : 'false'}`;
      tensor = new ort.Tensor('bool', new Uint8Array(count).fill(fill ? 1 : 0), dims);
    } else {
      const ints = Array.from({ length: count }, () => fill ?? Math.floor(random() * intMax));
      values = fill === undefined ? `int[0,${intMax})` : `const ${fill}`;
      switch (dtype) {
        case 'int64':
          tensor = new ort.Tensor(
            'int64',
            BigInt64Array.from(ints, (v) => BigInt(v)),
            dims,
          );
          break;
        case 'int32':
          tensor = new ort.Tensor('int32', Int32Array.from(ints), dims);
          break;
        case 'uint8':
          tensor = new ort.Tensor('uint8', Uint8Array.from(ints), dims);
          break;
        case 'int8':
          tensor = new ort.Tensor('int8', Int8Array.from(ints), dims);
          break;
        default:
          throw new Error(`cannot synthesize input ${name} of type ${dtype}`);
      }
    }
    feeds[name] = tensor;
    described.push({ name, dtype, dims, values });
  }
  return feeds;
}

/** The smallest embedding table an input indexes (Gather indices, EmbedLayerNormalization ids), if any. */
function gatherRows(index: ModelIndex, input: string): number | undefined {
  // Ops that pass ids through unchanged on the way to a Gather.
  const passThrough = new Set(['Cast', 'Unsqueeze', 'Reshape', 'Squeeze', 'Flatten', 'Identity']);
  let rows: number | undefined;
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const n of index.nodes) {
      n.inputs.forEach((x, slot) => {
        if (x !== name) return;
        let table: string | undefined;
        if (n.opType === 'Gather' && slot === 1) table = n.inputs[0];
        if (n.opType === 'EmbedLayerNormalization' && (slot === 0 || slot === 1))
          table = n.inputs[slot === 0 ? 2 : 4];
        if (table) {
          const t = index.tensors.find((x2) => x2.name === table);
          if (t && t.dims.length >= 1) rows = Math.min(rows ?? Infinity, t.dims[0]);
        } else if (passThrough.has(n.opType) && slot === 0) visit(n.outputs[0]);
      });
    }
  };
  visit(input);
  return rows;
}

function compare(name: string, x: OrtTypes.Tensor, y: OrtTypes.Tensor): OutputMetrics {
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

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
