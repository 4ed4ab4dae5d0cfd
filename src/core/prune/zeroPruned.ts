/** What zeroing one weight did, for its report row. */
export interface ZeroCounts {
  /** Values that were 0 (or -0) before. */
  zerosBefore: number;
  /** Kept values that are not 0. */
  nnz: number;
  /** Σ w² and Σ of the pruned w² over the finite values (the weight SQNR). */
  energy: number;
  error: number;
  /** Some value changed (a -0 pruned to +0 counts). */
  changed: boolean;
}

/** |x|'s float32 bits at or above this are infinite or NaN. */
const NOT_FINITE = 0x7f800000;

/**
 * Zeroes, in place, every value whose magnitude key (|x|'s float32 bits) is below `threshold` and the
 * first `ties` values whose key equals it; `keep` (optional) gets 1 for each value kept and 0 for each
 * pruned. One pass over the bits: no mask is needed to prune by magnitude.
 */
export function zeroBelowCut(
  values: Float32Array,
  threshold: number,
  ties: number,
  keep?: Uint8Array,
): ZeroCounts {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const c: ZeroCounts = { zerosBefore: 0, nnz: 0, energy: 0, error: 0, changed: false };
  let energy = 0;
  let error = 0;
  let zerosBefore = 0;
  let nnz = 0;
  let left = ties;
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    const key = b & 0x7fffffff;
    const v = values[i];
    if (key === 0) zerosBefore++;
    if (key < NOT_FINITE) energy += v * v;
    if (key < threshold || (key === threshold && left > 0)) {
      if (key === threshold) left--;
      if (keep) keep[i] = 0;
      if (b !== 0) {
        if (key < NOT_FINITE) error += v * v;
        bits[i] = 0;
        c.changed = true;
      }
    } else {
      if (keep) keep[i] = 1;
      if (key !== 0) nnz++;
    }
  }
  return { ...c, zerosBefore, nnz, energy, error };
}

/** Zeroes, in place, the values `keep` drops (0) and measures it. */
export function zeroDropped(values: Float32Array, keep: Uint8Array): ZeroCounts {
  const c: ZeroCounts = { zerosBefore: 0, nnz: 0, energy: 0, error: 0, changed: false };
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === 0) c.zerosBefore++;
    if (Number.isFinite(v)) c.energy += v * v;
    if (keep[i]) {
      if (v !== 0) c.nnz++;
    } else if (v !== 0 || Object.is(v, -0)) {
      if (Number.isFinite(v)) c.error += v * v;
      values[i] = 0;
      c.changed = true;
    }
  }
  return c;
}
