/**
 * The matrix products of the data-aware solvers (output errors, the clipping search's block errors, GPTQ's
 * updates, the Cholesky factor), on row-major float64 arrays. The runtime passes ONNX Runtime's
 * (ortProducts: its GEMM is ~30× a plain JavaScript loop); core code and tests without it use jsProducts.
 * Async because ONNX Runtime's runs are.
 */
export interface Products {
  /** C = A·B for A `[m, k]` and B `[k, n]`: a new `[m, n]` array. */
  matMul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Promise<Float64Array>;
  /**
   * q_i = e_iᵀ H e_i for the m rows of e (`[m, k]`) and a symmetric H (`[k, k]`): only m numbers come
   * back, where the product e·H would be as large as e (copying that out cost more than computing it).
   */
  quadraticForms(e: Float64Array, h: Float64Array, m: number, k: number): Promise<Float64Array>;
}

/** Plain JavaScript products. */
export const jsProducts: Products = {
  async matMul(a, b, m, k, n) {
    const c = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      const ci = i * n;
      for (let p = 0; p < k; p++) {
        const aip = a[i * k + p];
        if (aip === 0) continue;
        const bp = p * n;
        for (let j = 0; j < n; j++) c[ci + j] += aip * b[bp + j];
      }
    }
    return c;
  },
  async quadraticForms(e, h, m, k) {
    const q = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < k; j++) {
        const eij = e[i * k + j];
        if (eij !== 0) s += eij * dot(h, j * k, e, i * k, k);
      }
      q[i] = s;
    }
    return q;
  },
};

/**
 * At most this many float64 values (32 MiB) in one operand or product the solvers hand to Products: a
 * K = 5632 layer's whole error product would be 90 MiB or more, and the memory bound allows two solves.
 */
export const MATMUL_CHUNK_VALUES = 4 * 2 ** 20;

/** Rows of a `[rows, width]` operand that fit in MATMUL_CHUNK_VALUES (at least one). */
export function chunkRows(width: number): number {
  return Math.max(1, Math.floor(MATMUL_CHUNK_VALUES / Math.max(1, width)));
}

/**
 * Σ a[ai + m]·b[bi + m] for m < n, in four independent sums: one running sum waits on each add before the
 * next (a few cycles each), four keep the loads busy — the inner loop of the quadratic forms and of the
 * Cholesky factor's work inside a block of rows.
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
