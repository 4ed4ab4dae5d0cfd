import { type BlockCodes, emptyBlockCodes } from './blockCodes';
import { PAD_CODE } from '../simd/quantizeKernels';
import { chunkRows, dot, jsProducts, type Products } from './products';
import { type BlockwiseOptions, quantCode } from './quantizeBlockwise';
import { CLIP_RATIOS, clipPairs, RTN_PAIR, searchBlocks, unseenBlocks } from './searchQuantize';

/** GPTQ's dampening: λ = DAMP · mean(diag H) is added to the diagonal. */
export const GPTQ_DAMP = 0.01;

/** Reports rows of K done (for progress) and may throw to stop. */
export type RowProgress = (done: number, total: number) => void;

/**
 * Rows of K taken together: inside a batch the updates run row by row; the rows after it get the batch's
 * errors at once, as one matrix product (GPTQ's "lazy batch" updates, the same arithmetic in another
 * order). Also the block size of the Cholesky factor and the triangular inverse.
 */
export const GPTQ_BATCH = 128;

/**
 * GPTQ (Frantar et al. 2022, "Accurate Post-Training Quantization for Generative Pre-trained
 * Transformers") with MatMulNBits blocks: the rows of K are quantized in order, every output column at
 * once, and each row's rounding error is spread over the rows not yet quantized so that the layer's output
 * on the calibration activations (Gram matrix H = XᵀX) moves as little as possible. Steps, in float64:
 * H + λI (λ = 0.01 · mean diag; a row never activated keeps only λ, so its error goes nowhere), its inverse
 * through Cholesky, the upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU); then for row k: on entering a block,
 * every column's scale and zero point come from the block's current (already updated) values, by the
 * clipping search on the block's rows of H (`clip`, the default) or by round-to-nearest's rule; q = code of
 * w_k; w_j -= (w_k − dq(q)) / U_kk · U_kj for j > k. With H = I nothing spreads: the codes are the
 * clipping search's (without `clip`, round-to-nearest's). `columns` (`[N, K]`) is updated in place; the
 * O(K²·N) updates go through `products`.
 */
export async function gptqQuantize(
  columns: Float64Array,
  K: number,
  N: number,
  gram: Float64Array,
  options: BlockwiseOptions,
  progress?: RowProgress,
  clip = true,
  products: Products = jsProducts,
): Promise<BlockCodes> {
  const bc = emptyBlockCodes(K, N, options);
  const bs = options.blockSize;
  const u = await gptqFactor(gram, K, products);
  const pairs = clipPairs(clip ? CLIP_RATIOS : [1], options.symmetric);
  const f32 = Math.fround;
  const row = bc.kBlocks * bs;
  // Blocks holding an input channel the calibration never reached take round-to-nearest's range of the
  // original weights: those channels are never updated (no energy, no coupling), so they keep RTN's codes.
  const unseen = unseenBlocks(gram, K, bs);
  const original = unseen.some(Boolean) ? Float64Array.from(columns) : columns;
  // Whole quantization blocks per batch, so a block's range is searched once its rows are up to date.
  const batch = Math.max(1, Math.floor(GPTQ_BATCH / bs)) * bs;
  for (let k0 = 0; k0 < K; k0 += batch) {
    const k1 = Math.min(K, k0 + batch);
    const width = k1 - k0;
    // errors[n·width + k − k0]: row k's rounding error of column n over U_kk, for the rows after the batch.
    const errors = new Float64Array(N * width);
    for (let k = k0; k < k1; k++) {
      const kb = (k / bs) | 0;
      if (k % bs === 0) {
        const end = Math.min(K, k + bs);
        if (unseen[kb]) await searchBlocks(bc, original, k, end, gram, RTN_PAIR, products);
        else await searchBlocks(bc, columns, k, end, gram, pairs, products);
        for (let n = 0; n < N; n++) bc.codes.fill(PAD_CODE, n * row + end, n * row + k + bs);
        progress?.(k, K);
      }
      const d = u[k * K + k];
      for (let n = 0; n < N; n++) {
        const s = n * bc.kBlocks + kb;
        const col = n * K;
        const v = f32(columns[col + k]);
        const c = quantCode(v, bc.recips[s], bc.zps[s], bc.qMax);
        bc.codes[n * row + k] = c;
        const err = (columns[col + k] - f32((c - bc.zps[s]) * bc.scales[s])) / d;
        errors[n * width + k - k0] = err;
        if (err === 0) continue;
        for (let j = k + 1, uk = k * K; j < k1; j++) columns[col + j] -= err * u[uk + j];
      }
    }
    if (k1 < K) await spreadErrors(columns, K, N, u, k0, k1, errors, products);
  }
  progress?.(K, K);
  return bc;
}

/** w_n[j] −= Σ_k errors[n][k − k0] · U_kj for every column n, k in the batch [k0, k1) and j ≥ k1. */
async function spreadErrors(
  columns: Float64Array,
  K: number,
  N: number,
  u: Float64Array,
  k0: number,
  k1: number,
  errors: Float64Array,
  products: Products,
): Promise<void> {
  const width = k1 - k0;
  const rest = K - k1;
  const uRows = new Float64Array(width * rest);
  for (let k = k0; k < k1; k++) uRows.set(u.subarray(k * K + k1, (k + 1) * K), (k - k0) * rest);
  await subtractProduct(products, errors, uRows, N, width, rest, columns, (n) => n * K + k1);
}

/**
 * target[at(i) + j] −= (left·right)[i][j] for the `rows` rows of left (`[rows, width]`, right `[width, n]`)
 * and j ≤ last(i) (all n by default): a few thousand rows at a time, so no product is larger than
 * MATMUL_CHUNK_VALUES.
 */
async function subtractProduct(
  products: Products,
  left: Float64Array,
  right: Float64Array,
  rows: number,
  width: number,
  n: number,
  target: Float64Array,
  at: (row: number) => number,
  last: (row: number) => number = () => n - 1,
): Promise<void> {
  const per = chunkRows(n);
  for (let r0 = 0; r0 < rows; r0 += per) {
    const r = Math.min(per, rows - r0);
    const product = await products.matMul(left.subarray(r0 * width, (r0 + r) * width), right, r, width, n);
    for (let i = 0; i < r; i++) {
      const t = at(r0 + i);
      for (let j = 0, end = last(r0 + i); j <= end; j++) target[t + j] -= product[i * n + j];
    }
  }
}

/**
 * U, the upper Cholesky factor of (H + λI)⁻¹ (`[K, K]` row-major, zeros below the diagonal), from one
 * Cholesky factorization and one triangular inverse: with P the order reversal, chol(P H P) = L̃ gives
 * H = M Mᵀ for the upper-triangular M = P L̃ P, so H⁻¹ = M⁻ᵀ M⁻¹ and U = M⁻¹ = P L̃⁻¹ P (a Cholesky
 * factor is unique). P X P of a row-major matrix is its values in reverse order. Half the work of
 * inverting H and factoring the inverse, and both steps are blocked so that most of it is matrix
 * products (a 1.1 B model's K = 5632 layers spent a minute each here in plain JavaScript). A zero Gram
 * matrix (no activation at all) gives the identity, i.e. round-to-nearest.
 */
export async function gptqFactor(
  gram: Float64Array,
  K: number,
  products: Products = jsProducts,
): Promise<Float64Array> {
  let trace = 0;
  for (let i = 0; i < K; i++) trace += gram[i * K + i];
  const damp = trace > 0 ? (GPTQ_DAMP * trace) / K : 1;
  const reversed = Float64Array.from(gram).reverse();
  for (let i = 0; i < K; i++) reversed[i * K + i] += damp;
  await choleskyInPlace(reversed, K, products);
  return (await invertLower(reversed, K, products)).reverse();
}

/**
 * The lower Cholesky factor of a symmetric positive-definite `[K, K]` matrix, written over it, GPTQ_BATCH
 * columns at a time: a batch's columns from entries the earlier batches already updated, then the rest of
 * the lower triangle less the batch's outer product (one matrix product). The upper triangle is zeroed last.
 */
async function choleskyInPlace(a: Float64Array, K: number, products: Products): Promise<void> {
  for (let k0 = 0; k0 < K; k0 += GPTQ_BATCH) {
    const k1 = Math.min(K, k0 + GPTQ_BATCH);
    const width = k1 - k0;
    for (let j = k0; j < k1; j++) {
      const s = a[j * K + j] - dot(a, j * K + k0, a, j * K + k0, j - k0);
      if (!(s > 0)) throw new RangeError(`matrix is not positive definite at row ${j}`);
      const d = Math.sqrt(s);
      a[j * K + j] = d;
      for (let i = j + 1; i < K; i++)
        a[i * K + j] = (a[i * K + j] - dot(a, i * K + k0, a, j * K + k0, j - k0)) / d;
    }
    const rest = K - k1;
    if (rest === 0) break;
    const panel = new Float64Array(rest * width);
    const panelT = new Float64Array(width * rest);
    for (let i = 0; i < rest; i++)
      for (let p = 0; p < width; p++) {
        const v = a[(k1 + i) * K + k0 + p];
        panel[i * width + p] = v;
        panelT[p * rest + i] = v;
      }
    // Only the lower triangle: row k1 + i up to its diagonal.
    await subtractProduct(
      products,
      panel,
      panelT,
      rest,
      width,
      rest,
      a,
      (i) => (k1 + i) * K + k1,
      (i) => i,
    );
  }
  for (let i = 0; i < K; i++) a.fill(0, i * K + i + 1, (i + 1) * K);
}

/**
 * L⁻¹ of a lower-triangular `[K, K]` L, GPTQ_BATCH rows at a time: a batch's rows need L's rows there
 * times the rows of L⁻¹ already found (one matrix product; those rows are zero past their own diagonal,
 * so they are passed whole, without a copy), then a forward substitution inside the batch.
 */
async function invertLower(l: Float64Array, K: number, products: Products): Promise<Float64Array> {
  const x = new Float64Array(K * K);
  for (let k0 = 0; k0 < K; k0 += GPTQ_BATCH) {
    const k1 = Math.min(K, k0 + GPTQ_BATCH);
    const width = k1 - k0;
    let known: Float64Array | undefined;
    if (k0 > 0) {
      const lRows = new Float64Array(width * k0);
      for (let i = 0; i < width; i++) lRows.set(l.subarray((k0 + i) * K, (k0 + i) * K + k0), i * k0);
      known = await products.matMul(lRows, x.subarray(0, k0 * K), width, k0, K);
    }
    for (let i = k0; i < k1; i++) {
      const xi = i * K;
      if (known) for (let c = 0; c < k0; c++) x[xi + c] = -known[(i - k0) * K + c];
      x[xi + i] = 1;
      for (let p = k0; p < i; p++) {
        const lip = l[i * K + p];
        if (lip === 0) continue;
        for (let c = 0, xp = p * K; c <= p; c++) x[xi + c] -= lip * x[xp + c];
      }
      const d = l[i * K + i];
      for (let c = 0; c <= i; c++) x[xi + c] /= d;
    }
  }
  return x;
}
