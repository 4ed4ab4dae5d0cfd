import type { ValueStream } from '../tensor/valueStream';
import { histogramEdges, histogramRange } from './histogramEdges';
import { LayoutMetrics } from './layoutMetrics';
import {
  type Pass1,
  type Pass2,
  pass1F32,
  pass1F64,
  pass2Careful,
  pass2F32,
  pass2F64,
  zeroMaskF32,
  zeroMaskF64,
} from './statsPasses';
import type { TensorStats, WeightLayout } from './tensorStats';

/**
 * Per-tensor statistics in two streaming passes over a ValueStream, accumulated in float64.
 *
 * Pass 1: count of finite values, sum, min, max, zeros, NaN and Inf (plus the layout metrics, which only
 * need to know which values are zero). Pass 2, once the mean and the range are known: squared deviations,
 * a fine histogram (the numpy-style histogram and the magnitude percentiles both come from it) and the
 * near-zero count. The loops themselves are in statsPasses.ts.
 */

export interface ComputeStatsOptions {
  /** Histogram bins over [min, max] of the finite values (default 64). */
  bins?: number;
  /** Enables N:M compliance and zero channels. */
  layout?: WeightLayout;
  /** The N:M pattern to check along the reduction axis (default 2:4; used only with a layout). */
  nm?: { n: number; m: number };
}

const PERCENTILES = ['50', '90', '99', '99.9'];
const NEAR_ZERO = 1e-3;
/** At least this many fine bins (a power of two per coarse bin): about absMax/4096 per bin. */
const MIN_FINE_BINS = 8192;

/**
 * Statistics of a stream of values: min/max/mean/std/absMax over the finite values (0 when there are
 * none), counts of zeros (incl. -0), NaN and Inf, a histogram equal bin for bin to
 * `numpy.histogram(finite_values.astype(numpy.float64), bins)` (its min/max are numpy's outer edges, so a
 * single-valued tensor reads [v-0.5, v+0.5]), near-zeros, approximate magnitude percentiles, and with a
 * layout the N:M compliance (default 2:4) and zero channels.
 */
export function computeStats(values: ValueStream, options: ComputeStatsOptions = {}): TensorStats {
  const bins = options.bins ?? 64;
  if (!(Number.isInteger(bins) && bins >= 1 && bins <= 1 << 20)) {
    throw new RangeError(`bins must be an integer in [1, 2^20], got ${bins}`);
  }
  const layout = options.layout ? new LayoutMetrics(options.layout, values.count, options.nm) : undefined;
  let mask = new Uint8Array(0);

  const acc: Pass1 = { finite: 0, sum: 0, comp: 0, min: Infinity, max: -Infinity, zeros: 0, nan: 0, inf: 0 };
  let seen = 0;
  for (const chunk of values.chunks()) {
    if (chunk instanceof Float32Array) pass1F32(chunk, acc);
    else pass1F64(chunk, acc);
    if (layout) {
      if (mask.length < chunk.length) mask = new Uint8Array(chunk.length);
      if (chunk instanceof Float32Array) zeroMaskF32(chunk, mask);
      else zeroMaskF64(chunk, mask);
      layout.scan(mask, chunk.length);
    }
    seen += chunk.length;
  }
  if (seen !== values.count) throw new RangeError(`value stream yielded ${seen} of ${values.count} values`);

  const count = values.count;
  const finite = acc.finite;
  const stats: TensorStats = {
    count,
    min: 0,
    max: 0,
    mean: 0,
    std: 0,
    zeros: acc.zeros,
    nan: acc.nan,
    inf: acc.inf,
    absMax: 0,
    sparsity: count > 0 ? acc.zeros / count : 0,
    histogram: { min: 0, max: 0, counts: new Array<number>(bins).fill(0) },
    nearZeros: 0,
    absPercentiles: Object.fromEntries(PERCENTILES.map((k) => [k, 0])),
  };
  if (finite > 0) {
    const mean = (acc.sum + acc.comp) / finite;
    const absMax = Math.max(Math.abs(acc.min), Math.abs(acc.max));
    const { first, last } = histogramRange(acc.min, acc.max);
    const p = pass2State(mean, first, last, bins, absMax);
    // Careful mode when some values are not finite, or when the range is so narrow next to its magnitude
    // that any value could be near an edge.
    const careful = acc.nan + acc.inf > 0 || !(p.tolerance < 0.25);
    for (const chunk of values.chunks()) {
      if (careful) pass2Careful(chunk, p);
      else if (chunk instanceof Float32Array) pass2F32(chunk, p);
      else pass2F64(chunk, p);
      flushFine(p);
    }
    stats.min = acc.min === 0 ? 0 : acc.min;
    stats.max = acc.max === 0 ? 0 : acc.max;
    stats.mean = mean;
    stats.std = Math.sqrt(Math.max(0, p.squares / finite));
    stats.absMax = absMax;
    stats.histogram = { min: first, max: last, counts: coarseCounts(p, bins) };
    stats.nearZeros = p.near;
    stats.absPercentiles = magnitudePercentiles(p.fineTotal, first, last, finite, absMax);
  }
  if (layout) Object.assign(stats, layout.result());
  return stats;
}

function pass2State(mean: number, first: number, last: number, bins: number, absMax: number): Pass2 {
  const shift = Math.max(0, Math.ceil(Math.log2(MIN_FINE_BINS / bins)));
  const fineBins = bins << shift;
  const fineNorm = fineBins / (last - first);
  // Rounding of (x - first), of the scaling and of numpy's edges, in fine bins, with a wide margin.
  const tolerance = 16 * 2 ** -52 * ((Math.abs(first) + Math.abs(last) + (last - first)) * fineNorm + fineBins);
  return {
    mean,
    first,
    norm: bins / (last - first),
    edges: histogramEdges(first, last, bins),
    adjust: new Float64Array(bins),
    shift,
    fineNorm,
    fine: new Int32Array(4 * fineBins),
    fineTotal: new Float64Array(fineBins),
    tolerance,
    nearLimit: NEAR_ZERO * absMax,
    squares: 0,
    near: 0,
  };
}

/** Add the chunk's four lanes of fine counts to the totals (int32 lanes hold any chunk's counts). */
function flushFine(p: Pass2): void {
  const { fine, fineTotal } = p;
  const n = fineTotal.length;
  for (let i = 0; i < n; i++) fineTotal[i] += fine[i] + fine[i + n] + fine[i + 2 * n] + fine[i + 3 * n];
  fine.fill(0);
}

/** The numpy-style counts: each coarse bin is 2^shift fine bins, plus the exact re-binning of edge values. */
function coarseCounts(p: Pass2, bins: number): number[] {
  const per = 1 << p.shift;
  const counts = new Array<number>(bins);
  for (let k = 0; k < bins; k++) {
    let c = p.adjust[k];
    for (let f = k * per; f < (k + 1) * per; f++) c += p.fineTotal[f];
    counts[k] = c;
  }
  return counts;
}

/**
 * Approximate percentiles of |x| from the fine signed histogram: bins below zero, read from zero outwards,
 * are merged with the bins above zero into one ascending order of magnitude; within a bin the rank is
 * interpolated linearly. Accurate to about one fine bin, (max - min) / 8192.
 */
function magnitudePercentiles(
  fine: Float64Array,
  first: number,
  last: number,
  finite: number,
  absMax: number,
): Record<string, number> {
  const width = (last - first) / fine.length;
  // The bin holding zero (or the boundary where the sign changes).
  const zeroBin = Math.min(fine.length, Math.max(0, Math.floor(-first / width)));
  let neg = zeroBin - 1; // walks down: bins entirely below zero
  let pos = zeroBin; // walks up: the bin holding zero, then bins above
  const lowOf = (i: number) => Math.max(0, i < zeroBin ? -(first + (i + 1) * width) : first + i * width);
  const targets = PERCENTILES.map((k) => (Number(k) / 100) * finite);
  const out: Record<string, number> = {};
  let t = 0;
  let cumulative = 0;
  while (t < targets.length && (neg >= 0 || pos < fine.length)) {
    const takePos = neg < 0 || (pos < fine.length && lowOf(pos) <= lowOf(neg));
    const i = takePos ? pos++ : neg--;
    const c = fine[i];
    if (c === 0) continue;
    const low = lowOf(i);
    const high = i === zeroBin ? Math.max(-first - zeroBin * width, first + (zeroBin + 1) * width, low) : low + width;
    while (t < targets.length && cumulative + c >= targets[t]) {
      const value = low + ((targets[t] - cumulative) / c) * (high - low);
      out[PERCENTILES[t++]] = Math.min(absMax, Math.max(0, value));
    }
    cumulative += c;
  }
  for (; t < targets.length; t++) out[PERCENTILES[t]] = absMax;
  return out;
}
