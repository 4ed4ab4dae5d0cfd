import { type BlockwiseOptions, type BlockwiseWeight, blockScale } from './quantizeBlockwise';

/**
 * A weight quantized block by block along K, before packing: one code per value of every block (padding
 * included) and the stored scale and zero point of every block, column by column. The data-aware
 * quantizers fill one in; `packBlockCodes` turns it into the MatMulNBits layout quantizeBlockwise makes,
 * so only the values differ from round-to-nearest, never the layout.
 */
export interface BlockCodes {
  K: number;
  N: number;
  kBlocks: number;
  options: BlockwiseOptions;
  qMax: number;
  /** `[N, kBlocks * blockSize]` codes. */
  codes: Uint8Array;
  /** `[N * kBlocks]` stored scales (fp16-rounded for float16), their fp16 bits, reciprocals, zero points. */
  scales: Float32Array;
  scaleBits: Uint16Array;
  recips: Float32Array;
  zps: Uint8Array;
}

export function emptyBlockCodes(K: number, N: number, options: BlockwiseOptions): BlockCodes {
  const kBlocks = Math.ceil(K / options.blockSize);
  return {
    K,
    N,
    kBlocks,
    options,
    qMax: (1 << options.bits) - 1,
    codes: new Uint8Array(N * kBlocks * options.blockSize),
    scales: new Float32Array(N * kBlocks),
    scaleBits: new Uint16Array(N * kBlocks),
    recips: new Float32Array(N * kBlocks),
    zps: new Uint8Array(N * kBlocks),
  };
}

/** Sets block `kb` of column `n` to the RTN parameters of the range [min, max]; returns the block's slot. */
export function setBlockRange(
  bc: BlockCodes,
  n: number,
  kb: number,
  min: number,
  max: number,
  tmp: Float64Array,
) {
  const { bits, symmetric, scaleType } = bc.options;
  blockScale(min, max, bits, symmetric, scaleType === 'float16', tmp);
  const s = n * bc.kBlocks + kb;
  bc.scales[s] = tmp[0];
  bc.recips[s] = tmp[1];
  bc.zps[s] = tmp[2];
  bc.scaleBits[s] = tmp[3];
  return s;
}

/**
 * The weight as columns: `[N, K]` float64 holding W's float32 values (times `alpha`, rounded to float32
 * as quantizeBlockwise reads them), whichever layout it is stored in (MatMul B `[K, N]`, Gemm transB=1
 * `[N, K]`).
 */
export function weightColumns(
  weight: Float32Array,
  K: number,
  N: number,
  layout: 'KN' | 'NK',
  alpha = 1,
): Float64Array {
  const a = Math.fround(alpha);
  const out = new Float64Array(N * K);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const v = layout === 'KN' ? weight[k * N + n] : weight[n * K + k];
      out[n * K + k] = a === 1 ? v : Math.fround(v * a);
    }
  }
  return out;
}

/** The dequantized weight `(code - zp) * scale` as `[N, K]` float64 (padding dropped). */
export function dequantizeBlockCodes(bc: BlockCodes): Float64Array {
  const { K, N, kBlocks } = bc;
  const bs = bc.options.blockSize;
  const out = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const s = n * kBlocks + ((k / bs) | 0);
      out[n * K + k] = Math.fround((bc.codes[n * kBlocks * bs + k] - bc.zps[s]) * bc.scales[s]);
    }
  }
  return out;
}

/**
 * Packs codes, scales and zero points into the MatMulNBits tensors (B `[N, kBlocks, blockSize*bits/8]`
 * low bits first, scales in the scale type, packed zero points with unused slots at 2^(bits-1)), the
 * layout quantizeBlockwise writes; the energies are those of `columns` against the dequantized weight.
 */
export function packBlockCodes(bc: BlockCodes, columns: Float64Array): BlockwiseWeight {
  const { K, N, kBlocks, options } = bc;
  const { bits, blockSize, symmetric, scaleType } = options;
  const blob = (blockSize * bits) / 8;
  const b = new Uint8Array(N * kBlocks * blob);
  for (let i = 0, bit = 0; i < bc.codes.length; i++, bit += bits) b[bit >>> 3] |= bc.codes[i] << (bit & 7);
  let zeroPoints: Uint8Array | undefined;
  if (!symmetric) {
    const zpRow = Math.ceil((kBlocks * bits) / 8);
    zeroPoints = new Uint8Array(N * zpRow);
    const mid = 1 << (bits - 1);
    let fill = 0;
    for (let s = 0; s < 8; s += bits) fill |= mid << s;
    zeroPoints.fill(fill);
    for (let n = 0; n < N; n++) {
      for (let kb = 0; kb < kBlocks; kb++) {
        const bit = kb * bits;
        const at = n * zpRow + (bit >>> 3);
        const shift = bit & 7;
        zeroPoints[at] = (zeroPoints[at] & ~(bc.qMax << shift)) | (bc.zps[n * kBlocks + kb] << shift);
      }
    }
  }
  const scales = Float32Array.from(bc.scales);
  const raw = scaleType === 'float16' ? Uint16Array.from(bc.scaleBits) : scales;
  const scaleBytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  const dq = dequantizeBlockCodes(bc);
  let signalEnergy = 0;
  let errorEnergy = 0;
  for (let i = 0; i < dq.length; i++) {
    signalEnergy += columns[i] * columns[i];
    errorEnergy += (columns[i] - dq[i]) ** 2;
  }
  return { K, N, kBlocks, b, scales, scaleBytes, zeroPoints, signalEnergy, errorEnergy };
}
