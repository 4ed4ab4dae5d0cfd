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
  pack(codes: number, b: number, n: number, nStride: number, blob: number, bits: number): void;
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
}

export const quantizeKernels = new SimdModule<QuantizeKernels>(kernels);

/** What the SIMD quantizers read from and write to the quantizer's state (see quantizeBlockwise.ts). */
export interface BlockQuantizer {
  bits: number;
  qMax: number;
  kBlocks: number;
  blob: number;
  blockSize: number;
  /** Filled in full: [N, k_blocks, blob]. */
  b: Uint8Array;
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
/** Stay well inside 32-bit addresses. */
export const MAX_BYTES = 1 << 30;

/** Whether the SIMD quantizer runs here (false when WebAssembly SIMD is missing or switched off). */
export function quantizeSimdAvailable(): boolean {
  return quantizeKernels.exports() !== undefined;
}
