import * as fs from 'node:fs';
import type * as OrtTypes from 'onnxruntime-node';
import type { ModelIndex } from '../core/onnx/modelIndex';
import { dataTypeName } from '../core/tensor/dataType';
import { decodeFloat16, encodeFloat16 } from '../core/tensor/float16';
import { openModel } from './openModel';
import { type NpyArray, NpyError, readNpy } from './readNpy';

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

/**
 * The inputs a comparison feeds: `.npy` files from `inputsDir` (converted to the input's type where the
 * values fit), the rest synthesized from the graph's declared types and shapes with a fixed seed.
 * `described` receives one entry per input.
 */
export function synthesizeFeeds(
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
  const modelSymbols = new Set(
    main.inputs.flatMap((i) => i.shape ?? []).filter((d) => typeof d === 'string'),
  );
  const files = options.inputsDir ? readInputFiles(options.inputsDir, names) : {};
  // Symbolic dims take their values from the files first, so synthesized inputs agree with them.
  for (const [name, { array, file }] of Object.entries(files)) {
    const info = main.inputs.find((i) => i.name === name);
    if (!info?.shape) continue;
    if (info.shape.length !== array.shape.length) {
      throw new NpyError(
        file,
        `has shape (${array.shape.join(', ')}); input ${name} has rank ${info.shape.length}`,
      );
    }
    info.shape.forEach((d, axis) => {
      const n = array.shape[axis];
      if (typeof d === 'number' && d >= 0) {
        if (d !== n) throw new NpyError(file, `axis ${axis} is ${n}; input ${name} declares ${d}`);
        return;
      }
      const symbol = typeof d === 'string' && d ? d : `${name}:${axis}`;
      const bound = symbols.get(symbol);
      if (bound !== undefined && bound !== n) {
        throw new NpyError(file, `axis ${axis} (${symbol}) is ${n}, but ${symbol} is ${bound} elsewhere`);
      }
      symbols.set(symbol, n);
    });
  }
  for (const name of names) {
    const info = main.inputs.find((i) => i.name === name);
    if (!info || info.dtype === undefined) throw new Error(`input ${name} has no declared type`);
    const given = files[name];
    if (given) {
      const { tensor, note } = npyToTensor(ort, given.array, dataTypeName(info.dtype), given.file);
      feeds[name] = tensor;
      described.push({
        name,
        dtype: dataTypeName(info.dtype),
        dims: given.array.shape,
        values: `from ${given.file}${note}`,
      });
      continue;
    }
    if (!info.shape)
      throw new Error(`input ${name} has no declared shape: give it in --inputs as ${name}.npy`);
    const dims = info.shape.map((d, axis) => {
      if (typeof d === 'number' && d >= 0) return d;
      const symbol = typeof d === 'string' && d ? d : `${name}:${axis}`;
      let v = symbols.get(symbol);
      if (v === undefined) {
        const lower = symbol.toLowerCase();
        // KV-cache models run with an empty past and the full window: the total length (attention_mask of
        // GenAI exports) is the sequence length given for the window.
        const window = [...symbols].find(
          ([k]) => /seq/i.test(k) && !/past|total/i.test(k) && modelSymbols.has(k),
        )?.[1];
        v = lower.includes('past')
          ? 0
          : lower.includes('total')
            ? (window ?? 8)
            : lower.includes('batch') || axis === 0
              ? 1
              : 8;
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
      // position_ids with an empty past are 0, 1, … along the window (per row), not random positions.
      const positions = fill === undefined && /position_ids/i.test(name) && dims.length > 0;
      const last = dims[dims.length - 1] || 1;
      const ints = positions
        ? Array.from({ length: count }, (_, i) => i % last)
        : Array.from({ length: count }, () => fill ?? Math.floor(random() * intMax));
      values = positions
        ? `0…${last - 1} per row`
        : fill === undefined
          ? `int[0,${intMax})`
          : `const ${fill}`;
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

/** A file name for an input name: characters a file name may not hold become `_`. */
export function npyFileName(input: string): string {
  return `${input.replace(/[^A-Za-z0-9._-]/g, '_')}.npy`;
}

/**
 * The `.npy` files of `dir` by input name (`NAME.npy`, or NAME with other characters than letters,
 * digits, `.`, `_` and `-` written as `_`). A file that names no input is an error (a typo would otherwise
 * silently fall back to synthesized values).
 */
export function readInputFiles(
  dir: string,
  inputNames: readonly string[],
): Record<string, { array: NpyArray; file: string }> {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.npy'));
  } catch (e) {
    throw new NpyError(dir, `cannot list the inputs folder: ${(e as Error).message}`);
  }
  const out: Record<string, { array: NpyArray; file: string }> = {};
  const used = new Set<string>();
  for (const name of inputNames) {
    const file = [`${name}.npy`, npyFileName(name)].find((f) => entries.includes(f));
    if (!file) continue;
    used.add(file);
    const full = `${dir}/${file}`;
    out[name] = { array: readNpy(full), file: full };
  }
  const stray = entries.filter((f) => !used.has(f));
  if (stray.length > 0) {
    throw new NpyError(
      `${dir}/${stray[0]}`,
      `names no input of the model (its inputs: ${inputNames.join(', ')}; expected files ${inputNames.map(npyFileName).join(', ')})`,
    );
  }
  return out;
}

const FLOAT_KINDS = new Set(['float16', 'float32', 'float64']);
const INT_RANGES: Record<string, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
};

/**
 * An ORT tensor of the input's type from a .npy array: the same type as is; float to float (rounded,
 * noted); integers and bools to a wider or equal integer type when every value fits; anything else is
 * refused with the reason.
 */
function npyToTensor(
  ort: Ort,
  a: NpyArray,
  dtype: string,
  file: string,
): { tensor: OrtTypes.Tensor; note: string } {
  const dims = a.shape;
  const note = a.kind === dtype ? '' : ` (${a.kind} → ${dtype})`;
  const numbers = (): number[] =>
    a.kind === 'float16'
      ? Array.from(decodeFloat16(a.data as Uint16Array))
      : Array.from(a.data as ArrayLike<number | bigint>, (v) => Number(v));
  if (a.kind === dtype) {
    const type = dtype as OrtTypes.Tensor.Type;
    return { tensor: new ort.Tensor(type, a.data as OrtTypes.Tensor.DataType, dims), note };
  }
  if (FLOAT_KINDS.has(dtype)) {
    if (a.kind === 'bool') throw new NpyError(file, `is bool; input wants ${dtype}`);
    const f = Float64Array.from(numbers());
    const tensor =
      dtype === 'float16'
        ? new ort.Tensor('float16', encodeFloat16(Float32Array.from(f)), dims)
        : dtype === 'float32'
          ? new ort.Tensor('float32', Float32Array.from(f), dims)
          : new ort.Tensor('float64', f, dims);
    return { tensor, note };
  }
  if (FLOAT_KINDS.has(a.kind))
    throw new NpyError(file, `is ${a.kind}; input wants ${dtype} (save it with that dtype)`);
  const values = numbers();
  if (dtype === 'bool') {
    if (values.some((v) => v !== 0 && v !== 1))
      throw new NpyError(file, `holds values other than 0/1; input wants bool`);
    return { tensor: new ort.Tensor('bool', Uint8Array.from(values), dims), note };
  }
  const range = INT_RANGES[dtype];
  const fits = (v: number) => (range ? v >= range[0] && v <= range[1] : Number.isSafeInteger(v));
  const bad = values.find((v) => !fits(v));
  if (bad !== undefined) throw new NpyError(file, `value ${bad} does not fit ${dtype}`);
  const tensor =
    dtype === 'int64'
      ? new ort.Tensor(
          'int64',
          BigInt64Array.from(values, (v) => BigInt(v)),
          dims,
        )
      : dtype === 'uint64'
        ? new ort.Tensor(
            'uint64',
            BigUint64Array.from(values, (v) => BigInt(v)),
            dims,
          )
        : dtype === 'int32'
          ? new ort.Tensor('int32', Int32Array.from(values), dims)
          : dtype === 'uint32'
            ? new ort.Tensor('uint32', Uint32Array.from(values), dims)
            : dtype === 'int16'
              ? new ort.Tensor('int16', Int16Array.from(values), dims)
              : dtype === 'uint16'
                ? new ort.Tensor('uint16', Uint16Array.from(values), dims)
                : dtype === 'int8'
                  ? new ort.Tensor('int8', Int8Array.from(values), dims)
                  : dtype === 'uint8'
                    ? new ort.Tensor('uint8', Uint8Array.from(values), dims)
                    : undefined;
  if (!tensor) throw new NpyError(file, `input type ${dtype} cannot be fed from a .npy file`);
  return { tensor, note };
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
