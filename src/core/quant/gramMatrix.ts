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
  const errorOf = (n: number, into: Float64Array) => {
    for (let k = 0; k < K; k++) into[k] = b ? a[n * K + k] - b[n * K + k] : a[n * K + k];
  };
  // Four columns at a time: each row of H (far beyond the caches on a wide layer) is read once for four
  // quadratic forms, in four independent sums.
  const [e0, e1, e2, e3] = [0, 1, 2, 3].map(() => new Float64Array(K));
  let total = 0;
  let n = 0;
  for (; n + 3 < N; n += 4) {
    errorOf(n, e0);
    errorOf(n + 1, e1);
    errorOf(n + 2, e2);
    errorOf(n + 3, e3);
    for (let i = 0; i < K; i++) {
      const gi = i * K;
      let r0 = 0;
      let r1 = 0;
      let r2 = 0;
      let r3 = 0;
      for (let j = 0; j < i; j++) {
        const h = gram[gi + j];
        r0 += h * e0[j];
        r1 += h * e1[j];
        r2 += h * e2[j];
        r3 += h * e3[j];
      }
      const hii = gram[gi + i];
      total +=
        e0[i] * (2 * r0 + hii * e0[i]) +
        e1[i] * (2 * r1 + hii * e1[i]) +
        e2[i] * (2 * r2 + hii * e2[i]) +
        e3[i] * (2 * r3 + hii * e3[i]);
    }
  }
  for (; n < N; n++) {
    errorOf(n, e0);
    total += quadraticForm(gram, K, e0, 0, K);
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
    const gi = i * K;
    total += ei * (2 * dot(gram, gi + from, e, from, i - from) + gram[gi + i] * ei);
  }
  return total;
}

/**
 * Σ a[ai + m]·b[bi + m] for m < n, in four independent sums: one running sum waits on each add before the
 * next (a few cycles each), four keep the loads busy — the inner loop of XᵀX quadratic forms, Cholesky
 * factors and triangular inverses, K³ or K²·N times on a large layer.
 */
export function dot(a: Float64Array, ai: number, b: Float64Array, bi: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let m = 0;
  for (; m + 3 < n; m += 4) {
    s0 += a[ai + m] * b[bi + m];
    s1 += a[ai + m + 1] * b[bi + m + 1];
    s2 += a[ai + m + 2] * b[bi + m + 2];
    s3 += a[ai + m + 3] * b[bi + m + 3];
  }
  for (; m < n; m++) s0 += a[ai + m] * b[bi + m];
  return s0 + s1 + s2 + s3;
}
