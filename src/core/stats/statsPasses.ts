import { histogramBin } from './histogramEdges';

/**
 * The two hot loops behind computeStats, one copy per chunk array type so every element load stays
 * monomorphic (a model always mixes float32 weights with int64 shape tensors, and a polymorphic loop is
 * several times slower). What keeps them fast in V8:
 * - no data-dependent branches: `Math.min`/`Math.max` and `+(cond)` sums compile branch-free, while
 *   `if (x < min) min = x`, `if (x === 0) n++` and even `cond ? 1 : 0` cost several times more;
 * - no rarely taken paths inside a loop: code that has never run has no type feedback, and reaching it
 *   deoptimizes the whole loop, again and again. Rare work (NaN blocks, values on a histogram edge, the
 *   last elements of a chunk) is handed to a helper that is called once per block whether needed or not;
 * - four independent accumulators and four lanes of histogram counts, so neither the additions nor the
 *   increments of a peaked distribution's few busy bins wait on each other.
 */

/**
 * Running totals of pass 1. Pass 1 also writes a zero mask of the chunk (1 where the value is 0 or -0):
 * the layout metrics read it instead of the values, so one copy of their loops serves both array types.
 */
export interface Pass1 {
  finite: number;
  /** Neumaier-compensated sum of the finite values. */
  sum: number;
  comp: number;
  min: number;
  max: number;
  zeros: number;
  nan: number;
  inf: number;
}

/**
 * Pass 2 state. Values go into a fine histogram of `bins * K` bins over the same range as the numpy-style
 * histogram (K a power of two), which yields both the coarse counts (K fine bins each) and the magnitude
 * percentiles. A value within rounding distance of a coarse edge is re-binned exactly by numpy's rule,
 * and the difference is kept in `adjust`.
 */
export interface Pass2 {
  mean: number;
  first: number;
  /** Coarse bins and their exact edges, for the values near an edge. */
  norm: number;
  edges: Float64Array;
  adjust: Float64Array;
  /** Fine bins per coarse bin: 2^shift. */
  shift: number;
  fineNorm: number;
  /**
   * Counts of the current chunk in four lanes of `fineTotal.length + 1` bins, the extra one for values
   * equal to the last edge (int32 is fast; summed into `fineTotal` after each chunk).
   */
  fine: Int32Array;
  fineTotal: Float64Array;
  /** How close (in fine bins) to a coarse edge a value must be re-binned exactly. */
  tolerance: number;
  nearLimit: number;
  squares: number;
  near: number;
}

/** Block size within a chunk: pass 1 checks each block for NaN/Inf once, through its sum. */
export const BLOCK = 1 << 14;

export function addSum(acc: Pass1, s: number): void {
  const t = acc.sum + s;
  acc.comp += Math.abs(acc.sum) >= Math.abs(s) ? acc.sum - t + s : s - t + acc.sum;
  acc.sum = t;
}

/** Pass 1 over [start, end) with per-element checks: blocks holding NaN or ±Inf, and block tails. */
export function pass1Careful(
  a: Float32Array | Float64Array,
  start: number,
  end: number,
  acc: Pass1,
  zero: Uint8Array,
): void {
  if (start >= end) return;
  let s = 0;
  for (let i = start; i < end; i++) {
    const x = a[i];
    zero[i] = +(x === 0);
    if (x !== x) acc.nan++;
    else if (x === Infinity || x === -Infinity) acc.inf++;
    else {
      s += x;
      acc.finite++;
      if (x < acc.min) acc.min = x;
      if (x > acc.max) acc.max = x;
      if (x === 0) acc.zeros++;
    }
  }
  addSum(acc, s);
}

/** Fold a block's partial results into the totals, or redo it carefully when its sum is not finite. */
export function mergeBlock(
  acc: Pass1,
  a: Float32Array | Float64Array,
  start: number,
  end: number,
  s: number,
  min: number,
  max: number,
  zeros: number,
  zero: Uint8Array,
): void {
  if (s - s === 0) {
    addSum(acc, s);
    acc.finite += end - start;
    acc.zeros += zeros;
    acc.min = Math.min(acc.min, min);
    acc.max = Math.max(acc.max, max);
  } else pass1Careful(a, start, end, acc, zero);
}

export function pass1F32(a: Float32Array, acc: Pass1, zero: Uint8Array): void {
  const n = a.length;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    const end4 = start + ((end - start) & ~3);
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let min = Infinity;
    let max = -Infinity;
    let zeros = 0;
    for (let i = start; i < end4; i += 4) {
      const x0 = a[i];
      const x1 = a[i + 1];
      const x2 = a[i + 2];
      const x3 = a[i + 3];
      s0 += x0;
      s1 += x1;
      s2 += x2;
      s3 += x3;
      min = Math.min(min, x0, x1, x2, x3);
      max = Math.max(max, x0, x1, x2, x3);
      const z0 = +(x0 === 0);
      const z1 = +(x1 === 0);
      const z2 = +(x2 === 0);
      const z3 = +(x3 === 0);
      zero[i] = z0;
      zero[i + 1] = z1;
      zero[i + 2] = z2;
      zero[i + 3] = z3;
      zeros += z0 + z1 + z2 + z3;
    }
    // A NaN or ±Inf anywhere in the block makes its sum non-finite: mergeBlock then redoes it carefully.
    mergeBlock(acc, a, start, end4, s0 + s1 + (s2 + s3), min, max, zeros, zero);
    pass1Careful(a, end4, end, acc, zero);
  }
}

/** Same as pass1F32 for Float64Array chunks. */
export function pass1F64(a: Float64Array, acc: Pass1, zero: Uint8Array): void {
  const n = a.length;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    const end4 = start + ((end - start) & ~3);
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let min = Infinity;
    let max = -Infinity;
    let zeros = 0;
    for (let i = start; i < end4; i += 4) {
      const x0 = a[i];
      const x1 = a[i + 1];
      const x2 = a[i + 2];
      const x3 = a[i + 3];
      s0 += x0;
      s1 += x1;
      s2 += x2;
      s3 += x3;
      min = Math.min(min, x0, x1, x2, x3);
      max = Math.max(max, x0, x1, x2, x3);
      const z0 = +(x0 === 0);
      const z1 = +(x1 === 0);
      const z2 = +(x2 === 0);
      const z3 = +(x3 === 0);
      zero[i] = z0;
      zero[i + 1] = z1;
      zero[i + 2] = z2;
      zero[i + 3] = z3;
      zeros += z0 + z1 + z2 + z3;
    }
    // A NaN or ±Inf anywhere in the block makes its sum non-finite: mergeBlock then redoes it carefully.
    mergeBlock(acc, a, start, end4, s0 + s1 + (s2 + s3), min, max, zeros, zero);
    pass1Careful(a, end4, end, acc, zero);
  }
}

/** Re-bin a value that lies within rounding distance of a coarse edge by numpy's exact rule. */
function nearEdge(p: Pass2, x: number, fineBin: number): void {
  const exact = histogramBin(x, p.first, p.norm, p.edges);
  const assumed = fineBin >>> p.shift;
  if (exact !== assumed) {
    p.adjust[exact]++;
    p.adjust[assumed]--;
  }
}

/**
 * After a fast block in which some value lay near a coarse edge: find those values again and re-bin them
 * exactly (re-binning a value that was not near an edge would change nothing, but costs time).
 */
export function fixEdges(
  a: Float32Array | Float64Array,
  start: number,
  end: number,
  p: Pass2,
  suspicious: number,
): void {
  if (suspicious === 0) return;
  const lastFine = p.fineTotal.length - 1;
  const toCoarse = 2 ** -p.shift;
  const low = p.tolerance * toCoarse;
  for (let i = start; i < end; i++) {
    const x = a[i];
    const t = (x - p.first) * p.fineNorm;
    const c = t * toCoarse;
    const q = c - Math.trunc(c);
    if (x !== 0 && (q < low || q > 1 - low)) nearEdge(p, x, Math.min(Math.trunc(t), lastFine));
  }
}

/**
 * Pass 2 over [start, end) with per-element checks: skips NaN/±Inf, and re-bins every value exactly.
 * Used for whole chunks when the tensor has NaN or Inf (or a degenerate range), and for block tails.
 */
export function pass2Careful(a: Float32Array | Float64Array, p: Pass2, start = 0, end = a.length): void {
  if (start >= end) return;
  const { mean, first, fineNorm, fine, nearLimit } = p;
  const lastFine = p.fineTotal.length - 1;
  let squares = 0;
  let near = 0;
  for (let i = start; i < end; i++) {
    const x = a[i];
    if (!(x - x === 0)) continue;
    const d = x - mean;
    squares += d * d;
    const f = Math.min(Math.trunc((x - first) * fineNorm), lastFine);
    fine[f]++;
    if (x !== 0) nearEdge(p, x, f);
    near += +(Math.abs(x) <= nearLimit);
  }
  p.squares += squares;
  p.near += near;
}

export function pass2F32(a: Float32Array, p: Pass2): void {
  const { mean, first, fineNorm, fine, nearLimit } = p;
  // Lanes of fineTotal.length + 1 counters: the extra one takes x == last, so no index needs clamping.
  const lanes = p.fineTotal.length + 1;
  const lane2 = 2 * lanes;
  const lane3 = 3 * lanes;
  const toCoarse = 2 ** -p.shift;
  const low = p.tolerance * toCoarse;
  const high = 1 - low;
  const n = a.length;
  let sq0 = 0;
  let sq1 = 0;
  let near = 0;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    const end4 = start + ((end - start) & ~3);
    let suspicious = 0;
    for (let i = start; i < end4; i += 4) {
      const x0 = a[i];
      const x1 = a[i + 1];
      const x2 = a[i + 2];
      const x3 = a[i + 3];
      const d0 = x0 - mean;
      const d1 = x1 - mean;
      const d2 = x2 - mean;
      const d3 = x3 - mean;
      sq0 += d0 * d0 + d2 * d2;
      sq1 += d1 * d1 + d3 * d3;
      const t0 = (x0 - first) * fineNorm;
      const t1 = (x1 - first) * fineNorm;
      const t2 = (x2 - first) * fineNorm;
      const t3 = (x3 - first) * fineNorm;
      fine[t0 | 0]++;
      fine[(t1 | 0) + lanes]++;
      fine[(t2 | 0) + lane2]++;
      fine[(t3 | 0) + lane3]++;
      // Position within the coarse bin (exact: the scale is a power of two); near 0 or 1 means near an edge.
      const c0 = t0 * toCoarse;
      const c1 = t1 * toCoarse;
      const c2 = t2 * toCoarse;
      const c3 = t3 * toCoarse;
      const q0 = c0 - (c0 | 0);
      const q1 = c1 - (c1 | 0);
      const q2 = c2 - (c2 | 0);
      const q3 = c3 - (c3 | 0);
      // Zeros are left out: they all share one fine bin, which computeStats corrects once at the end.
      suspicious +=
        ((+(q0 < low) | +(q0 > high)) & +(x0 !== 0)) +
        ((+(q1 < low) | +(q1 > high)) & +(x1 !== 0)) +
        ((+(q2 < low) | +(q2 > high)) & +(x2 !== 0)) +
        ((+(q3 < low) | +(q3 > high)) & +(x3 !== 0));
      near +=
        +(Math.abs(x0) <= nearLimit) +
        +(Math.abs(x1) <= nearLimit) +
        +(Math.abs(x2) <= nearLimit) +
        +(Math.abs(x3) <= nearLimit);
    }
    fixEdges(a, start, end4, p, suspicious);
    pass2Careful(a, p, end4, end);
  }
  p.squares += sq0 + sq1;
  p.near += near;
}

/** Same as pass2F32 for Float64Array chunks. */
export function pass2F64(a: Float64Array, p: Pass2): void {
  const { mean, first, fineNorm, fine, nearLimit } = p;
  // Lanes of fineTotal.length + 1 counters: the extra one takes x == last, so no index needs clamping.
  const lanes = p.fineTotal.length + 1;
  const lane2 = 2 * lanes;
  const lane3 = 3 * lanes;
  const toCoarse = 2 ** -p.shift;
  const low = p.tolerance * toCoarse;
  const high = 1 - low;
  const n = a.length;
  let sq0 = 0;
  let sq1 = 0;
  let near = 0;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    const end4 = start + ((end - start) & ~3);
    let suspicious = 0;
    for (let i = start; i < end4; i += 4) {
      const x0 = a[i];
      const x1 = a[i + 1];
      const x2 = a[i + 2];
      const x3 = a[i + 3];
      const d0 = x0 - mean;
      const d1 = x1 - mean;
      const d2 = x2 - mean;
      const d3 = x3 - mean;
      sq0 += d0 * d0 + d2 * d2;
      sq1 += d1 * d1 + d3 * d3;
      const t0 = (x0 - first) * fineNorm;
      const t1 = (x1 - first) * fineNorm;
      const t2 = (x2 - first) * fineNorm;
      const t3 = (x3 - first) * fineNorm;
      fine[t0 | 0]++;
      fine[(t1 | 0) + lanes]++;
      fine[(t2 | 0) + lane2]++;
      fine[(t3 | 0) + lane3]++;
      // Position within the coarse bin (exact: the scale is a power of two); near 0 or 1 means near an edge.
      const c0 = t0 * toCoarse;
      const c1 = t1 * toCoarse;
      const c2 = t2 * toCoarse;
      const c3 = t3 * toCoarse;
      const q0 = c0 - (c0 | 0);
      const q1 = c1 - (c1 | 0);
      const q2 = c2 - (c2 | 0);
      const q3 = c3 - (c3 | 0);
      // Zeros are left out: they all share one fine bin, which computeStats corrects once at the end.
      suspicious +=
        ((+(q0 < low) | +(q0 > high)) & +(x0 !== 0)) +
        ((+(q1 < low) | +(q1 > high)) & +(x1 !== 0)) +
        ((+(q2 < low) | +(q2 > high)) & +(x2 !== 0)) +
        ((+(q3 < low) | +(q3 > high)) & +(x3 !== 0));
      near +=
        +(Math.abs(x0) <= nearLimit) +
        +(Math.abs(x1) <= nearLimit) +
        +(Math.abs(x2) <= nearLimit) +
        +(Math.abs(x3) <= nearLimit);
    }
    fixEdges(a, start, end4, p, suspicious);
    pass2Careful(a, p, end4, end);
  }
  p.squares += sq0 + sq1;
  p.near += near;
}
