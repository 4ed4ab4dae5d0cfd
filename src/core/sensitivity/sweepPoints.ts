import type { TensorSummary } from '../inspect/inspectReport';

// What a sweep measures and which tensors get one, apart from the sweep itself: the webview imports these,
// and the sweep's quantizer (with its WebAssembly kernels) stays out of its bundle.

/** The bit widths and magnitude sparsities a sweep measures. */
export const SWEEP_BITS = [2, 3, 4, 8] as const;
export const SWEEP_SPARSITY = [25, 50, 75] as const;

export type SweepBits = (typeof SWEEP_BITS)[number];
export type SweepSparsity = (typeof SWEEP_SPARSITY)[number];

/** Weight SQNR (dB) of one weight at each bit width and each magnitude sparsity. */
export interface WeightSweep {
  /** Blockwise round-to-nearest, asymmetric, along K (as MatMulNBits quantizes). */
  bits: Record<SweepBits, number>;
  /** The given percentage of the smallest magnitudes set to zero. */
  sparsity: Record<SweepSparsity, number>;
}

/** Element types a sweep reads (what `readFloat32` decodes). */
const FLOAT_DTYPES = new Set(['float32', 'float16', 'bfloat16', 'float64']);

/**
 * Whether the model editor sweeps a tensor: a learned float weight of two or more dimensions. Works on the
 * summary (the extension host and the webview decide without the index).
 */
export function isSweepable(t: Pick<TensorSummary, 'dtype' | 'dims' | 'learned'>): boolean {
  return t.learned && FLOAT_DTYPES.has(t.dtype) && t.dims.length >= 2 && t.dims.every((d) => d > 0);
}
