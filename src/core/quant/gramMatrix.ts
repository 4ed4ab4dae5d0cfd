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
 * H symmetric `[K, K]`: ‖X(A - B)‖² on the calibration rows.
 */
export function gramError(
  gram: Float64Array,
  K: number,
  N: number,
  a: Float64Array,
  b?: Float64Array,
): number {
  const e = new Float64Array(K);
  let total = 0;
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) e[k] = b ? a[n * K + k] - b[n * K + k] : a[n * K + k];
    total += quadraticForm(gram, K, e, 0, K);
  }
  return total;
}

/** eᵀ H e over rows and columns [from, to) of H (`e` indexed like H's rows). */
export function quadraticForm(
  gram: Float64Array,
  K: number,
  e: Float64Array,
  from: number,
  to: number,
): number {
  let total = 0;
  for (let i = from; i < to; i++) {
    const ei = e[i];
    if (ei === 0) continue;
    let row = 0;
    const gi = i * K;
    for (let j = from; j < i; j++) row += gram[gi + j] * e[j];
    total += ei * (2 * row + gram[gi + i] * ei);
  }
  return total;
}
