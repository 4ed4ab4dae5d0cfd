import type { ValueChunk, ValueStream } from '../tensor/valueStream';
import type { SharedHistogram } from './modelDiff';

/** One side of a compared pair: its values as the layer reads them. */
export interface ValueSide {
  values: ValueStream;
  /** Logical dims of `values` (a MatMulNBits weight: `[N, K]`). */
  dims: number[];
  /** Values are dequantized codes: the runtime computes them in float32, so they are rounded to it. */
  float32: boolean;
  /** A factor folded in by the other side (a Gemm's alpha the quantizer multiplied into the weight). */
  scale: number;
}

/** What comparing two value streams found. */
export interface PairFigures {
  equal: boolean;
  /** Σa², Σ(a−b)² over the pairs of finite values. */
  signal: number;
  error: number;
  maxAbsError: number;
  sparsityA: number;
  sparsityB: number;
  /** Pairs where one side is NaN/infinite and the other is not the same. */
  nonFiniteMismatch: number;
}

/** Values up to which a transposed side is held in memory (one weight of a pair at a time). */
const MAX_HELD = 1 << 29;

const mapper = (side: ValueSide) => {
  const s = side.float32 ? Math.fround(side.scale) : side.scale;
  if (side.float32) return s === 1 ? Math.fround : (v: number) => Math.fround(v * s);
  return s === 1 ? (v: number) => v : (v: number) => v * s;
};

/**
 * Compares two sides value by value. When `transpose` is set the sides hold a 2-D weight in opposite
 * orders (A `[r, c]`, B `[c, r]`): B is read into memory once and A streamed against it; otherwise both are
 * streamed in step, chunk by chunk, so nothing is held whole.
 */
export function compareSides(a: ValueSide, b: ValueSide, transpose: boolean): PairFigures {
  const fa = mapper(a);
  const fb = mapper(b);
  let signal = 0;
  let error = 0;
  let maxAbs = 0;
  let zerosA = 0;
  let zerosB = 0;
  let equal = true;
  let mismatch = 0;
  const step = (x: number, y: number) => {
    if (x === 0) zerosA++;
    if (y === 0) zerosB++;
    if (x === y) {
      if (Number.isFinite(x)) signal += x * x;
      return;
    }
    if (Number.isFinite(x) && Number.isFinite(y)) {
      const d = x - y;
      signal += x * x;
      error += d * d;
      const ad = Math.abs(d);
      if (ad > maxAbs) maxAbs = ad;
      equal = false;
    } else if (!(Number.isNaN(x) && Number.isNaN(y))) {
      mismatch++;
      equal = false;
    }
  };
  if (transpose) {
    const [r, c] = a.dims;
    const held = hold(b.values, b.float32);
    let i = 0;
    for (const chunk of a.values.chunks()) {
      for (let j = 0; j < chunk.length; j++, i++) {
        // A's element (row, col) is B's (col, row).
        const row = Math.floor(i / c);
        step(fa(chunk[j]), fb(held[(i - row * c) * r + row]));
      }
    }
  } else {
    zip(a.values, b.values, (x, y) => step(fa(x), fb(y)));
  }
  const count = a.values.count;
  return {
    equal,
    signal,
    error,
    maxAbsError: maxAbs,
    sparsityA: count ? zerosA / count : 0,
    sparsityB: count ? zerosB / count : 0,
    nonFiniteMismatch: mismatch,
  };
}

/** Fraction of exact zeros of one side alone (an added or removed tensor). */
export function sparsityOf(side: ValueSide): number {
  let zeros = 0;
  for (const chunk of side.values.chunks())
    for (let j = 0; j < chunk.length; j++) if (chunk[j] === 0) zeros++;
  return side.values.count ? zeros / side.values.count : 0;
}

/** Histograms of the sides over one range spanning both (finite values), `bins` equal bins. */
export function sharedHistograms(sides: ValueSide[], bins: number): SharedHistogram[] {
  let min = Infinity;
  let max = -Infinity;
  for (const side of sides) {
    const f = mapper(side);
    for (const chunk of side.values.chunks()) {
      for (let j = 0; j < chunk.length; j++) {
        const v = f(chunk[j]);
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
  }
  if (min === Infinity) {
    min = 0;
    max = 0;
  }
  // A single value reads [v - 0.5, v + 0.5], as numpy.histogram does.
  if (min === max) {
    min -= 0.5;
    max += 0.5;
  }
  const width = (max - min) / bins;
  return sides.map((side) => {
    const f = mapper(side);
    const counts = new Array<number>(bins).fill(0);
    for (const chunk of side.values.chunks()) {
      for (let j = 0; j < chunk.length; j++) {
        const v = f(chunk[j]);
        if (!Number.isFinite(v)) continue;
        counts[v >= max ? bins - 1 : Math.floor((v - min) / width)]++;
      }
    }
    return { min, max, counts };
  });
}

/**
 * The whole stream in memory: float32 when its chunks are, or when the values are dequantized codes (which
 * are compared rounded to float32 anyway: half the memory of a float64 copy).
 */
function hold(stream: ValueStream, float32: boolean): ValueChunk {
  if (stream.count > MAX_HELD)
    throw new RangeError(`a weight of ${stream.count} values is too large to compare`);
  let out: ValueChunk | undefined;
  let at = 0;
  for (const chunk of stream.chunks()) {
    out ??=
      float32 || chunk instanceof Float32Array
        ? new Float32Array(stream.count)
        : new Float64Array(stream.count);
    out.set(chunk, at);
    at += chunk.length;
  }
  return out ?? new Float64Array(0);
}

/** Calls `f` on each pair of values of two streams of equal length, whatever their chunk sizes. */
function zip(a: ValueStream, b: ValueStream, f: (x: number, y: number) => void): void {
  const ib = b.chunks()[Symbol.iterator]();
  let cb: ValueChunk = new Float64Array(0);
  let jb = 0;
  for (const ca of a.chunks()) {
    for (let ja = 0; ja < ca.length; ) {
      if (jb === cb.length) {
        const next = ib.next();
        if (next.done) throw new RangeError('the second stream ended early');
        cb = next.value;
        jb = 0;
        continue;
      }
      const n = Math.min(ca.length - ja, cb.length - jb);
      for (let k = 0; k < n; k++) f(ca[ja + k], cb[jb + k]);
      ja += n;
      jb += n;
    }
  }
}
