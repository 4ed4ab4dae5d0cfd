import type * as OrtTypes from 'onnxruntime-node';
import type { ModelIndex } from '../core/onnx/modelIndex';
import { dataTypeName } from '../core/tensor/dataType';
import { encodeFloat16 } from '../core/tensor/float16';
import { NpyError } from './readNpy';
import { readInputFiles } from './verifyModels';

type Ort = typeof OrtTypes;
export type Feeds = Record<string, OrtTypes.Tensor>;

/** How inputs are made: the same knobs, and the same defaults, as verifyModels' VerifyOptions. */
export interface FeedOptions {
  seed?: number;
  dims?: Record<string, number>;
  fill?: Record<string, number>;
  inputsDir?: string;
}

/**
 * The inputs verifyModels would feed: `.npy` files from `inputsDir` (of the input's own type), the rest
 * synthesized from the declared types and shapes with the same fixed-seed generator and the same rules
 * (symbolic dims: "past" 0, "batch" or the first axis 1, others 8; masks 1; ids below the smallest
 * embedding table they index, else 8; floats uniform in [-1, 1]), so a sensitivity run and a later
 * `quantize` verification see the same numbers. A copy, because verifyModels does not export its
 * synthesis; replace it by that one when it does. `described` receives one line per input.
 */
export function synthesizeFeeds(
  ort: Ort,
  index: ModelIndex,
  names: readonly string[],
  options: FeedOptions,
  described: string[],
): Feeds {
  const main = index.graphs[0];
  const random = mulberry32(options.seed ?? 1);
  const symbols = new Map<string, number>(Object.entries(options.dims ?? {}));
  const feeds: Feeds = {};
  const files = options.inputsDir ? readInputFiles(options.inputsDir, names) : {};
  for (const [name, { array, file }] of Object.entries(files)) {
    const info = main.inputs.find((i) => i.name === name);
    const dtype = info?.dtype === undefined ? undefined : dataTypeName(info.dtype);
    if (array.kind !== dtype)
      throw new NpyError(file, `is ${array.kind}; input ${name} is ${dtype} (save it with that dtype)`);
    info?.shape?.forEach((d, axis) => {
      if (typeof d === 'string' && d) symbols.set(d, array.shape[axis]);
    });
    feeds[name] = new ort.Tensor(dtype as OrtTypes.Tensor.Type, array.data as OrtTypes.Tensor.DataType, [
      ...array.shape,
    ]);
    described.push(`${name}: ${dtype}[${array.shape.join(',')}] from ${file}`);
  }
  for (const name of names) {
    if (feeds[name]) continue;
    const info = main.inputs.find((i) => i.name === name);
    if (!info || info.dtype === undefined) throw new Error(`input ${name} has no declared type`);
    if (!info.shape)
      throw new Error(`input ${name} has no declared shape: give it in --inputs as ${name}.npy`);
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
    const intMax = (fill === undefined ? gatherRows(index, name) : undefined) ?? 8;
    let tensor: OrtTypes.Tensor;
    let values: string;
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
      if (dtype === 'int64')
        tensor = new ort.Tensor(
          'int64',
          BigInt64Array.from(ints, (v) => BigInt(v)),
          dims,
        );
      else if (dtype === 'int32') tensor = new ort.Tensor('int32', Int32Array.from(ints), dims);
      else if (dtype === 'uint8') tensor = new ort.Tensor('uint8', Uint8Array.from(ints), dims);
      else if (dtype === 'int8') tensor = new ort.Tensor('int8', Int8Array.from(ints), dims);
      else throw new Error(`cannot synthesize input ${name} of type ${dtype}`);
    }
    feeds[name] = tensor;
    described.push(`${name}: ${dtype}[${dims.join(',')}] ${values}`);
  }
  return feeds;
}

/** The smallest embedding table an input indexes (Gather indices, EmbedLayerNormalization ids), if any. */
function gatherRows(index: ModelIndex, input: string): number | undefined {
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
          const t = index.tensors.find((t2) => t2.name === table);
          if (t && t.dims.length >= 1) rows = Math.min(rows ?? Infinity, t.dims[0]);
        } else if (passThrough.has(n.opType) && slot === 0) visit(n.outputs[0]);
      });
    }
  };
  visit(input);
  return rows;
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
