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
 * `[N, K]` (no transposed copy is made). When K is not a multiple of the block size the last block is
 * zero-padded: padding codes encode 0.0 (code = zp) and do not count in the block's min/max. (ORT's
 * Python quantizer passes the unpadded K to MLAS, which leaves the padding bytes as numpy's zeros and the
 * byte that holds the last real code with a stale neighbour in its unused half; MatMulNBits never reads
 * padding codes against real activations, so the output is the same.) Unused zero-point slots at the end
 * of a row hold 2^(bits-1), as MLAS writes them.
 */
export function quantizeBlockwise(
  weight: Float32Array,
  K: number,
  N: number,
  options: BlockwiseOptions,
  layout: 'KN' | 'NK' = 'KN',
): BlockwiseWeight {
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
  const qMax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const fp16 = scaleType === 'float16';
  const b = new Uint8Array(N * kBlocks * blob);
  const scales = new Float32Array(N * kBlocks);
  const scaleBits = fp16 ? new Uint16Array(N * kBlocks) : undefined;
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const zeroPoints = symmetric ? undefined : new Uint8Array(N * zpRow);
  if (zeroPoints) {
    // Every slot starts at the mid code; real blocks overwrite theirs.
    let fill = 0;
    for (let s = 0; s < 8; s += bits) fill |= mid << s;
    zeroPoints.fill(fill);
  }
  // Element (k, n) of the logical [K, N] weight.
  const kStride = layout === 'KN' ? N : 1;
  const nStride = layout === 'KN' ? 1 : K;
  let signalEnergy = 0;
  let errorEnergy = 0;

  for (let n = 0; n < N; n++) {
    for (let kb = 0; kb < kBlocks; kb++) {
      const k0 = kb * blockSize;
      const k1 = Math.min(K, k0 + blockSize);
      let min = FLT_MAX;
      let max = -FLT_MAX;
      for (let k = k0; k < k1; k++) {
        const v = weight[k * kStride + n * nStride];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const s = n * kBlocks + kb;
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
        const bit = kb * bits;
        const at = n * zpRow + (bit >>> 3);
        const shift = bit & 7;
        zeroPoints![at] = (zeroPoints![at] & ~(qMax << shift)) | (zp << shift);
      }
      let scale = scaleF;
      if (scaleBits) {
        const h = numberToFloat16Bits(scaleF);
        scaleBits[s] = h;
        scale = float16ToNumber(h);
      }
      scales[s] = scale;
      const r = scale !== 0 ? f32(1 / scale) : 0;
      const base = s * blob;
      for (let k = k0; k < k0 + blockSize; k++) {
        let q = zp;
        if (k < k1) {
          const v = weight[k * kStride + n * nStride];
          q = roundHalfAway(f32(f32(v * r) + zp));
          q = q < 0 ? 0 : q > qMax ? qMax : q;
          const d = v - f32((q - zp) * scale);
          signalEnergy += v * v;
          errorEnergy += d * d;
        }
        const bit = (k - k0) * bits;
        b[base + (bit >>> 3)] |= q << (bit & 7);
      }
    }
  }
  const scaleBytes = scaleBits
    ? new Uint8Array(scaleBits.buffer, scaleBits.byteOffset, scaleBits.byteLength)
    : new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength);
  return { K, N, kBlocks, b, scales, scaleBytes, zeroPoints, signalEnergy, errorEnergy };
}
