/** Equal-width bins over [min, max] of the finite values (all counts zero when there are none). */
export interface Histogram {
  min: number;
  max: number;
  counts: number[];
}

/** N:M sparsity along the reduction axis: groups of M consecutive weights with at least M-N zeros. */
export interface NmCompliance {
  n: number;
  m: number;
  groups: number;
  compliant: number;
  /** compliant / groups (1 when the whole tensor follows the pattern). */
  ratio: number;
}

/** Output channels (rows or columns) whose weights are all zero. */
export interface ZeroChannels {
  /** The axis that indexes output channels. */
  axis: number;
  total: number;
  zero: number;
  /** Indices of the all-zero channels (at most the first 1,000). */
  indices: number[];
}

/**
 * Per-tensor statistics, accumulated in float64. min, max, mean, std and absMax cover the finite values and
 * are NaN (null in JSON) when there is none (an empty tensor, or only NaN and ±Inf).
 */
export interface TensorStats {
  count: number;
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation of the finite values. */
  std: number;
  /** Elements == 0 (incl. -0). */
  zeros: number;
  nan: number;
  inf: number;
  absMax: number;
  /** zeros / count. */
  sparsity: number;
  histogram: Histogram;
  /** |x| <= 1e-3 * absMax, zeros included: what magnitude pruning at a tiny threshold would remove. */
  nearZeros?: number;
  /** Percentiles of |x| (approximate, from a fine histogram of magnitudes): keys "50","90","99","99.9". */
  absPercentiles?: Record<string, number>;
  nm?: NmCompliance;
  zeroChannels?: ZeroChannels;
}

/** How the weight is laid out for its consumer: which axis is reduced and which indexes output channels. */
export interface WeightLayout {
  dims: number[];
  /** Axis summed over by the consuming op (MatMul B: 0; Gemm transB=1: 1; Conv W: 1 = input channels × kernel). */
  reductionAxis: number;
  /** Axis of output channels (MatMul B: 1; Gemm transB=1: 0; Conv W: 0). */
  channelAxis: number;
}
