import { pass1F32Simd, pass2F32Simd, statsMask } from '../simd/statsSimd';
import { type ValueStream, valuesOf } from '../tensor/valueStream';
import { histogramBin, histogramEdges, histogramRange } from './histogramEdges';
import { LayoutMetrics } from './layoutMetrics';
import type { ContentHasher } from './payloadHash';
import { type Pass1, type Pass2, pass1F32, pass1F64, pass2Careful, pass2F32, pass2F64 } from './statsPasses';
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
  /** Fed the bytes of every chunk during pass 1 (see payloadHasherForValues). */
  hasher?: ContentHasher;
}

const PERCENTILES = ['50', '90', '99', '99.9'];
const NEAR_ZERO = 1e-3;
/**
 * Fine bins wanted (rounded up to a power of two per coarse bin): about absMax/4096 each, or about one
 * per value for small tensors, which keeps a bias or a norm weight cheap.
 */
const FINE_BINS = 8192;
/** Tensors this large first warm the loops up (see warmUp). */
const WARM_UP_FROM = 1 << 16;
let warm = false;

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
  if (!warm && values.count >= WARM_UP_FROM) warmUp();
  const layout = options.layout ? new LayoutMetrics(options.layout, values.count, options.nm) : undefined;
  let mask: Uint8Array = new Uint8Array(0);

  const acc: Pass1 = { finite: 0, sum: 0, comp: 0, min: Infinity, max: -Infinity, zeros: 0, nan: 0, inf: 0 };
  let seen = 0;
  for (const chunk of values.chunks()) {
    if (mask.length < chunk.length) {
      const size = Math.ceil(chunk.length / 4) * 4;
      mask = statsMask(size) ?? new Uint8Array(size);
    }
    if (chunk instanceof Float32Array) {
      if (!pass1F32Simd(chunk, acc, mask)) pass1F32(chunk, acc, mask);
    } else pass1F64(chunk, acc, mask);
    layout?.scan(mask, chunk.length);
    options.hasher?.update(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    seen += chunk.length;
  }
  if (seen !== values.count) throw new RangeError(`value stream yielded ${seen} of ${values.count} values`);

  const count = values.count;
  const finite = acc.finite;
  // Without a finite value min, max, mean, std and absMax are undefined: NaN (null in JSON), never a number.
  const stats: TensorStats = {
    count,
    min: NaN,
    max: NaN,
    mean: NaN,
    std: NaN,
    zeros: acc.zeros,
    nan: acc.nan,
    inf: acc.inf,
    absMax: NaN,
    sparsity: count > 0 ? acc.zeros / count : 0,
    histogram: { min: 0, max: 0, counts: new Array<number>(bins).fill(0) },
    nearZeros: 0,
    absPercentiles: Object.fromEntries(PERCENTILES.map((k) => [k, 0])),
  };
  if (finite > 0) {
    const mean = (acc.sum + acc.comp) / finite;
    const absMax = Math.max(Math.abs(acc.min), Math.abs(acc.max));
    const { first, last } = histogramRange(acc.min, acc.max);
    const p = pass2State(mean, first, last, bins, absMax, finite);
    // Careful mode when some values are not finite, or when the range is so narrow next to its magnitude
    // that any value could be near an edge.
    const careful = acc.nan + acc.inf > 0 || !(p.tolerance < 0.25);
    for (const chunk of values.chunks()) {
      if (careful) pass2Careful(chunk, p);
      else if (chunk instanceof Float32Array) {
        if (!pass2F32Simd(chunk, p)) pass2F32(chunk, p);
      } else pass2F64(chunk, p);
      flushFine(p.fine, p.fineTotal);
    }
    // Every zero (and -0) went to the same fine bin, left out of the edge checks: re-bin them at once.
    if (acc.zeros > 0) {
      const exact = histogramBin(0, first, p.norm, p.edges);
      const assumed = Math.min(Math.trunc((0 - first) * p.fineNorm), p.fineTotal.length - 1) >>> p.shift;
      p.adjust[exact] += acc.zeros;
      p.adjust[assumed] -= acc.zeros;
    }
    stats.min = acc.min === 0 ? 0 : acc.min;
    stats.max = acc.max === 0 ? 0 : acc.max;
    stats.mean = mean;
    stats.std = Math.sqrt(Math.max(0, p.squares / finite));
    stats.absMax = absMax;
    stats.histogram = { min: first, max: last, counts: coarseCounts(p, bins) };
    stats.nearZeros = p.near;
    stats.absPercentiles = magnitudePercentiles(p.fineTotal, first, last, finite, absMax);
    if (!Number.isFinite(p.fineNorm)) {
      // A range too narrow for its magnitude (one value near ±2^63, or float64 subnormals): 1/width
      // overflows, so bin by division instead, and every magnitude is within rounding of absMax.
      stats.histogram.counts = degenerateHistogram(values, first, last, bins);
      stats.absPercentiles = Object.fromEntries(PERCENTILES.map((k) => [k, absMax]));
    }
  }
  if (layout) Object.assign(stats, layout.result());
  return stats;
}

function pass2State(
  mean: number,
  first: number,
  last: number,
  bins: number,
  absMax: number,
  finite: number,
): Pass2 {
  const shift = Math.max(0, Math.ceil(Math.log2(Math.min(FINE_BINS, finite) / bins)));
  const fineBins = bins << shift;
  const fineNorm = fineBins / (last - first);
  // Rounding of (x - first), of the scaling and of numpy's edges, in fine bins, with a wide margin.
  const tolerance =
    16 * 2 ** -52 * ((Math.abs(first) + Math.abs(last) + (last - first)) * fineNorm + fineBins);
  return {
    mean,
    first,
    norm: bins / (last - first),
    edges: histogramEdges(first, last, bins),
    adjust: new Float64Array(bins),
    shift,
    fineNorm,
    fine: new Int32Array(4 * (fineBins + 1)),
    fineTotal: new Float64Array(fineBins),
    tolerance,
    nearLimit: NEAR_ZERO * absMax,
    squares: 0,
    near: 0,
  };
}

/** Add the chunk's four lanes of fine counts to the totals (int32 lanes hold any chunk's counts). */
function flushFine(fine: Int32Array, total: Float64Array): void {
  const n = total.length;
  const stride = n + 1;
  for (let i = 0; i <= n; i++) {
    total[Math.min(i, n - 1)] += fine[i] + fine[i + stride] + fine[i + 2 * stride] + fine[i + 3 * stride];
    fine[i] = fine[i + stride] = fine[i + 2 * stride] = fine[i + 3 * stride] = 0;
  }
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
    const high =
      i === zeroBin ? Math.max(-first - zeroBin * width, first + (zeroBin + 1) * width, low) : low + width;
    while (t < targets.length && cumulative + c >= targets[t]) {
      const value = low + ((targets[t] - cumulative) / c) * (high - low);
      out[PERCENTILES[t++]] = Math.min(absMax, Math.max(0, value));
    }
    cumulative += c;
  }
  for (; t < targets.length; t++) out[PERCENTILES[t]] = absMax;
  return out;
}

/**
 * Warm-up before the first big tensor. V8 compiles a long-running loop while it runs (on-stack
 * replacement), before the code after the loop has ever run; that code then has no type feedback, and
 * reaching it deoptimizes the cached compiled loop at the end of every later call too, which halves the
 * speed for the rest of the process. V8 allocates a function's feedback only after several calls, so
 * every path runs a few dozen times here, on tiny chunks (about a millisecond).
 */
function warmUp(): void {
  warm = true;
  const f32 = Float32Array.from({ length: 64 }, (_, i) => (i % 3 === 0 ? 0 : Math.sin(i)));
  const f64 = Float64Array.from(f32);
  const rows = { dims: [8, 8], reductionAxis: 1, channelAxis: 0 };
  const cols = { dims: [8, 8], reductionAxis: 0, channelAxis: 1 };
  for (let round = 0; round < 4; round++) {
    for (const values of [f32, f64]) {
      for (const layout of [undefined, rows, cols]) computeStats(valuesOf(values, 16), { layout });
    }
  }
  f64[5] = NaN;
  for (let round = 0; round < 4; round++) computeStats(valuesOf(f64, 16));
}

/**
 * Bins by `(x - first) / (last - first) * bins`, for ranges whose reciprocal width overflows; a range
 * of zero width (after numpy's ±0.5 widening was absorbed by rounding) puts every value in the middle
 * bin, where numpy's widened range would put it.
 */
function degenerateHistogram(values: ValueStream, first: number, last: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  const width = last - first;
  for (const chunk of values.chunks()) {
    for (let i = 0; i < chunk.length; i++) {
      const x = chunk[i];
      if (!Number.isFinite(x)) continue;
      const k = width > 0 ? Math.floor(((x - first) / width) * bins) : bins >> 1;
      counts[Math.min(bins - 1, Math.max(0, k))]++;
    }
  }
  return counts;
}
