import { type BlockParams, PAD_CODE, type WeightRows } from '../simd/quantizeKernels';
import { quantizeKNSimd } from '../simd/quantizeKNSimd';
import { quantizeNKSimd } from '../simd/quantizeNKSimd';
import { numberToFloat16Bits, float16ToNumber } from '../tensor/float16';

/** How to quantize one weight: the MatMulNBits attributes and the scales' float type. */
export interface BlockwiseOptions {
  bits: 2 | 4 | 8;
  /** Values of K per block: a power of two ≥ 16. */
  blockSize: number;
  /** Symmetric: no zero points (ORT's default 2^(bits-1)); asymmetric: packed zero points. */
  symmetric: boolean;
  /** The scales' type: the type of the MatMul's A (fp16 models store fp16 scales). */
  scaleType: 'float32' | 'float16';
}

/** A weight in MatMulNBits layout, with what the rounding cost. */
export interface BlockwiseWeight {
  K: number;
  N: number;
  kBlocks: number;
  /** uint8 `[N, k_blocks, block_size * bits / 8]`, codes low bits first. */
  b: Uint8Array;
  /** The stored scales `[N * k_blocks]` as numbers (already rounded to fp16 for float16). */
  scales: Float32Array;
  /** The scales' raw little-endian bytes in `scaleType`. */
  scaleBytes: Uint8Array;
  /** Packed uint8 `[N * ceil(k_blocks * bits / 8)]`; undefined when symmetric. */
  zeroPoints?: Uint8Array;
  /** Σ w² and Σ (w - dequantized w)² over the K×N real values (for the weight SQNR). */
  signalEnergy: number;
  errorEnergy: number;
}

const FLT_MAX = 3.4028234663852886e38;
const f32 = Math.fround;

/** C's roundf: halves away from zero (Math.round rounds -2.5 to -2). Exact for every float32 input. */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(0.5 - x) : Math.floor(x + 0.5);
}

/** Weight SQNR in dB from the energies (Infinity when the rounding was lossless). */
export function sqnrDb(signal: number, error: number): number {
  if (error === 0) return Infinity;
  return 10 * Math.log10(signal / error);
}

/**
 * Round-to-nearest blockwise quantization of a 2-D float weight into `com.microsoft::MatMulNBits` layout,
 * bit-identical to ONNX Runtime's default quantizer (MLAS `BlockwiseQuantizer::quantizeAndTranspose` in
 * onnxruntime/core/mlas/lib/q4_dq.cpp, reached from matmul_nbits_quantizer.py through
 * `quantize_matmul_4bits` / `quantize_matmul_8bits`). Per block of K values, all in float32:
 * - asymmetric (`range2scalezp`): lo = min(bmin, 0), hi = max(bmax, 0), scale = (hi - lo) / (2^bits - 1);
 *   zp = clamp(roundf(-lo / scale), 0, 2^bits - 1), computed from the float32 scale *before* it is stored
 *   as fp16 (a scale of 0 gives zp = 0);
 * - symmetric (`range2scale`): m = |bmax| > |bmin| ? bmax : bmin (a tie picks bmin), scale = -m / 2^(bits-1),
 *   zp = 2^(bits-1);
 * - codes: q = clamp(roundf(v * r + zp), 0, 2^bits - 1) with r = scale ? 1 / scale : 0, where `scale` is
 *   the stored (fp16-rounded for fp16) value and r is computed once per block. Two float32 roundings
 *   (product, then sum): MLAS is built without FMA contraction for this loop on x64.
 *
 * `layout` says how `weight` is stored: 'KN' is MatMul's B `[K, N]` row-major, 'NK' is Gemm's transB=1
 * `[N, K]` (no transposed copy is made: a 'KN' weight is read one block of rows at a time, in memory
 * order). `weight` may be a WeightRows, read a few rows at a time as the SIMD quantizers go (whole for
 * the JS loops). `alpha` (a Gemm's, folded into the weight) multiplies every value in float32 as it is read.
 * When K is not a multiple of the block size the last block is padded: padding codes are PAD_CODE (0) and
 * do not count in the block's min/max. Unused zero-point slots at the end of a row hold 2^(bits-1), as MLAS
 * writes them.
 */
export function quantizeBlockwise(
  weight: Float32Array,
  K: number,
  N: number,
  options: BlockwiseOptions,
  layout?: 'KN' | 'NK',
  alpha?: number,
): BlockwiseWeight;
/** A weight read as it is quantized (WeightRows): undefined when one of its values is NaN or infinite. */
export function quantizeBlockwise(
  weight: Float32Array | WeightRows,
  K: number,
  N: number,
  options: BlockwiseOptions,
  layout?: 'KN' | 'NK',
  alpha?: number,
): BlockwiseWeight | undefined;
export function quantizeBlockwise(
  weight: Float32Array | WeightRows,
  K: number,
  N: number,
  options: BlockwiseOptions,
  layout: 'KN' | 'NK' = 'KN',
  alpha = 1,
): BlockwiseWeight | undefined {
  const { bits, blockSize, symmetric, scaleType } = options;
  if (bits !== 2 && bits !== 4 && bits !== 8) throw new RangeError(`bits must be 2, 4 or 8, not ${bits}`);
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new RangeError(`block size must be a power of two >= 16, not ${blockSize}`);
  }
  if (!(Number.isSafeInteger(K) && K > 0 && Number.isSafeInteger(N) && N > 0)) {
    throw new RangeError(`K=${K}, N=${N} must be positive integers`);
  }
  if (weight.length !== K * N) throw new RangeError(`weight holds ${weight.length} values, K*N is ${K * N}`);

  const kBlocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const mid = 1 << (bits - 1);
  const fp16 = scaleType === 'float16';
  const q: Quantizer = {
    bits,
    qMax: (1 << bits) - 1,
    mid,
    symmetric,
    fp16,
    kBlocks,
    blob,
    blockSize,
    b: new Uint8Array(N * kBlocks * blob),
    scales: new Float32Array(N * kBlocks),
    scaleBits: fp16 ? new Uint16Array(N * kBlocks) : undefined,
    zpRow: Math.ceil((kBlocks * bits) / 8),
    zeroPoints: undefined,
    signalEnergy: 0,
    errorEnergy: 0,
  };
  if (!symmetric) {
    q.zeroPoints = new Uint8Array(N * q.zpRow);
    // Every slot starts at the mid code; real blocks overwrite theirs.
    let fill = 0;
    for (let s = 0; s < 8; s += bits) fill |= mid << s;
    q.zeroPoints.fill(fill);
  }
  const a = Math.fround(alpha);
  const params: BlockParams = (n, kb, min, max, out) => blockParams(q, n, kb, min, max, out);
  const simd =
    a !== 1 ? 'unavailable' : (layout === 'NK' ? quantizeNKSimd : quantizeKNSimd)(q, weight, K, N, params);
  if (simd === 'notFinite') return undefined;
  if (simd === 'unavailable') {
    // The JS loops take the whole weight.
    const w = weight instanceof Float32Array ? weight : whole(weight);
    if (!w) return undefined;
    (layout === 'NK' ? quantizeNK : quantizeKN)(q, w, K, N, a);
  }
  const { b, scales, scaleBits, zeroPoints, signalEnergy, errorEnergy } = q;
  const scaleBytes = scaleBits
    ? new Uint8Array(scaleBits.buffer, scaleBits.byteOffset, scaleBits.byteLength)
    : new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength);
  return { K, N, kBlocks, b, scales, scaleBytes, zeroPoints, signalEnergy, errorEnergy };
}

/** A weight read whole, or undefined when one of its values is NaN or infinite. */
function whole(w: WeightRows): Float32Array | undefined {
  const values = new Float32Array(w.length);
  return w.fill(0, values) ? values : undefined;
}

/** The state one quantization fills in. */
interface Quantizer {
  bits: number;
  qMax: number;
  mid: number;
  symmetric: boolean;
  fp16: boolean;
  kBlocks: number;
  blob: number;
  blockSize: number;
  b: Uint8Array;
  scales: Float32Array;
  scaleBits?: Uint16Array;
  zpRow: number;
  zeroPoints?: Uint8Array;
  signalEnergy: number;
  errorEnergy: number;
}

/**
 * Scale and zero point of one block from its min and max, as MLAS computes them (see quantizeBlockwise):
 * `out` receives the stored scale (fp16-rounded when `fp16`), its float32 reciprocal, the zero point and
 * the scale's fp16 bits (0 for float32). Shared with the data-aware quantizers, whose candidates are RTN
 * parameters of a clipped or updated block.
 */
export function blockScale(
  min: number,
  max: number,
  bits: number,
  symmetric: boolean,
  fp16: boolean,
  out: Float64Array,
): void {
  const mid = 1 << (bits - 1);
  const qMax = (1 << bits) - 1;
  let scaleF: number;
  let zp = mid;
  if (symmetric) {
    const m = Math.abs(max) > Math.abs(min) ? max : min;
    scaleF = f32(-m / mid);
  } else {
    const lo = Math.min(min, 0);
    const hi = Math.max(max, 0);
    scaleF = f32(f32(hi - lo) / qMax);
    const zpF = scaleF !== 0 ? -f32(lo / scaleF) : lo;
    zp = zpF < 0 ? 0 : zpF > qMax ? qMax : roundHalfAway(zpF);
  }
  let scale = scaleF;
  let h = 0;
  if (fp16) {
    h = numberToFloat16Bits(scaleF);
    scale = float16ToNumber(h);
  }
  out[0] = scale;
  out[1] = scale !== 0 ? f32(1 / scale) : 0;
  out[2] = zp;
  out[3] = h;
}

/** The code of `v` in a block with reciprocal scale `recip` and zero point `zp` (MLAS's float32 steps). */
export function quantCode(v: number, recip: number, zp: number, qMax: number): number {
  const c = (f32(f32(v * recip) + zp) + 0.5) | 0;
  return c < 0 ? 0 : c > qMax ? qMax : c;
}

/**
 * Scale and zero point of block `kb` of column `n` from its min and max; stores them and returns the
 * stored scale, its reciprocal and the zero point through `out`.
 */
function blockParams(q: Quantizer, n: number, kb: number, min: number, max: number, out: Float64Array): void {
  blockScale(min, max, q.bits, q.symmetric, q.fp16, out);
  const zp = out[2];
  if (!q.symmetric) {
    const bit = kb * q.bits;
    const at = n * q.zpRow + (bit >>> 3);
    const shift = bit & 7;
    q.zeroPoints![at] = (q.zeroPoints![at] & ~(q.qMax << shift)) | (zp << shift);
  }
  const s = n * q.kBlocks + kb;
  if (q.scaleBits) q.scaleBits[s] = out[3];
  q.scales[s] = out[0];
}

/**
 * MatMul's B [K, N]: one block of rows at a time, each row read in memory order; the block's N columns
 * keep their running min/max, then their codes go, row by row, into a small [block, N] buffer that is
 * packed column by column into the transposed layout. Each step is its own small function, called once
 * per block: V8 optimizes small hot functions with full type feedback (one big function with several
 * loops keeps deoptimizing as on-stack replacement reaches loops that have not run yet).
 */
function quantizeKN(q: Quantizer, w: Float32Array, K: number, N: number, alpha: number): void {
  const { blockSize, kBlocks, blob, bits, b } = q;
  const s: KNState = {
    mins: new Float32Array(N),
    maxs: new Float32Array(N),
    scale: new Float32Array(N),
    recip: new Float32Array(N),
    zps: new Float32Array(N),
    codes: new Uint8Array(blockSize * N),
    energy: new Float64Array(2),
  };
  const params = new Float64Array(4);
  for (let kb = 0; kb < kBlocks; kb++) {
    const k0 = kb * blockSize;
    const k1 = Math.min(K, k0 + blockSize);
    s.mins.fill(FLT_MAX);
    s.maxs.fill(-FLT_MAX);
    rangesKN(w, k0 * N, k1 * N, N, alpha, s.mins, s.maxs);
    for (let n = 0; n < N; n++) {
      blockParams(q, n, kb, s.mins[n], s.maxs[n], params);
      s.scale[n] = params[0];
      s.recip[n] = params[1];
      s.zps[n] = params[2];
    }
    codesKN(w, k0 * N, k1 * N, N, alpha, q.qMax, s);
    s.codes.fill(PAD_CODE, (k1 - k0) * N);
    packKN(s.codes, b, N, kBlocks * blob, kb * blob, blob, bits);
  }
  q.signalEnergy = s.energy[0];
  q.errorEnergy = s.energy[1];
}

interface KNState {
  mins: Float32Array;
  maxs: Float32Array;
  scale: Float32Array;
  recip: Float32Array;
  zps: Float32Array;
  /** [blockSize, N] codes of the current block of rows. */
  codes: Uint8Array;
  /** Σ w², Σ (w - dequantized)². */
  energy: Float64Array;
}

/** Running min/max per column over rows [from, to) (element offsets) of a row-major [*, N] weight. */
function rangesKN(
  w: Float32Array,
  from: number,
  to: number,
  N: number,
  alpha: number,
  mins: Float32Array,
  maxs: Float32Array,
): void {
  for (let row = from; row < to; row += N) {
    for (let n = 0; n < N; n++) {
      const v = alpha === 1 ? w[row + n] : f32(w[row + n] * alpha);
      if (v < mins[n]) mins[n] = v;
      if (v > maxs[n]) maxs[n] = v;
    }
  }
}

/**
 * Codes of rows [from, to) into s.codes, row by row. `roundf(x)` is `(x + 0.5) | 0` here: they differ only
 * for negative x, which the clamp at 0 maps to 0 either way (x stays far below 2^31).
 */
function codesKN(
  w: Float32Array,
  from: number,
  to: number,
  N: number,
  alpha: number,
  qMax: number,
  s: KNState,
): void {
  const { codes, recip, zps, scale } = s;
  let signal = 0;
  let error = 0;
  for (let row = from, at = 0; row < to; row += N, at += N) {
    for (let n = 0; n < N; n++) {
      const v = alpha === 1 ? w[row + n] : f32(w[row + n] * alpha);
      const zp = zps[n];
      let c = (f32(f32(v * recip[n]) + zp) + 0.5) | 0;
      c = c < 0 ? 0 : c > qMax ? qMax : c;
      codes[at + n] = c;
      const d = v - f32((c - zp) * scale[n]);
      signal += v * v;
      error += d * d;
    }
  }
  s.energy[0] += signal;
  s.energy[1] += error;
}

/** Packs a [blockSize, N] block of codes column by column into b's [N, k_blocks, blob] layout. */
function packKN(
  codes: Uint8Array,
  b: Uint8Array,
  N: number,
  nStride: number,
  blockBase: number,
  blob: number,
  bits: number,
): void {
  const perByte = 8 / bits;
  for (let n = 0; n < N; n++) {
    const base = n * nStride + blockBase;
    for (let j = 0, r = 0; j < blob; j++) {
      let byte = 0;
      for (let sh = 0; sh < perByte; sh++, r++) byte |= codes[r * N + n] << (sh * bits);
      b[base + j] = byte;
    }
  }
}

/** Gemm's transB=1 B [N, K]: every block is a contiguous run of one row. */
function quantizeNK(q: Quantizer, w: Float32Array, K: number, N: number, alpha: number): void {
  const energy = new Float64Array(2);
  const params = new Float64Array(4);
  for (let n = 0; n < N; n++) quantizeRowNK(q, w, n * K, n, K, alpha, params, energy);
  q.signalEnergy = energy[0];
  q.errorEnergy = energy[1];
}

/** The k_blocks blocks of one row of an [N, K] weight. */
function quantizeRowNK(
  q: Quantizer,
  w: Float32Array,
  row: number,
  n: number,
  K: number,
  alpha: number,
  params: Float64Array,
  energy: Float64Array,
): void {
  const { blockSize, kBlocks, blob, qMax, bits, b } = q;
  let signal = 0;
  let error = 0;
  for (let kb = 0; kb < kBlocks; kb++) {
    const k0 = kb * blockSize;
    const k1 = Math.min(K, k0 + blockSize);
    let min = FLT_MAX;
    let max = -FLT_MAX;
    for (let k = k0; k < k1; k++) {
      const v = alpha === 1 ? w[row + k] : f32(w[row + k] * alpha);
      if (v < min) min = v;
      if (v > max) max = v;
    }
    blockParams(q, n, kb, min, max, params);
    const scale = params[0];
    const r = params[1];
    const zp = params[2];
    const base = (n * kBlocks + kb) * blob;
    for (let k = k0; k < k0 + blockSize; k++) {
      let c = PAD_CODE;
      if (k < k1) {
        const v = alpha === 1 ? w[row + k] : f32(w[row + k] * alpha);
        c = (f32(f32(v * r) + zp) + 0.5) | 0;
        c = c < 0 ? 0 : c > qMax ? qMax : c;
        const d = v - f32((c - zp) * scale);
        signal += v * v;
        error += d * d;
      }
      const bit = (k - k0) * bits;
      b[base + (bit >>> 3)] |= c << (bit & 7);
    }
  }
  energy[0] += signal;
  energy[1] += error;
}
