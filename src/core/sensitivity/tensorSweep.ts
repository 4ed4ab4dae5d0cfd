import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex, TensorInfo } from '../onnx/modelIndex';
import { readFloat32 } from '../quant/planQuantize';
import { DataType } from '../tensor/dataType';
import type { WeightSweep } from './sweepPoints';
import { weightSweep, type SweepOptions } from './weightSweep';

const FLOAT_CODES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

/** How the sweep reads a weight: its K (the quantized axis) and N, and the quantizer's options. */
export interface SweepShape extends Required<Pick<SweepOptions, 'layout' | 'alpha'>> {
  K: number;
  N: number;
}

/**
 * K, N and layout as the weight's reader quantizes it: MatMul's B `[K, N]`; Gemm's B by transB (with
 * alpha folded in); any other weight of 2+ dims as `[dims[0], rest]` with blocks along the rest, the way a
 * Conv weight `[O, I, k…]` is blocked per output channel. The first MatMul/Gemm reader decides, as in
 * `big-shrink sensitivity`, so the editor's figures equal the CLI's.
 */
export function sweepShape(index: ModelIndex, t: TensorInfo): SweepShape {
  const rest = t.dims.slice(1).reduce((a, b) => a * b, 1);
  for (const c of t.consumers) {
    const node = index.nodes[c.nodeId];
    if (c.input !== 1 || t.dims.length !== 2) continue;
    if (node.opType === 'MatMul') return { K: t.dims[0], N: t.dims[1], layout: 'KN', alpha: 1 };
    if (node.opType !== 'Gemm') continue;
    const attr = (name: string) => node.attributes.find((a) => a.name === name);
    const alpha = attr('alpha')?.f ?? 1;
    return attr('transB')?.i
      ? { K: t.dims[1], N: t.dims[0], layout: 'NK', alpha }
      : { K: t.dims[0], N: t.dims[1], layout: 'KN', alpha };
  }
  if (t.dims.length === 2) return { K: t.dims[0], N: t.dims[1], layout: 'KN', alpha: 1 };
  return { K: rest, N: t.dims[0], layout: 'NK', alpha: 1 };
}

/**
 * The data-free sweep (weight SQNR at 2/3/4/8 bits and 25/50/75% sparsity) of tensor `tensorId`, read
 * from the file. Throws a RangeError naming the reason when the tensor cannot be swept (not a float
 * weight of 2+ dims, or NaN/Inf values).
 */
export function tensorSweep(
  index: ModelIndex,
  tensorId: number,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  options: { blockSize?: number } = {},
): WeightSweep {
  const t = index.tensors[tensorId];
  if (!t) throw new RangeError(`no tensor #${tensorId}`);
  if (!FLOAT_CODES.has(t.dtype)) throw new RangeError('a sweep needs float values');
  if (t.dims.length < 2 || t.count === 0) throw new RangeError('a sweep needs a weight of 2 or more dims');
  const values = readFloat32(t, source, resolveExternal);
  if (!values) throw new RangeError('holds NaN or Inf values');
  const { K, N, layout, alpha } = sweepShape(index, t);
  return weightSweep(values, K, N, {
    blockSize: options.blockSize ?? 32,
    layout,
    alpha,
    scaleType: t.dtype === DataType.FLOAT16 ? 'float16' : 'float32',
  });
}
