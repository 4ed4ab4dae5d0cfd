import type * as OrtTypes from 'onnxruntime-node';
import { type ConstantReader, type IntegerRange, integerInputRange } from '../../core/data/integerRange';
import type { ModelIndex, ValueInfo } from '../../core/onnx/modelIndex';
import { dataTypeName } from '../../core/tensor/dataType';
import { encodeFloat16 } from '../../core/tensor/float16';
import { tensorValues } from '../../core/tensor/tensorValues';
import type { OpenedModel } from '../openModel';
import { NpyError } from '../readNpy';
import type { Feeds, SynthesizedInput, VerifyOptions } from '../verifyModels';
import { npyToTensor, readInputFiles } from './npyInputs';

type Ort = typeof OrtTypes;

/** The size a free symbolic dim (not a batch, not a past length, not given or hinted) gets first. */
export const FREE_DIM = 8;

/** Reads small constants (≤ 64 values) of an opened model, for the integer-range tracing. */
export function constantReaderOf(
  model: Pick<OpenedModel, 'index' | 'source' | 'resolveExternal'>,
): ConstantReader {
  const byName = new Map(model.index.tensors.map((t) => [t.name, t]));
  return (name) => {
    const t = byName.get(name);
    if (!t || t.count > 64) return undefined;
    try {
      const out: number[] = [];
      for (const chunk of tensorValues(t, model.source, model.resolveExternal).chunks()) out.push(...chunk);
      return out;
    } catch {
      return undefined;
    }
  };
}

const rangeCache = new WeakMap<ModelIndex, Map<string, IntegerRange | undefined>>();

/** integerInputRange, remembered per model index (synthesis runs once per sample). */
export function inputRange(
  index: ModelIndex,
  input: string,
  read?: ConstantReader,
): IntegerRange | undefined {
  let cache = rangeCache.get(index);
  if (!cache) rangeCache.set(index, (cache = new Map()));
  if (!cache.has(input)) cache.set(input, integerInputRange(index, input, read));
  return cache.get(input);
}

/** Symbolic-dim hints in the model's metadata_props: a key naming a dim_param with an integer value. */
function metadataHints(index: ModelIndex): Map<string, number> {
  const hints = new Map<string, number>();
  for (const { key, value } of index.metadata) {
    const n = Number(value);
    if (Number.isInteger(n) && n > 0) hints.set(key, n);
  }
  return hints;
}

/** Names of dims that hold a sequence or sample count: they get the free size, and the retries. */
const LENGTH_NAMES = /seq|length|len\b|samples|time|frames|tokens/i;

/**
 * The value of axis `axis` of input `info` when the declaration leaves it open, and how it was chosen:
 * `--dims` by dim_param name, then by `INPUT:AXIS` / `INPUT.AXIS` (an exact dim_param match wins over
 * that reading, so a PyTorch input named `input.1` stays addressable), then a metadata_props hint, then
 * the defaults (past lengths 0, batch and first axes 1, the rest `freeDim`).
 */
export function resolveDim(
  index: ModelIndex,
  info: ValueInfo,
  axis: number,
  symbols: Map<string, number>,
  freeDim: number,
): { value: number; symbol: string; free: boolean } {
  const d = info.shape?.[axis];
  const symbol = typeof d === 'string' && d ? d : `${info.name}:${axis}`;
  const bound =
    symbols.get(symbol) ?? symbols.get(`${info.name}:${axis}`) ?? symbols.get(`${info.name}.${axis}`);
  if (bound !== undefined) return { value: bound, symbol, free: false };
  const hint = metadataHints(index).get(symbol);
  if (hint !== undefined) return { value: hint, symbol, free: false };
  const lower = symbol.toLowerCase();
  // KV-cache models run with an empty past and the full window: the total length (the attention_mask of
  // GenAI exports) is the window's length.
  if (lower.includes('total')) {
    const window = [...symbols].find(([k]) => /seq/i.test(k) && !/past|total/i.test(k))?.[1];
    return { value: window ?? freeDim, symbol, free: window === undefined };
  }
  if (lower.includes('past')) return { value: 0, symbol, free: false };
  if (lower.includes('batch') || (axis === 0 && !LENGTH_NAMES.test(lower)))
    return { value: 1, symbol, free: false };
  return { value: freeDim, symbol, free: true };
}

/**
 * The inputs a comparison feeds: `.npy` files from `inputsDir` (converted to the input's type where the
 * values fit), the rest synthesized from the graph's declared types and shapes with a fixed seed.
 * Shapes: `options.shapes` (whole shapes by input name), then resolveDim per open axis. Values: floats
 * uniform in [-1, 1]; integer ids in the range the model reads them in (embedding rows, OneHot depth, the
 * constants an Equal compares them with; [0, 8) when nothing tells); `*position*` ids count 0, 1, 2, …
 * along the last axis; masks 1. `described` receives one entry per input; `free` the open dims that got
 * the free size.
 */
export function synthesizeFeeds(
  ort: Ort,
  index: ModelIndex,
  names: readonly string[],
  options: VerifyOptions,
  described: SynthesizedInput[],
  readConstant?: ConstantReader,
  free?: Set<string>,
): Feeds {
  const main = index.graphs[0];
  const random = mulberry32(options.seed ?? 1);
  const dimParams = new Set(main.inputs.flatMap((i) => (i.shape ?? []).filter((d) => typeof d === 'string')));
  const inputNames = new Set(main.inputs.map((i) => i.name));
  const shapes: Record<string, number[]> = { ...options.shapes };
  const symbols = new Map<string, number>();
  for (const [key, value] of Object.entries(options.dims ?? {})) {
    // An exact input name (that is not also a dim_param) is that input's whole shape, of rank 1.
    if (inputNames.has(key) && !dimParams.has(key)) shapes[key] ??= [value];
    else symbols.set(key, value);
  }
  const freeDim = options.freeDim ?? FREE_DIM;
  const feeds: Feeds = {};
  const files = options.inputsDir ? readInputFiles(options.inputsDir, names) : {};
  const bindShape = (name: string, shape: readonly number[], where: string, fail: (why: string) => Error) => {
    const info = main.inputs.find((i) => i.name === name);
    if (!info?.shape) return;
    if (info.shape.length !== shape.length)
      throw fail(`has shape (${shape.join(', ')}); input ${name} has rank ${info.shape.length}`);
    info.shape.forEach((d, axis) => {
      const n = shape[axis];
      if (typeof d === 'number' && d >= 0) {
        if (d !== n) throw fail(`axis ${axis} is ${n}; input ${name} declares ${d}`);
        return;
      }
      const symbol = typeof d === 'string' && d ? d : `${name}:${axis}`;
      const bound = symbols.get(symbol);
      if (bound !== undefined && bound !== n)
        throw fail(`axis ${axis} (${symbol}) is ${n}, but ${symbol} is ${bound} ${where}`);
      symbols.set(symbol, n);
    });
  };
  // Symbolic dims take their values from the files and whole shapes first, so synthesized inputs agree.
  for (const [name, { array, file }] of Object.entries(files))
    bindShape(name, array.shape, 'elsewhere', (why) => new NpyError(file, why));
  for (const [name, shape] of Object.entries(shapes)) {
    if (files[name]) continue;
    bindShape(name, shape, 'in --dims', (why) => new Error(`--dims ${name}=${shape.join('x')}: ${why}`));
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
    const declared = info.shape ?? shapes[name];
    if (!declared)
      throw new Error(
        `input ${name} has no declared shape: give it in --inputs as ${name}.npy or as --dims ${name}=AxB`,
      );
    const dims = declared.map((d, axis) => {
      if (typeof d === 'number' && d >= 0) return d;
      const r = resolveDim(index, info, axis, symbols, freeDim);
      symbols.set(r.symbol, r.value);
      if (r.free) free?.add(r.symbol);
      return r.value;
    });
    const count = dims.reduce((p, q) => p * q, 1);
    const dtype = dataTypeName(info.dtype);
    const fill = options.fill?.[name] ?? (/mask/i.test(name) ? 1 : undefined);
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
      let ints: number[];
      const last = dims[dims.length - 1] ?? 1;
      if (fill !== undefined) {
        ints = new Array<number>(count).fill(fill);
        values = `const ${fill}`;
      } else if (/position/i.test(name) && dims.length >= 1) {
        ints = Array.from({ length: count }, (_, i) => i % last);
        values = `positions 0..${last - 1}`;
      } else {
        const range = inputRange(index, name, readConstant) ?? { lo: 0, hi: 8, why: '' };
        const pool = range.values;
        ints = Array.from({ length: count }, () =>
          pool
            ? pool[Math.floor(random() * pool.length)]
            : range.lo + Math.floor(random() * (range.hi - range.lo)),
        );
        values = pool ? `one of ${pool.slice(0, 4).join(', ')}` : `int[${range.lo},${range.hi})`;
        if (range.why) values += ` (${range.why})`;
      }
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
          tensor = new ort.Tensor(
            'uint8',
            Uint8Array.from(ints, (v) => Math.min(255, Math.max(0, v))),
            dims,
          );
          break;
        case 'int8':
          tensor = new ort.Tensor(
            'int8',
            Int8Array.from(ints, (v) => Math.min(127, Math.max(-128, v))),
            dims,
          );
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

/** A small seeded PRNG (mulberry32): uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
