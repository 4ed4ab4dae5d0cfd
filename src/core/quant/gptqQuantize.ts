import { type BlockCodes, emptyBlockCodes } from './blockCodes';
import { PAD_CODE } from '../simd/quantizeKernels';
import { dot } from './gramMatrix';
import { type BlockwiseOptions, quantCode } from './quantizeBlockwise';
import { CLIP_RATIOS, clipPairs, RTN_PAIR, searchBlock, unseenBlocks } from './searchQuantize';

/** GPTQ's dampening: λ = DAMP · mean(diag H) is added to the diagonal. */
export const GPTQ_DAMP = 0.01;

/** Reports rows of K done (for progress) and may throw to stop. */
export type RowProgress = (done: number, total: number) => void;

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
 * clipping search's (without `clip`, round-to-nearest's). `columns` (`[N, K]`) is updated in place.
 */
export function gptqQuantize(
  columns: Float64Array,
  K: number,
  N: number,
  gram: Float64Array,
  options: BlockwiseOptions,
  progress?: RowProgress,
  clip = true,
): BlockCodes {
  const bc = emptyBlockCodes(K, N, options);
  const bs = options.blockSize;
  const u = gptqFactor(gram, K);
  const scratch = { tmp: new Float64Array(4), e: new Float64Array(K) };
  const pairs = clipPairs(clip ? CLIP_RATIOS : [1], options.symmetric);
  const f32 = Math.fround;
  const row = bc.kBlocks * bs;
  // Blocks holding an input channel the calibration never reached take round-to-nearest's range of the
  // original weights: those channels are never updated (no energy, no coupling), so they keep RTN's codes.
  const unseen = unseenBlocks(gram, K, bs);
  const original = unseen.some(Boolean) ? Float64Array.from(columns) : columns;
  for (let k = 0; k < K; k++) {
    const kb = (k / bs) | 0;
    if (k % bs === 0) {
      const k1 = Math.min(K, k + bs);
      for (let n = 0; n < N; n++) {
        if (unseen[kb]) searchBlock(bc, original, n, k, k1, gram, RTN_PAIR, scratch);
        else searchBlock(bc, columns, n, k, k1, gram, pairs, scratch);
        bc.codes.fill(PAD_CODE, n * row + k1, n * row + k + bs);
      }
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
      if (err === 0) continue;
      for (let j = k + 1, uk = k * K; j < K; j++) columns[col + j] -= err * u[uk + j];
    }
  }
  progress?.(K, K);
  return bc;
}

/**
 * U, the upper Cholesky factor of (H + λI)⁻¹ (`[K, K]` row-major, zeros below the diagonal), from one
 * Cholesky factorization and one triangular inverse: with P the order reversal, chol(P H P) = L̃ gives
 * H = M Mᵀ for the upper-triangular M = P L̃ P, so H⁻¹ = M⁻ᵀ M⁻¹ and U = M⁻¹ = P L̃⁻¹ P (a Cholesky
 * factor is unique). Half the work of inverting H and factoring the inverse (a 1.1 B model's K = 5632
 * layers spent minutes there). A zero Gram matrix (no activation at all) gives the identity, i.e.
 * round-to-nearest.
 */
export function gptqFactor(gram: Float64Array, K: number): Float64Array {
  let trace = 0;
  for (let i = 0; i < K; i++) trace += gram[i * K + i];
  const damp = trace > 0 ? (GPTQ_DAMP * trace) / K : 1;
  const reversed = new Float64Array(K * K);
  for (let i = 0; i < K; i++)
    for (let j = 0, src = (K - 1 - i) * K + K - 1; j < K; j++) reversed[i * K + j] = gram[src - j];
  for (let i = 0; i < K; i++) reversed[i * K + i] += damp;
  // u = (L̃⁻¹)ᵀ: u[b·K + a] is L̃⁻¹[a][b], and U[i][j] = L̃⁻¹[K-1-i][K-1-j] = u[(K-1-j)·K + K-1-i]: that
  // map is its own inverse, so swapping each pair turns u into U in place (two K×K arrays at most: a
  // K = 5632 layer's is 254 MB each, and two layers are solved at once).
  const u = invertLowerTransposed(choleskyInPlace(reversed, K), K);
  for (let i = 0; i < K; i++)
    for (let j = 0; j < K; j++) {
      const a = i * K + j;
      const b = (K - 1 - j) * K + (K - 1 - i);
      if (a < b) {
        const t = u[a];
        u[a] = u[b];
        u[b] = t;
      }
    }
  return u;
}

/**
 * The lower Cholesky factor of a symmetric positive-definite `[K, K]` matrix, written over it (each entry is read before its own factor entry is
 * written; the upper triangle is zeroed last): no second K×K array.
 */
function choleskyInPlace(a: Float64Array, K: number): Float64Array {
  for (let i = 0; i < K; i++) {
    for (let j = 0; j <= i; j++) {
      const s = a[i * K + j] - dot(a, i * K, a, j * K, j);
      if (i === j) {
        if (!(s > 0)) throw new RangeError(`matrix is not positive definite at row ${i}`);
        a[i * K + i] = Math.sqrt(s);
      } else a[i * K + j] = s / a[j * K + j];
    }
  }
  for (let i = 0; i < K; i++) a.fill(0, i * K + i + 1, (i + 1) * K);
  return a;
}

/**
 * (L⁻¹)ᵀ of a lower-triangular `[K, K]` L, upper-triangular: row j holds column j of L⁻¹, built by forward
 * substitution along that row, so every inner loop reads memory in order.
 */
function invertLowerTransposed(l: Float64Array, K: number): Float64Array {
  const out = new Float64Array(K * K);
  for (let j = 0; j < K; j++) {
    const row = j * K;
    out[row + j] = 1 / l[j * K + j];
    for (let i = j + 1; i < K; i++) {
      out[row + i] = -dot(l, i * K + j, out, row + j, i - j) / l[i * K + i];
    }
  }
  return out;
}
