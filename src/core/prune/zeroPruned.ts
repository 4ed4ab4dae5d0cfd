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
 * pruned. The zeroing loop works on the bits alone with no data-dependent branch for the common values
 * (half of them go, in no order a branch predictor could learn): the choice is a sign bit used as a 0/1
 * and as a bit mask; values at the threshold and NaN/infinity take a slow path. The energies come from
 * two plain sums around it (all values, then the kept ones): error = energy − kept energy, exact to
 * double rounding and 0 when nothing non-zero was pruned.
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
  const energy = finiteSquares(values);
  let zerosBefore = 0;
  let nnz = 0;
  let prunedNonZero = 0;
  let left = ties;
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    const key = b & 0x7fffffff;
    if (key === t || key >= NOT_FINITE) {
      // Rare: ties in reading order, and NaN/infinity.
      const prune = key < t || (key === t && left > 0);
      if (key === 0) zerosBefore++;
      if (prune) {
        if (key === t) left--;
        if (b !== 0) {
          bits[i] = 0;
          prunedNonZero++;
        }
      } else if (key !== 0) nnz++;
      if (keep) keep[i] = prune ? 0 : 1;
      continue;
    }
    const below = (key - t) >>> 31; // 1: prune
    const nonZero = (key | -key) >>> 31;
    zerosBefore += 1 - nonZero;
    nnz += (1 - below) & nonZero;
    prunedNonZero += below & ((b | -b) >>> 31); // -0 becomes +0: a change
    bits[i] = b & (below - 1);
    if (keep) keep[i] = 1 - below;
  }
  const error = prunedNonZero > 0 ? energy - finiteSquares(values) : 0;
  return { zerosBefore, nnz, energy, error, changed: prunedNonZero > 0 };
}

/** Σ x² over the finite values (a plain sum first: it is finite exactly when every value is). */
function finiteSquares(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    sum += x * x;
  }
  if (Number.isFinite(sum)) return sum;
  sum = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (Number.isFinite(x)) sum += x * x;
  }
  return sum;
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
