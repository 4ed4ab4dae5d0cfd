import { DataType } from '../tensor/dataType';
import { float16ToNumber, numberToFloat16Bits } from '../tensor/float16';

/** How to quantize one weight for a standard `DequantizeLinear`. */
export interface QdqOptions {
  bits: 4 | 8;
  /** Symmetric: signed codes, no zero point; asymmetric: a zero point per scale. */
  symmetric: boolean;
  /** The axis the scales follow (DequantizeLinear's `axis`, non-negative). */
  axis: number;
  /** Elements per scale along `axis` (opset 21 `block_size`); 0 = one scale per index of `axis`. */
  blockSize: number;
  /** The scales' type, which is also the dequantized weight's type. */
  scaleType: 'float32' | 'float16';
}

/** A weight as DequantizeLinear inputs, with what the rounding cost. */
export interface QdqWeight {
  dims: number[];
  /** INT4, UINT4 or INT8. */
  codeType: number;
  /** raw_data of x: little-endian, 4-bit codes two per byte (first element in the low nibble). */
  codes: Uint8Array;
  /** x_scale dims: x's dims with the blocked axis divided (rounded up) by the block size; `[C]` per axis. */
  scaleDims: number[];
  /** The stored scales as numbers (fp16-rounded for float16). */
  scales: Float32Array;
  scaleBytes: Uint8Array;
  /** raw_data of x_zero_point (codeType, scaleDims); undefined when symmetric. */
  zeroPoints?: Uint8Array;
  /** The zero points as numbers (0 when symmetric). */
  zeroPointValues: Int32Array;
  /** Σ w² and Σ (w - dequantized w)² (for the weight SQNR). */
  signalEnergy: number;
  errorEnergy: number;
}

const f32 = Math.fround;
const FLT_MAX = 3.4028234663852886e38;

/** Round half to even (QuantizeLinear's rounding; `nearbyint` in the default mode). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // halves go up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The code range and type of a bits/symmetry choice. */
export function qdqCodeType(bits: 4 | 8, symmetric: boolean): { type: number; qMin: number; qMax: number } {
  if (bits === 8) return { type: DataType.INT8, qMin: -128, qMax: 127 };
  return symmetric ? { type: DataType.INT4, qMin: -8, qMax: 7 } : { type: DataType.UINT4, qMin: 0, qMax: 15 };
}

/**
 * Round-to-nearest quantization of a float weight for `DequantizeLinear` (y = (x - zp) * scale), with the
 * rounding of `QuantizeLinear` (x = saturate(round_half_even(w / scale) + zp)), so a runtime's own
 * QuantizeLinear given these scales and zero points produces these codes. Scales follow `axis`, blocked by
 * `blockSize` (opset 21) or one per index (per-channel, opset 13). Per group of values, in float32
 * (the formulas of ONNX Runtime's quantization tool, `compute_scale_zp`):
 * - symmetric: amax = max |w|, scale = amax / qmax with qmax = 7 (int4) or 127 (int8); codes in
 *   [-qmax, qmax] (the most negative code is never used, so the range is symmetric);
 * - asymmetric: lo = min(wmin, 0), hi = max(wmax, 0), scale = (hi - lo) / (qmax - qmin),
 *   zp = clamp(round_half_even(qmin - lo / scale), qmin, qmax): uint4 [0, 15] or int8 [-128, 127];
 * - the scale is rounded to its stored type first (fp16 for fp16 weights) and the zero point and codes are
 *   computed from the stored value; a scale of 0 (an all-zero group) is stored as 1 (codes = zp, exact).
 * Values are read in memory order, twice (ranges, then codes), with one running group index.
 */
export function quantizeQdq(weight: Float32Array, dims: readonly number[], options: QdqOptions): QdqWeight {
  const { bits, symmetric, axis, blockSize, scaleType } = options;
  const rank = dims.length;
  if (!(Number.isInteger(axis) && axis >= 0 && axis < rank))
    throw new RangeError(`axis ${axis} is out of range for rank ${rank}`);
  if (!(Number.isInteger(blockSize) && blockSize >= 0))
    throw new RangeError(`invalid block size ${blockSize}`);
  let count = 1;
  for (const d of dims) count *= d;
  if (weight.length !== count)
    throw new RangeError(`weight holds ${weight.length} values, dims need ${count}`);

  const size = dims[axis];
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= dims[i];
  const inner = count / Math.max(1, outer * size);
  const blocks = blockSize > 0 ? Math.ceil(size / blockSize) : size;
  const scaleDims = blockSize > 0 ? dims.map((d, i) => (i === axis ? blocks : d)) : [size];
  const groups = blockSize > 0 ? outer * blocks * inner : size;
  const { type: codeType, qMin, qMax } = qdqCodeType(bits, symmetric);

  // Pass 1: range of every group.
  const mins = new Float32Array(groups).fill(FLT_MAX);
  const maxs = new Float32Array(groups).fill(-FLT_MAX);
  const groupOf = (o: number, j: number) =>
    blockSize > 0 ? (o * blocks + Math.floor(j / blockSize)) * inner : j;
  const perIndex = blockSize === 0;
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < size; j++) {
      const g0 = groupOf(o, j);
      for (let r = 0; r < inner; r++, i++) {
        const g = perIndex ? g0 : g0 + r;
        const v = weight[i];
        if (v < mins[g]) mins[g] = v;
        if (v > maxs[g]) maxs[g] = v;
      }
    }
  }

  // Scales and zero points.
  const fp16 = scaleType === 'float16';
  const scales = new Float32Array(groups);
  const scaleBits = fp16 ? new Uint16Array(groups) : undefined;
  const zeroPointValues = new Int32Array(groups);
  const qSym = qMax; // 7 or 127: symmetric codes stay in [-qMax, qMax]
  for (let g = 0; g < groups; g++) {
    let scaleF: number;
    let lo = 0;
    if (symmetric) {
      scaleF = f32(Math.max(Math.abs(mins[g]), Math.abs(maxs[g])) / qSym);
    } else {
      lo = Math.min(mins[g], 0);
      const hi = Math.max(maxs[g], 0);
      scaleF = f32(f32(hi - lo) / (qMax - qMin));
    }
    let scale = scaleF;
    if (scaleBits) scale = float16ToNumber(numberToFloat16Bits(scaleF));
    if (scale === 0) scale = 1;
    if (scaleBits) scaleBits[g] = numberToFloat16Bits(scale);
    scales[g] = scale;
    if (!symmetric) {
      const zp = roundHalfEven(f32(qMin - f32(lo / scale)));
      zeroPointValues[g] = zp < qMin ? qMin : zp > qMax ? qMax : zp;
    }
  }

  // Pass 2: codes.
  const four = bits === 4;
  const codes = new Uint8Array(four ? Math.ceil(count / 2) : count);
  let signal = 0;
  let error = 0;
  i = 0;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < size; j++) {
      const g0 = groupOf(o, j);
      for (let r = 0; r < inner; r++, i++) {
        const g = perIndex ? g0 : g0 + r;
        const v = weight[i];
        const scale = scales[g];
        const zp = zeroPointValues[g];
        let c = roundHalfEven(f32(v / scale)) + zp;
        c = c < qMin ? qMin : c > qMax ? qMax : c;
        if (four) codes[i >>> 1] |= (c & 15) << ((i & 1) << 2);
        else codes[i] = c & 255;
        const d = v - f32((c - zp) * scale);
        signal += v * v;
        error += d * d;
      }
    }
  }

  const scaleBytes = scaleBits
    ? new Uint8Array(scaleBits.buffer)
    : new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength);
  let zeroPoints: Uint8Array | undefined;
  if (!symmetric) {
    zeroPoints = new Uint8Array(four ? Math.ceil(groups / 2) : groups);
    for (let g = 0; g < groups; g++) {
      if (four) zeroPoints[g >>> 1] |= (zeroPointValues[g] & 15) << ((g & 1) << 2);
      else zeroPoints[g] = zeroPointValues[g] & 255;
    }
  }
  return {
    dims: [...dims],
    codeType,
    codes,
    scaleDims,
    scales,
    scaleBytes,
    zeroPoints,
    zeroPointValues,
    signalEnergy: signal,
    errorEnergy: error,
  };
}
