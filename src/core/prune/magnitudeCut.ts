import { keepWindowSimd } from '../simd/pruneSimd';

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
  for (const chunk of chunks()) seen += countHigh(high, chunk);
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

/** Two 32-bit histograms countHigh alternates between, reused (emptied after each call). */
const pair = [new Uint32Array(BUCKETS), new Uint32Array(BUCKETS)];

/**
 * Adds the top 16 key bits of `values` to `high`; returns how many values there were. Neighbouring values
 * often share a bucket: counting them into two histograms in turn keeps one increment from waiting on the
 * previous one's store, and 32-bit counts are cheaper than float64 (a call counts < 2^32 values).
 */
function countHigh(high: Float64Array, values: Float32Array): number {
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  const [h0, h1] = pair;
  const n = bits.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    h0[(bits[i] >>> 16) & 0x7fff]++;
    h1[(bits[i + 1] >>> 16) & 0x7fff]++;
  }
  if (i < n) h0[(bits[i] >>> 16) & 0x7fff]++;
  for (let b = 0; b < BUCKETS; b++) {
    high[b] += h0[b] + h1[b];
    h0[b] = 0;
    h1[b] = 0;
  }
  return n;
}

/** A global cut and how many of its ties fall in each tensor (the first ones in reading order). */
export interface GlobalCut {
  cut: MagnitudeCut;
  ties: number[];
}

/** Bucket keys a global cut keeps (2 bytes each) to find the threshold and the ties without a third pass. */
const KEPT_LOWS = 1 << 24;

/**
 * The buckets where a sample puts the cut, widened by a margin, whose keys the first pass keeps: when the
 * cut falls inside (it nearly always does), no second pass over the weights is needed.
 */
interface KeyWindow {
  /** Buckets lo … lo + span. */
  lo: number;
  span: number;
  keys: Int32Array;
  at: number;
  /** Keys below the window (in buckets before lo). */
  below: number;
  /** Where each tensor's kept keys start (one more entry than tensors once all are counted). */
  starts: number[];
  overflow: boolean;
}

/**
 * The cut that selects the `k` smallest magnitudes across `count` tensors (`values(i)` yields tensor i
 * whole, possibly in a buffer reused for the next one), and where its ties fall: tensor by tensor, each
 * can then be pruned on its own, in any order. A reading pass makes the top-16-bit histogram; the low 16
 * bits of the keys in the threshold's bucket, per tensor, then give the threshold and the ties. Those keys
 * come from the same pass when `sample(i)` (a few evenly spread values of tensor i, in proportion to its
 * size) placed the cut's bucket in advance, else from a second pass. A bucket of more than 16 M values, or
 * a cut small enough to sort, counts the ties with one more pass.
 */
export function globalMagnitudeCut(
  count: number,
  values: (i: number) => Float32Array,
  total: number,
  k: number,
  sample?: (i: number) => Float32Array,
): GlobalCut {
  const all = function* () {
    for (let i = 0; i < count; i++) yield values(i);
  };
  const counting = k > 0 && total > SORT_BELOW;
  const high = new Float64Array(BUCKETS);
  let window = counting && sample ? keyWindow(count, sample, k / total, total) : undefined;
  let seen = 0;
  if (window) {
    // The reading pass counts the keys below the window and keeps those inside: the k-th smallest lies
    // inside when the count below is under k and the kept keys reach it. Then the window's histogram
    // (with the keys below it counted in the bucket just before) is all the top-16-bit histogram needed.
    for (let i = 0; i < count; i++) {
      seen += keepWindowKeys(values(i), window);
      window.starts.push(window.at);
    }
    const w = window;
    if (!w.overflow && w.below < k && w.below + w.at >= k) {
      for (let j = 0; j < w.at; j++) high[w.keys[j] >>> 16]++;
      if (w.lo > 0) high[w.lo - 1] = w.below;
    } else {
      // The sample misled (or the window overflowed): count everything in a second pass.
      seen = 0;
      window = undefined;
    }
  }
  if (counting && !window) for (let i = 0; i < count; i++) seen += countHigh(high, values(i));
  const [bucket, belowBucket] = counting ? find(high, k) : [0, 0];
  if (!counting || high[bucket] > KEPT_LOWS) {
    const cut = magnitudeCut(all, total, k);
    return { cut, ties: spreadTies(cut, count, (i) => countKey(values(i), cut.threshold)) };
  }
  if (seen !== total) throw new RangeError(`the values number ${seen}, not ${total}`);
  const lows = new Uint16Array(high[bucket]);
  const starts = [0];
  let at = 0;
  if (window) {
    for (let i = 0; i < count; i++) {
      for (let j = window.starts[i]; j < window.starts[i + 1]; j++) {
        const key = window.keys[j];
        if (key >>> 16 === bucket) lows[at++] = key & 0xffff;
      }
      starts.push(at);
    }
  } else {
    for (let i = 0; i < count; i++) {
      const v = values(i);
      const bits = new Int32Array(v.buffer, v.byteOffset, v.length);
      for (let j = 0; j < bits.length; j++) {
        const b = bits[j];
        if (((b >>> 16) & 0x7fff) === bucket) lows[at++] = b & 0xffff;
      }
      starts.push(at);
    }
  }
  const low = new Float64Array(BUCKETS);
  for (let j = 0; j < at; j++) low[lows[j]]++;
  const [lowBits, belowLow] = find(low, k - belowBucket);
  const below = belowBucket + belowLow;
  const cut = { threshold: ((bucket << 16) | lowBits) >>> 0, ties: k - below, below };
  const ties = spreadTies(cut, count, (i) => {
    let n = 0;
    for (let j = starts[i]; j < starts[i + 1]; j++) if (lows[j] === lowBits) n++;
    return n;
  });
  return { cut, ties };
}

/**
 * The buckets that hold the sample's quantile `q` give or take 4 standard errors (plus 0.2%), and room for
 * twice the share of keys the sample put there.
 */
function keyWindow(
  count: number,
  sample: (i: number) => Float32Array,
  q: number,
  total: number,
): KeyWindow | undefined {
  const hist = new Float64Array(BUCKETS);
  let m = 0;
  for (let i = 0; i < count; i++) m += countHigh(hist, sample(i));
  if (m < 1000) return undefined;
  const margin = 4 * Math.sqrt((q * (1 - q)) / m) + 0.002;
  // Near either end the window runs to the end: the sample may miss the very smallest or largest keys.
  const lo = q - margin <= 0 ? 0 : find(hist, Math.max(1, Math.floor((q - margin) * m)))[0];
  const hi = q + margin >= 1 ? BUCKETS - 1 : find(hist, Math.ceil((q + margin) * m))[0];
  let inside = 0;
  for (let b = lo; b <= hi; b++) inside += hist[b];
  const cap = Math.min(1 << 26, Math.ceil((2 * inside * total) / m) + (1 << 16));
  return { lo, span: hi - lo, keys: new Int32Array(cap), at: 0, below: 0, starts: [0], overflow: false };
}

/**
 * Counts the keys of `values` below the window and keeps those inside it (until the window is full);
 * returns how many values there were. The SIMD kernel does whole groups of four values where it runs; the
 * loop below does the rest with no histogram: a subtraction's sign counts a key below, and a rarely taken
 * branch keeps one inside, so it has no scattered increments.
 */
function keepWindowKeys(values: Float32Array, w: KeyWindow): number {
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  const { keys } = w;
  const first = w.lo << 16;
  // The offset of the window's last key (as a double: the window may end at the top bucket, 2^32 - 1).
  const last = (w.lo + w.span + 1) * 65536 - 1 - first;
  const n4 = bits.length & ~3;
  const simdBelow = keepWindowSimd(values, n4, first, last, (kept) => {
    const room = Math.min(kept.length, keys.length - w.at);
    keys.set(room < kept.length ? kept.subarray(0, room) : kept, w.at);
    w.at += room;
    if (room < kept.length) w.overflow = true;
  });
  let at = w.at;
  let below = simdBelow ?? 0;
  for (let i = simdBelow === undefined ? 0 : n4; i < bits.length; i++) {
    const key = bits[i] & 0x7fffffff;
    const d = key - first;
    below += d >>> 31;
    if (d >>> 0 <= last) {
      if (at < keys.length) keys[at++] = key;
      else w.overflow = true;
    }
  }
  w.at = at;
  w.below += below;
  return bits.length;
}

/** The cut's ties handed out in reading order: tensor i gets min(its values at the threshold, what is left). */
function spreadTies(cut: MagnitudeCut, count: number, atThreshold: (i: number) => number): number[] {
  let left = cut.ties;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const n = left > 0 ? Math.min(left, atThreshold(i)) : 0;
    out.push(n);
    left -= n;
  }
  return out;
}

/** How many values have exactly this key. */
function countKey(values: Float32Array, key: number): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let n = 0;
  for (let i = 0; i < bits.length; i++) if ((bits[i] & 0x7fffffff) === key) n++;
  return n;
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
