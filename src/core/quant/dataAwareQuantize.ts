import { type BlockCodes, dequantizeBlockCodes, packBlockCodes, weightColumns } from './blockCodes';
import { gptqQuantize, type RowProgress } from './gptqQuantize';
import { gramError } from './gramMatrix';
import { jsProducts, type Products } from './products';
import type { BlockwiseOptions, BlockwiseWeight } from './quantizeBlockwise';
import { searchQuantize } from './searchQuantize';

/** How 4-bit (or 2/8-bit) codes are chosen: round-to-nearest, clipping search, or GPTQ. */
export type QuantMethod = 'rtn' | 'search' | 'gptq';
export const QUANT_METHODS: readonly QuantMethod[] = ['rtn', 'search', 'gptq'];

/** GPTQ needs this many calibration rows per row of K; below, a layer gets the clipping search. */
export const GPTQ_MIN_ROWS_PER_K = 4;

/** One layer quantized with the calibration activations, and what it gained over round-to-nearest. */
export interface DataAwareLayer {
  weight: BlockwiseWeight;
  /** The method whose codes were kept: the one asked for, or 'rtn' when it did worse on the objective. */
  kept: QuantMethod;
  /** ‖XW‖², ‖X(W−Q_rtn)‖² and ‖X(W−Q)‖² on the calibration rows. */
  signal: number;
  rtnError: number;
  error: number;
  /**
   * 'rtn-heldout': the method beat round-to-nearest on the calibration rows but lost on the held-out
   * evaluation rows, so the layer fell back to round-to-nearest.
   */
  fallback?: 'rtn-heldout';
  /** ‖X(W−Q_rtn)‖² and ‖X(W−Q_method)‖² on the held-out rows, when given. */
  heldOutRtnError?: number;
  heldOutError?: number;
}

/**
 * Quantizes one weight (stored as `layout`, times `alpha`, as quantizeBlockwise takes it) into MatMulNBits
 * layout with `method`, using the Gram matrix `gram` = XᵀX (`[K, K]`, symmetric) of the activations that
 * multiply it. The layer's output error ‖X(W−Q)‖² = Σ_n e_nᵀ H e_n is measured for round-to-nearest and for
 * the method's codes; the method's codes are kept unless they are worse than round-to-nearest's there (GPTQ
 * minimizes a dampened objective, so on a few calibration rows it can lose), so the kept layer is never
 * worse than RTN on the calibration activations. `rows`: how many activation rows `gram` sums; `products`
 * does the O(K²·N) matrix products.
 */
export async function quantizeDataAware(
  weight: Float32Array,
  K: number,
  N: number,
  options: BlockwiseOptions,
  layout: 'KN' | 'NK',
  alpha: number,
  gram: Float64Array,
  method: QuantMethod,
  progress?: RowProgress,
  rows = Infinity,
  heldOutGram?: Float64Array,
  products: Products = jsProducts,
): Promise<DataAwareLayer> {
  // With few calibration rows per input feature, XᵀX is singular or poorly estimated: GPTQ would push the
  // error into directions the calibration never saw (and new inputs do), so such a layer gets the
  // clipping search, which weighs only each block's own rows of XᵀX.
  const use: QuantMethod = method === 'gptq' && rows < GPTQ_MIN_ROWS_PER_K * K ? 'search' : method;
  const columns = weightColumns(weight, K, N, layout, alpha);
  const rtn = await searchQuantize(columns, K, N, gram, options, [1], products);
  const signal = await gramError(gram, K, N, columns, undefined, products);
  const errorOf = (bc: BlockCodes, h = gram) =>
    gramError(h, K, N, columns, dequantizeBlockCodes(bc), products);
  const rtnError = await errorOf(rtn);
  let chosen = rtn;
  let error = rtnError;
  if (use !== 'rtn') {
    const codes =
      use === 'search'
        ? await searchQuantize(columns, K, N, gram, options, undefined, products)
        : await gptqQuantize(Float64Array.from(columns), K, N, gram, options, progress, true, products);
    const e = await errorOf(codes);
    if (e <= rtnError) {
      chosen = codes;
      error = e;
    }
  }
  const result: Omit<DataAwareLayer, 'weight' | 'kept'> = { signal, rtnError, error };
  if (heldOutGram && chosen !== rtn) {
    // Judged again on activations the method never saw: a loss there means it fitted the calibration.
    const heldRtn = await errorOf(rtn, heldOutGram);
    const held = await errorOf(chosen, heldOutGram);
    result.heldOutRtnError = heldRtn;
    result.heldOutError = held;
    if (held > heldRtn) {
      chosen = rtn;
      result.error = rtnError;
      result.fallback = 'rtn-heldout';
    }
  }
  return { weight: packBlockCodes(chosen, columns), kept: chosen === rtn ? 'rtn' : use, ...result };
}

/** 10·log10(signal / error) in dB (Infinity for no error). */
export function layerSqnrDb(signal: number, error: number): number {
  return error === 0 ? Infinity : 10 * Math.log10(signal / error);
}
