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

/** A -0's bits as a signed word. */
const NEGATIVE_ZERO = -0x80000000;

/**
 * Zeroes, in place, every value whose magnitude key (|x|'s float32 bits) is below `threshold` and the
 * first `ties` values whose key equals it; `keep` (optional) gets 1 for each value kept and 0 for each
 * pruned. One pass does it all, with no data-dependent branch for the common values (half of them go, in
 * no order a branch predictor could learn): the choice is a sign bit used as a 0/1 and as a bit mask, and
 * the pruned energy is x² times that 0/1. Values at the threshold, NaN/infinity and -0 take a slow path,
 * so every fast-path value pruned is a non-zero change or a +0, and every one kept is non-zero. The sums
 * run in reading order, as zeroDropped's do: the same inputs give the same figures to the last bit.
 */
export function zeroBelowCut(
  values: Float32Array,
  threshold: number,
  ties: number,
  keep?: Uint8Array,
): ZeroCounts {
  // Signed words keep the JIT in int32: a key is < 2^31, so key - threshold is negative exactly when below.
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  const t = threshold | 0;
  let energy = 0;
  let error = 0;
  let zerosBefore = 0;
  let nnz = 0;
  let changed = false;
  let left = ties;
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    const key = b & 0x7fffffff;
    if (key === t || key >= NOT_FINITE || b === NEGATIVE_ZERO) {
      // Rare: ties in reading order, NaN/infinity, and -0 (pruning it to +0 is a change).
      const prune = key < t || (key === t && left > 0);
      const x = values[i];
      const finite = key < NOT_FINITE;
      if (finite) energy += x * x;
      if (key === 0) zerosBefore++;
      if (prune) {
        if (key === t) left--;
        if (b !== 0) {
          if (finite) error += x * x;
          bits[i] = 0;
          changed = true;
        }
      } else if (key !== 0) nnz++;
      if (keep) keep[i] = prune ? 0 : 1;
      continue;
    }
    const below = (key - t) >>> 31; // 1: prune
    const x = values[i];
    const square = x * x;
    energy += square;
    error += square * below;
    zerosBefore += (key - 1) >>> 31; // a +0 (always below here)
    nnz += 1 - below;
    bits[i] = b & (below - 1);
    if (keep) keep[i] = 1 - below;
  }
  // A fast-path value pruned changed unless it was +0; a subnormal's square is still > 0 as a double.
  return { zerosBefore, nnz, energy, error, changed: changed || error > 0 };
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
