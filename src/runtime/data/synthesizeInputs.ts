import type * as OrtTypes from 'onnxruntime-node';
import type { ModelIndex } from '../../core/onnx/modelIndex';
import { dataTypeName } from '../../core/tensor/dataType';
import { encodeFloat16 } from '../../core/tensor/float16';
import { NpyError } from '../readNpy';
import type { Feeds, SynthesizedInput, VerifyOptions } from '../verifyModels';
import { npyToTensor, readInputFiles } from './npyInputs';

type Ort = typeof OrtTypes;

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
export function gatherRows(index: ModelIndex, input: string): number | undefined {
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
