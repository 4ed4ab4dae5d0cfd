import { FormatError } from '../errors';
import type { ValueStream } from '../tensor/valueStream';

/** What a `DequantizeLinear` node says about its constant input x. */
export interface DequantizeLinearParams {
  /** Dims of x (the codes). */
  dims: number[];
  /** The scale values, and the scale's dims (`[]` or `[1]` per-tensor, `[C]` per-axis, x's rank blocked). */
  scale: Float64Array;
  scaleDims: number[];
  /** Zero points, shaped like the scale; 0 when absent. */
  zeroPoint?: Float64Array;
  /** The quantized axis (per-axis and blocked; negative counts from the end); ONNX's default is 1. */
  axis?: number;
  /** Opset 21 blocked quantization: elements per scale along `axis`; 0 or absent otherwise. */
  blockSize?: number;
}

type Mode = { kind: 'tensor' } | { kind: 'axis' | 'blocked'; inner: number; size: number; blocks: number };

function product(dims: readonly number[], from = 0, to = dims.length): number {
  let p = 1;
  for (let i = from; i < to; i++) p *= dims[i];
  return p;
}

/** Work out the quantization granularity and check the scale and zero point fit it (FormatError if not). */
function modeOf(params: DequantizeLinearParams): Mode {
  const { dims, scale, scaleDims, zeroPoint } = params;
  const blockSize = params.blockSize ?? 0;
  const shape = `scale [${scaleDims.join(', ')}] for x [${dims.join(', ')}]`;
  if (scale.length !== product(scaleDims)) {
    throw new FormatError(`scale has ${scale.length} values but dims [${scaleDims.join(', ')}]`);
  }
  if (zeroPoint !== undefined && zeroPoint.length !== scale.length) {
    throw new FormatError(`zero point has ${zeroPoint.length} values, the scale ${scale.length}`);
  }
  if (blockSize === 0 && scale.length === 1 && scaleDims.length <= 1) return { kind: 'tensor' };
  const rank = dims.length;
  const rawAxis = params.axis ?? 1;
  const axis = rawAxis < 0 ? rawAxis + rank : rawAxis;
  if (!(Number.isInteger(axis) && axis >= 0 && axis < rank)) {
    throw new FormatError(`axis ${rawAxis} is out of range for x of rank ${rank}`);
  }
  const inner = product(dims, axis + 1);
  if (blockSize === 0) {
    if (scaleDims.length !== 1 || scaleDims[0] !== dims[axis])
      throw new FormatError(`per-axis ${shape} on axis ${axis}`);
    return { kind: 'axis', inner, size: dims[axis], blocks: dims[axis] };
  }
  if (!(Number.isInteger(blockSize) && blockSize > 0))
    throw new FormatError(`invalid block_size ${blockSize}`);
  const blocks = Math.ceil(dims[axis] / blockSize);
  const fits =
    scaleDims.length === rank && scaleDims.every((d, i) => (i === axis ? d === blocks : d === dims[i]));
  if (!fits) throw new FormatError(`blocked ${shape} with block_size ${blockSize} on axis ${axis}`);
  return { kind: 'blocked', inner, size: dims[axis], blocks };
}

/**
 * The values `DequantizeLinear` produces from constant codes x: `(x - zero_point) * scale`, per tensor,
 * per axis, or blocked (opset 21: the scale has x's rank, the axis divided by block_size, rounded up).
 * Streams alongside x (Float64Array chunks, in x's order); FormatError when the parameters do not fit x.
 */
export function dequantizeLinearValues(x: ValueStream, params: DequantizeLinearParams): ValueStream {
  const mode = modeOf(params);
  const count = product(params.dims);
  if (x.count !== count)
    throw new FormatError(`x has ${x.count} values, its dims [${params.dims.join(', ')}] ${count}`);
  const { scale } = params;
  const zeroPoint = params.zeroPoint ?? new Float64Array(scale.length);
  const blockSize = params.blockSize ?? 0;
  return {
    count,
    *chunks() {
      let out = new Float64Array(0);
      // Position of the next element: along the axis (l), inside the inner block (j), and the outer index (o).
      let o = 0;
      let l = 0;
      let j = 0;
      for (const chunk of x.chunks()) {
        if (out.length < chunk.length) out = new Float64Array(chunk.length);
        const len = chunk.length;
        if (mode.kind === 'tensor') {
          const s = scale[0];
          const z = zeroPoint[0];
          for (let i = 0; i < len; i++) out[i] = (chunk[i] - z) * s;
        } else {
          const { inner, size, blocks } = mode;
          let i = 0;
          while (i < len) {
            const run = Math.min(inner - j, len - i);
            if (mode.kind === 'axis') {
              const s = scale[l];
              const z = zeroPoint[l];
              for (let k = i; k < i + run; k++) out[k] = (chunk[k] - z) * s;
            } else {
              // Scale index of (o, l, j): the scale has `blocks` entries along the axis.
              const base = (o * blocks + Math.floor(l / blockSize)) * inner + j - i;
              for (let k = i; k < i + run; k++) out[k] = (chunk[k] - zeroPoint[base + k]) * scale[base + k];
            }
            i += run;
            j += run;
            if (j === inner) {
              j = 0;
              if (++l === size) {
                l = 0;
                o++;
              }
            }
          }
        }
        yield out.subarray(0, len);
      }
    },
  };
}
