/**
 * C = A·B for row-major float64 A (`[m, k]`) and B (`[k, n]`), resolving to a new `[m, n]` array. The
 * K²·N products of the data-aware solvers (output errors, GPTQ's updates, the Cholesky factor) go through
 * one of these: the runtime passes ONNX Runtime's (its DGEMM is ~30× a plain JavaScript loop), and core
 * code and tests without it use jsMatMul. Async because ONNX Runtime's runs are.
 */
export type MatMul = (
  a: Float64Array,
  b: Float64Array,
  m: number,
  k: number,
  n: number,
) => Promise<Float64Array>;

/** A plain JavaScript MatMul: rows of B streamed in order,. */
export const jsMatMul: MatMul = async (a, b, m, k, n) => {
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
};

/**
 * At most this many float64 values (32 MiB) in one operand or product the solvers hand to a MatMul: a
 * K = 5632 layer's whole error product would be 90 MiB or more, and the memory bound allows two solves.
 */
export const MATMUL_CHUNK_VALUES = 4 * 2 ** 20;

/** Rows of a `[rows, width]` operand that fit in MATMUL_CHUNK_VALUES (at least one). */
export function chunkRows(width: number): number {
  return Math.max(1, Math.floor(MATMUL_CHUNK_VALUES / Math.max(1, width)));
}
