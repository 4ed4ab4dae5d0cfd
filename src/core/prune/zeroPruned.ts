import { zeroBelowSimd } from '../simd/pruneSimd';

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
 * The sums of squares run in four lanes, value i in lane i mod 4 (acc[0..3] all finite values, acc[4..7]
 * the pruned ones), combined as (l0 + l1) + (l2 + l3): the order of the SIMD kernel, so both paths, and
 * zeroBelowCut and zeroDropped, give the same figures to the last bit.
 */
function counts(acc: Float64Array, zerosBefore: number, nnz: number, changed: boolean): ZeroCounts {
  return {
    zerosBefore,
    nnz,
    energy: acc[0] + acc[1] + (acc[2] + acc[3]),
    error: acc[4] + acc[5] + (acc[6] + acc[7]),
    changed,
  };
}

/**
 * Zeroes, in place, every value whose magnitude key (|x|'s float32 bits) is below `threshold` and the
 * first `ties` values whose key equals it; `keep` (optional) gets 1 for each value kept and 0 for each
 * pruned. One pass does it all, on the SIMD kernel where it runs (whole groups of four values), the rest
 * in the loop below.
 */
export function zeroBelowCut(
  values: Float32Array,
  threshold: number,
  ties: number,
  keep?: Uint8Array,
): ZeroCounts {
  const acc = new Float64Array(8);
  const n4 = values.length & ~3;
  const simd = zeroBelowSimd(values, n4, threshold, ties, keep, acc);
  const from = simd ? n4 : 0;
  let left = simd ? simd.left : ties;
  let zerosBefore = simd ? simd.zeros : 0;
  let nnz = simd ? simd.nnz : 0;
  let changed = simd ? simd.changed : false;
  // Signed words: a key is < 2^31, as the threshold is.
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  const t = threshold | 0;
  for (let i = from; i < values.length; i++) {
    const b = bits[i];
    const key = b & 0x7fffffff;
    let prune = key < t;
    if (key === t && left > 0) {
      prune = true;
      left--;
    }
    const finite = key < NOT_FINITE;
    const square = values[i] * values[i];
    if (finite) acc[i & 3] += square;
    if (key === 0) zerosBefore++;
    if (prune) {
      if (finite) acc[4 + (i & 3)] += square;
      // A -0 pruned to +0 is a change too.
      if (b !== 0) {
        bits[i] = 0;
        changed = true;
      }
    } else if (key !== 0) nnz++;
    if (keep) keep[i] = prune ? 0 : 1;
  }
  return counts(acc, zerosBefore, nnz, changed);
}

/** Zeroes, in place, the values `keep` drops (0) and measures it. */
export function zeroDropped(values: Float32Array, keep: Uint8Array): ZeroCounts {
  const acc = new Float64Array(8);
  let zerosBefore = 0;
  let nnz = 0;
  let changed = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const finite = Number.isFinite(v);
    if (v === 0) zerosBefore++;
    if (finite) acc[i & 3] += v * v;
    if (keep[i]) {
      if (v !== 0) nnz++;
    } else if (v !== 0 || Object.is(v, -0)) {
      if (finite) acc[4 + (i & 3)] += v * v;
      values[i] = 0;
      changed = true;
    }
  }
  return counts(acc, zerosBefore, nnz, changed);
}
