import kernels from './quantizeKernels.wat';
import { SimdModule } from './simdModule';

/** The exports of quantizeKernels.wat (addresses are byte offsets into its memory). */
export interface QuantizeKernels {
  resetEnergy(): void;
  signal(): number;
  error(): number;
  ranges(w: number, rows: number, n: number, mins: number, maxs: number): void;
  codes(
    w: number,
    rows: number,
    n: number,
    recip: number,
    zps: number,
    scale: number,
    codes: number,
    qmax: number,
  ): void;
  pack(codes: number, b: number, n: number, nStride: number, blob: number, bits: number, tmp: number): void;
  rangesNK(w: number, k: number, bs: number, mins: number, maxs: number): void;
  codesNK(
    w: number,
    k: number,
    bs: number,
    recip: number,
    zps: number,
    scale: number,
    codes: number,
    qmax: number,
  ): void;
  packRun(codes: number, count: number, b: number, bits: number): void;
  finite(p: number, n: number): number;
  params(
    mins: number,
    maxs: number,
    count: number,
    scale: number,
    recip: number,
    zps: number,
    out: number,
    outStride: number,
    zpOut: number,
    zpStride: number,
    bit: number,
    bitStep: number,
    bits: number,
    symmetric: number,
  ): void;
}

export const quantizeKernels = new SimdModule<QuantizeKernels>(kernels);

/**
 * A weight read as the quantizer goes, a few rows at a time, instead of whole: `fill(from, into)` puts its
 * values [from, from + into.length) (row-major, as stored) into `into` and says whether they are all
 * finite. `into` lies in the kernels' memory when the SIMD quantizers call it, so the values are read
 * straight where the kernels work on them, while they are in the cache.
 */
export interface WeightRows {
  readonly length: number;
  fill(from: number, into: Float32Array): boolean;
}

/** How a SIMD quantizer ended: done, stopped at a NaN or infinite value, or not run (no SIMD, too large). */
export type SimdOutcome = 'done' | 'notFinite' | 'unavailable';

/** Copies values [from, from + into.length) of `w` into `into`; whether they are all finite. */
export function fillRows(w: Float32Array | WeightRows, from: number, into: Float32Array): boolean {
  if (!(w instanceof Float32Array)) return w.fill(from, into);
  into.set(w.subarray(from, from + into.length));
  return true;
}

/**
 * Whether no value of `values` is NaN or infinite, checked on the kernels when `values` lie in their
 * memory; undefined otherwise.
 */
export function allFiniteInKernels(values: Float32Array): boolean | undefined {
  const k = quantizeKernels.exports();
  if (!k || values.buffer !== k.memory.buffer) return undefined;
  return k.finite(values.byteOffset, values.length) === 1;
}

/** What the SIMD quantizers read from and write to the quantizer's state (see quantizeBlockwise.ts). */
export interface BlockQuantizer {
  bits: number;
  qMax: number;
  kBlocks: number;
  blob: number;
  blockSize: number;
  symmetric: boolean;
  /** fp16 scales: their parameters come from `params` (BlockParams), in JS; float32 ones from the kernels. */
  fp16: boolean;
  /** Filled in full: [N, k_blocks, blob]. */
  b: Uint8Array;
  /** [N * k_blocks] scales and, asymmetric, the packed zero points ([N, zpRow], holding the mid code). */
  scales: Float32Array;
  zeroPoints?: Uint8Array;
  zpRow: number;
  signalEnergy: number;
  errorEnergy: number;
}

/**
 * Scale and zero point of block `kb` of column `n` from its min and max, through `out` (four values, as
 * blockScale writes them): [scale, 1 / scale, zp, the scale's fp16 bits].
 */
export type BlockParams = (n: number, kb: number, min: number, max: number, out: Float64Array) => void;

/** Initial running minimum and maximum of a block, as in the JS loops. */
export const FLT_MAX = 3.4028234663852886e38;

/**
 * The code written in the last block's padding (K not a multiple of the block): 0, what ORT's own quantizer
 * leaves there. MLAS `BlockwiseQuantizer::quantizeAndTranspose` (onnxruntime/core/mlas/lib/q4_dq.cpp) writes
 * codes for rows below K only, and `matmul_nbits_quantizer.py` (`qbits_block_quant`) hands it a buffer from
 * `np.zeros`; MatMulNBits never reads codes at K or beyond. (With an odd K, MLAS fills the other half of the
 * byte holding code K-1 with a leftover of the previous pair: no convention to copy, so 0 there too.)
 */
export const PAD_CODE = 0;
/** Stay well inside 32-bit addresses. */
export const MAX_BYTES = 1 << 30;

/** Whether the SIMD quantizer runs here (false when WebAssembly SIMD is missing or switched off). */
export function quantizeSimdAvailable(): boolean {
  return quantizeKernels.exports() !== undefined;
}

/**
 * Bytes of a weight's scales and of its packed zero points while the kernels compute them: none for fp16
 * scales, whose parameters `params` sets in JS straight into the quantizer's arrays.
 */
export function paramRegions(fp16: boolean, N: number, kBlocks: number, bits: number): [number, number] {
  return fp16 ? [0, 0] : [N * kBlocks * 4, N * Math.ceil((kBlocks * bits) / 8)];
}

/**
 * Before the kernels compute a weight's parameters: the zero points' initial bytes into their region at
 * `zpAt` (the kernels change only their own bits). Returns what copies the scales (at `scalesAt`) and
 * zero points back into the quantizer afterwards.
 */
export function paramsInKernels(q: BlockQuantizer, buffer: ArrayBuffer, scalesAt: number, zpAt: number) {
  const zp = q.zeroPoints && new Uint8Array(buffer, zpAt, q.zeroPoints.length);
  if (zp) zp.set(q.zeroPoints!);
  return () => {
    q.scales.set(new Float32Array(buffer, scalesAt, q.scales.length));
    if (zp) q.zeroPoints!.set(zp);
  };
}
