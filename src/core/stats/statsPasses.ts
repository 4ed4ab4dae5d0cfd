import { histogramBin } from './histogramEdges';

/**
 * The two hot loops behind computeStats, one copy per chunk array type so every element load stays
 * monomorphic (a model always mixes float32 weights with int64 shape tensors, and a polymorphic loop is
 * several times slower). The loops avoid data-dependent branches: V8 compiles `Math.min`/`Math.max` and
 * `cond ? 1 : 0` additions to branch-free code, while `if (x < min) min = x` and `if (x === 0) n++` cost
 * far more. Sums use several accumulators so the additions do not wait on each other.
 */

/** Running totals of pass 1. */
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
   * Counts of the current chunk in four lanes of `fineTotal.length` bins (int32 is fast; summed into
   * `fineTotal` after each chunk).
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

/** Pass 1 over [start, end) with per-element checks, for blocks holding NaN or ±Inf. */
export function pass1Careful(a: Float32Array | Float64Array, start: number, end: number, acc: Pass1): void {
  let s = 0;
  for (let i = start; i < end; i++) {
    const x = a[i];
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

export function pass1F32(a: Float32Array, acc: Pass1): void {
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
    let i = start;
    for (; i < end4; i += 4) {
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
      zeros += (x0 === 0 ? 1 : 0) + (x1 === 0 ? 1 : 0) + (x2 === 0 ? 1 : 0) + (x3 === 0 ? 1 : 0);
    }
    for (; i < end; i++) {
      const x = a[i];
      s0 += x;
      min = Math.min(min, x);
      max = Math.max(max, x);
      zeros += x === 0 ? 1 : 0;
    }
    const s = s0 + s1 + (s2 + s3);
    // A NaN or ±Inf anywhere in the block makes its sum non-finite: only then look element by element.
    if (s - s === 0) {
      addSum(acc, s);
      acc.finite += end - start;
      acc.zeros += zeros;
      acc.min = Math.min(acc.min, min);
      acc.max = Math.max(acc.max, max);
    } else pass1Careful(a, start, end, acc);
  }
}

/** Same as pass1F32 for Float64Array chunks. */
export function pass1F64(a: Float64Array, acc: Pass1): void {
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
    let i = start;
    for (; i < end4; i += 4) {
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
      zeros += (x0 === 0 ? 1 : 0) + (x1 === 0 ? 1 : 0) + (x2 === 0 ? 1 : 0) + (x3 === 0 ? 1 : 0);
    }
    for (; i < end; i++) {
      const x = a[i];
      s0 += x;
      min = Math.min(min, x);
      max = Math.max(max, x);
      zeros += x === 0 ? 1 : 0;
    }
    const s = s0 + s1 + (s2 + s3);
    if (s - s === 0) {
      addSum(acc, s);
      acc.finite += end - start;
      acc.zeros += zeros;
      acc.min = Math.min(acc.min, min);
      acc.max = Math.max(acc.max, max);
    } else pass1Careful(a, start, end, acc);
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

/** Pass 2 with per-element checks: skips NaN/±Inf, and re-bins every value exactly. */
export function pass2Careful(a: Float32Array | Float64Array, p: Pass2): void {
  const { mean, first, fineNorm, fine, nearLimit } = p;
  const lastFine = p.fineTotal.length - 1;
  let squares = 0;
  let near = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (!(x - x === 0)) continue;
    const d = x - mean;
    squares += d * d;
    const f = Math.min(Math.trunc((x - first) * fineNorm), lastFine);
    fine[f]++;
    nearEdge(p, x, f);
    near += Math.abs(x) <= nearLimit ? 1 : 0;
  }
  p.squares += squares;
  p.near += near;
}

export function pass2F32(a: Float32Array, p: Pass2): void {
  const { mean, first, fineNorm, fine, nearLimit, tolerance } = p;
  const lanes = fine.length >>> 2;
  const lastFine = lanes - 1;
  const lane2 = 2 * lanes;
  const lane3 = 3 * lanes;
  const mask = (1 << p.shift) - 1;
  const high = 1 - tolerance;
  const n = a.length;
  const n4 = n & ~3;
  let sq0 = 0;
  let sq1 = 0;
  let near = 0;
  for (let i = 0; i < n4; i += 4) {
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
    const f0 = Math.min(t0 | 0, lastFine);
    const f1 = Math.min(t1 | 0, lastFine);
    const f2 = Math.min(t2 | 0, lastFine);
    const f3 = Math.min(t3 | 0, lastFine);
    // Four lanes of counts: consecutive values of a peaked distribution often share a bin, and one
    // array would make every increment wait for the previous one.
    fine[f0]++;
    fine[f1 + lanes]++;
    fine[f2 + lane2]++;
    fine[f3 + lane3]++;
    const r0 = f0 & mask;
    const r1 = f1 & mask;
    const r2 = f2 & mask;
    const r3 = f3 & mask;
    if ((r0 === 0 && t0 - f0 < tolerance) || (r0 === mask && t0 - f0 > high)) nearEdge(p, x0, f0);
    if ((r1 === 0 && t1 - f1 < tolerance) || (r1 === mask && t1 - f1 > high)) nearEdge(p, x1, f1);
    if ((r2 === 0 && t2 - f2 < tolerance) || (r2 === mask && t2 - f2 > high)) nearEdge(p, x2, f2);
    if ((r3 === 0 && t3 - f3 < tolerance) || (r3 === mask && t3 - f3 > high)) nearEdge(p, x3, f3);
    near +=
      (Math.abs(x0) <= nearLimit ? 1 : 0) +
      (Math.abs(x1) <= nearLimit ? 1 : 0) +
      (Math.abs(x2) <= nearLimit ? 1 : 0) +
      (Math.abs(x3) <= nearLimit ? 1 : 0);
  }
  for (let i = n4; i < n; i++) {
    const x = a[i];
    const d = x - mean;
    sq0 += d * d;
    const t = (x - first) * fineNorm;
    const f = Math.min(t | 0, lastFine);
    fine[f]++;
    const r = f & mask;
    if ((r === 0 && t - f < tolerance) || (r === mask && t - f > high)) nearEdge(p, x, f);
    near += Math.abs(x) <= nearLimit ? 1 : 0;
  }
  p.squares += sq0 + sq1;
  p.near += near;
}

/** Same as pass2F32 for Float64Array chunks. */
export function pass2F64(a: Float64Array, p: Pass2): void {
  const { mean, first, fineNorm, fine, nearLimit, tolerance } = p;
  const lanes = fine.length >>> 2;
  const lastFine = lanes - 1;
  const lane2 = 2 * lanes;
  const lane3 = 3 * lanes;
  const mask = (1 << p.shift) - 1;
  const high = 1 - tolerance;
  const n = a.length;
  const n4 = n & ~3;
  let sq0 = 0;
  let sq1 = 0;
  let near = 0;
  for (let i = 0; i < n4; i += 4) {
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
    const f0 = Math.min(t0 | 0, lastFine);
    const f1 = Math.min(t1 | 0, lastFine);
    const f2 = Math.min(t2 | 0, lastFine);
    const f3 = Math.min(t3 | 0, lastFine);
    // Four lanes of counts: consecutive values of a peaked distribution often share a bin, and one
    // array would make every increment wait for the previous one.
    fine[f0]++;
    fine[f1 + lanes]++;
    fine[f2 + lane2]++;
    fine[f3 + lane3]++;
    const r0 = f0 & mask;
    const r1 = f1 & mask;
    const r2 = f2 & mask;
    const r3 = f3 & mask;
    if ((r0 === 0 && t0 - f0 < tolerance) || (r0 === mask && t0 - f0 > high)) nearEdge(p, x0, f0);
    if ((r1 === 0 && t1 - f1 < tolerance) || (r1 === mask && t1 - f1 > high)) nearEdge(p, x1, f1);
    if ((r2 === 0 && t2 - f2 < tolerance) || (r2 === mask && t2 - f2 > high)) nearEdge(p, x2, f2);
    if ((r3 === 0 && t3 - f3 < tolerance) || (r3 === mask && t3 - f3 > high)) nearEdge(p, x3, f3);
    near +=
      (Math.abs(x0) <= nearLimit ? 1 : 0) +
      (Math.abs(x1) <= nearLimit ? 1 : 0) +
      (Math.abs(x2) <= nearLimit ? 1 : 0) +
      (Math.abs(x3) <= nearLimit ? 1 : 0);
  }
  for (let i = n4; i < n; i++) {
    const x = a[i];
    const d = x - mean;
    sq0 += d * d;
    const t = (x - first) * fineNorm;
    const f = Math.min(t | 0, lastFine);
    fine[f]++;
    const r = f & mask;
    if ((r === 0 && t - f < tolerance) || (r === mask && t - f > high)) nearEdge(p, x, f);
    near += Math.abs(x) <= nearLimit ? 1 : 0;
  }
  p.squares += sq0 + sq1;
  p.near += near;
}

/** 1 where the element is zero (incl. -0), else 0: the layout metrics read this instead of the values. */
export function zeroMaskF32(a: Float32Array, mask: Uint8Array): void {
  for (let i = 0; i < a.length; i++) mask[i] = a[i] === 0 ? 1 : 0;
}

export function zeroMaskF64(a: Float64Array, mask: Uint8Array): void {
  for (let i = 0; i < a.length; i++) mask[i] = a[i] === 0 ? 1 : 0;
}
