/** Two factors whose product approximates a weight: A [K, r] · B [r, N]. */
export interface LowRankFactors {
  a: Float32Array;
  b: Float32Array;
  rank: number;
  /** Share of the weight's energy (Σσ², its squared Frobenius norm) that the kept singular values carry. */
  energyKept: number;
  /** The singular values, largest first (all min(K, N) of them). */
  singularValues: Float64Array;
}

/**
 * Truncated SVD of a row-major weight W [K, N] to rank r, in float64: the eigen-decomposition (cyclic
 * Jacobi) of the smaller Gram matrix gives the top singular vectors, and the factors are W·V_r and V_rᵀ
 * (or U_r and U_rᵀ·W when K < N), so A·B is W projected onto its top r singular directions: the best rank-r
 * approximation, with squared Frobenius error the discarded Σσ².
 */
export function lowRankFactors(w: Float32Array, K: number, N: number, r: number): LowRankFactors {
  const right = K >= N; // decompose WᵀW (N×N), else WWᵀ (K×K)
  const n = right ? N : K;
  const gram = new Float64Array(n * n);
  if (right) {
    for (let k = 0; k < K; k++) {
      const row = k * N;
      for (let i = 0; i < N; i++) {
        const wi = w[row + i];
        if (wi === 0) continue;
        for (let j = i; j < N; j++) gram[i * n + j] += wi * w[row + j];
      }
    }
  } else {
    for (let i = 0; i < K; i++)
      for (let j = i; j < K; j++) {
        let s = 0;
        for (let c = 0; c < N; c++) s += w[i * N + c] * w[j * N + c];
        gram[i * n + j] = s;
      }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) gram[i * n + j] = gram[j * n + i];
  const { values, vectors } = jacobiEigen(gram, n);
  const order = [...values.keys()].sort((x, y) => values[y] - values[x]);
  const keep = order.slice(0, r);
  const total = values.reduce((s, v) => s + Math.max(0, v), 0);
  const kept = keep.reduce((s, i) => s + Math.max(0, values[i]), 0);
  const a = new Float32Array(K * r);
  const b = new Float32Array(r * N);
  if (right) {
    // A = W·V_r [K, r], B = V_rᵀ [r, N]
    for (let k = 0; k < K; k++)
      for (let c = 0; c < r; c++) {
        const v = keep[c];
        let s = 0;
        for (let j = 0; j < N; j++) s += w[k * N + j] * vectors[j * n + v];
        a[k * r + c] = s;
      }
    for (let c = 0; c < r; c++) for (let j = 0; j < N; j++) b[c * N + j] = vectors[j * n + keep[c]];
  } else {
    // A = U_r [K, r], B = U_rᵀ·W [r, N]
    for (let k = 0; k < K; k++) for (let c = 0; c < r; c++) a[k * r + c] = vectors[k * n + keep[c]];
    for (let c = 0; c < r; c++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += vectors[k * n + keep[c]] * w[k * N + j];
        b[c * N + j] = s;
      }
  }
  const singularValues = Float64Array.from(order.map((i) => Math.sqrt(Math.max(0, values[i]))));
  return { a, b, rank: r, energyKept: total > 0 ? kept / total : 1, singularValues };
}

/**
 * Eigenvalues and eigenvectors (columns of `vectors`, row-major n×n) of a symmetric matrix by cyclic Jacobi
 * rotations, until the off-diagonal mass is negligible next to the diagonal's.
 */
export function jacobiEigen(
  matrix: Float64Array,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let diag = 0;
  for (let i = 0; i < n; i++) diag += a[i * n + i] * a[i * n + i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}
