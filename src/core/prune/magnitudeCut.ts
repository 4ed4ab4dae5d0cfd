/**
 * Magnitude selection without sorting. A float32's bit pattern with the sign bit cleared orders |x| exactly
 * (0 and -0 first, NaN above infinity), so the k-th smallest magnitude is found with two counting passes:
 * a histogram of the top 16 key bits finds the bucket that holds it, a histogram of the low 16 bits of that
 * bucket's keys finds the key itself. Ties at the threshold are resolved in reading order, so exactly k
 * values are selected and the same inputs always select the same values.
 */

/**
 * Prune every value whose key is below `threshold`, then the first `ties` values (in reading order) whose
 * key equals it: `below + ties` values in all (the k asked for).
 */
export interface MagnitudeCut {
  /** A key: |x|'s float32 bit pattern (sign cleared). */
  threshold: number;
  ties: number;
  /** Values with a key below the threshold. */
  below: number;
}

/** Cuts below this many values sort the keys; larger ones count with histograms. */
const SORT_BELOW = 1 << 14;
const BUCKETS = 1 << 16;

/** The magnitude key of each value: |x|'s float32 bits. */
export function magnitudeKeys(values: Float32Array): Uint32Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const keys = new Uint32Array(values.length);
  for (let i = 0; i < keys.length; i++) keys[i] = bits[i] & 0x7fffffff;
  return keys;
}

/**
 * The cut that selects the `k` smallest magnitudes of the values `chunks()` yields (all tensors of a
 * global cut, in order). `chunks` is called at most twice and must yield the same values each time.
 */
export function magnitudeCut(chunks: () => Iterable<Float32Array>, total: number, k: number): MagnitudeCut {
  if (!Number.isSafeInteger(k) || k < 0 || k > total)
    throw new RangeError(`cannot select ${k} of ${total} values`);
  if (k === 0) return { threshold: 0, ties: 0, below: 0 };
  if (total <= SORT_BELOW) return sortedCut(chunks(), total, k);
  const high = new Float64Array(BUCKETS);
  let seen = 0;
  for (const chunk of chunks()) {
    const bits = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length);
    for (let i = 0; i < bits.length; i++) high[(bits[i] & 0x7fffffff) >>> 16]++;
    seen += bits.length;
  }
  if (seen !== total) throw new RangeError(`the values number ${seen}, not ${total}`);
  const [bucket, belowBucket] = find(high, k);
  const low = new Float64Array(BUCKETS);
  for (const chunk of chunks()) {
    const bits = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length);
    for (let i = 0; i < bits.length; i++) {
      const key = bits[i] & 0x7fffffff;
      if (key >>> 16 === bucket) low[key & 0xffff]++;
    }
  }
  const [lowBits, belowLow] = find(low, k - belowBucket);
  const below = belowBucket + belowLow;
  return { threshold: ((bucket << 16) | lowBits) >>> 0, ties: k - below, below };
}

/** The bin where the running count reaches `k`, and the count below it. */
function find(hist: Float64Array, k: number): [number, number] {
  let below = 0;
  for (let b = 0; b < hist.length; b++) {
    if (below + hist[b] >= k) return [b, below];
    below += hist[b];
  }
  throw new RangeError('the histogram holds fewer values than asked for');
}

function sortedCut(chunks: Iterable<Float32Array>, total: number, k: number): MagnitudeCut {
  const keys = new Uint32Array(total);
  let at = 0;
  for (const chunk of chunks) {
    if (at + chunk.length > total) throw new RangeError(`the values number more than ${total}`);
    keys.set(magnitudeKeys(chunk), at);
    at += chunk.length;
  }
  if (at !== total) throw new RangeError(`the values number ${at}, not ${total}`);
  keys.sort();
  const threshold = keys[k - 1];
  let below = k - 1;
  while (below > 0 && keys[below - 1] === threshold) below--;
  return { threshold, ties: k - below, below };
}

/**
 * Applies a cut to the next values in reading order: clears `keep` where a value is pruned. `state.ties`
 * counts down the ties still to prune, across calls (a global cut spans tensors). Returns how many were
 * pruned here.
 */
export function applyCut(
  values: Float32Array,
  keep: Uint8Array,
  cut: MagnitudeCut,
  state: { ties: number },
): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const t = cut.threshold;
  let pruned = 0;
  let ties = state.ties;
  for (let i = 0; i < bits.length; i++) {
    const key = bits[i] & 0x7fffffff;
    if (key < t) keep[i] = 0;
    else if (key === t && ties > 0) {
      keep[i] = 0;
      ties--;
    } else {
      keep[i] = 1;
      continue;
    }
    pruned++;
  }
  state.ties = ties;
  return pruned;
}
