/**
 * Bin edges exactly as `numpy.histogram(values, bins)` computes them for float64 data (numpy 1.x and 2.x:
 * `_get_outer_edges` then `linspace`), so an oracle comparing bin counts sees the same boundaries.
 */

/** The outer edges for data spanning [min, max]: numpy widens an empty range to [min-0.5, max+0.5]. */
export function histogramRange(min: number, max: number): { first: number; last: number } {
  return min === max ? { first: min - 0.5, last: max + 0.5 } : { first: min, last: max };
}

/** `bins + 1` edges from `first` to `last`, computed as numpy.linspace does (last edge set exactly). */
export function histogramEdges(first: number, last: number, bins: number): Float64Array {
  const edges = new Float64Array(bins + 1);
  const delta = last - first;
  const step = delta / bins;
  for (let i = 0; i <= bins; i++) {
    // linspace: y = arange(num) * step (or / div * delta when step underflows to 0), then + start.
    edges[i] = (step === 0 ? (i / bins) * delta : i * step) + first;
  }
  edges[bins] = last;
  return edges;
}

/**
 * The bin of `x` (first <= x <= last) by numpy's rule: the scaled index, then a one-step correction
 * against the edges; every bin is half-open except the last, which is closed.
 */
export function histogramBin(x: number, first: number, norm: number, edges: Float64Array): number {
  const bins = edges.length - 1;
  let k = Math.trunc((x - first) * norm);
  if (k >= bins) k = bins - 1;
  if (x < edges[k]) k--;
  else if (k !== bins - 1 && x >= edges[k + 1]) k++;
  return k;
}
