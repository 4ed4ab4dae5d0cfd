import { chunkRows, jsProducts, type Products } from './products';

/**
 * Adds XᵀX of `rows` activation rows (row-major `[rows, K]`) to `gram` (`[K, K]` float64), the lower
 * triangle only: call `symmetrize` once the last rows are in. The layer's output error on these rows for
 * a weight error E (`[K, N]`) is Σ_n e_nᵀ (XᵀX) e_n, so the Gram matrix is all the data-aware quantizers
 * need from the activations: no activation is kept.
 */
export function accumulateGram(gram: Float64Array, K: number, x: ArrayLike<number>, rows: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * K;
    for (let i = 0; i < K; i++) {
      const xi = x[base + i];
      if (xi === 0) continue;
      const gi = i * K;
      for (let j = 0; j <= i; j++) gram[gi + j] += xi * x[base + j];
    }
  }
}

/** Copies the lower triangle onto the upper one. */
export function symmetrize(gram: Float64Array, K: number): void {
  for (let i = 0; i < K; i++) for (let j = 0; j < i; j++) gram[j * K + i] = gram[i * K + j];
}

/**
 * Σ_n (a_n - b_n)ᵀ H (a_n - b_n) over the `[N, K]` columns of `a` and `b` (b omitted: Σ a_nᵀ H a_n), with
 * H symmetric `[K, K]`: ‖X(A - B)‖² on the calibration rows, as `products.quadraticForms`, a few thousand
 * columns at a time.
 */
export async function gramError(
  gram: Float64Array,
  K: number,
  N: number,
  a: Float64Array,
  b?: Float64Array,
  products: Products = jsProducts,
): Promise<number> {
  const rows = chunkRows(K);
  let total = 0;
  for (let n0 = 0; n0 < N; n0 += rows) {
    const r = Math.min(rows, N - n0);
    const e = a.slice(n0 * K, (n0 + r) * K);
    if (b) for (let i = 0, at = n0 * K; i < e.length; i++) e[i] -= b[at + i];
    for (const q of await products.quadraticForms(e, gram, r, K)) total += q;
  }
  return total;
}
