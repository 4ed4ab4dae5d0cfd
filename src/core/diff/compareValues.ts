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

/** Running sums of a comparison (one object, updated by one tight loop). */
interface Accumulator {
  signal: number;
  error: number;
  maxAbs: number;
  zerosA: number;
  zerosB: number;
  mismatch: number;
  unequal: number;
  /** Each side's factor, and whether its values are rounded to float32. */
  scaleA: number;
  scaleB: number;
  f32A: boolean;
  f32B: boolean;
}

/** Adds `n` pairs: `a[ia…]` against `b[ib…]`. One loop, no call per value: weights hold billions of them. */
function accumulate(acc: Accumulator, a: ValueChunk, ia: number, b: ValueChunk, ib: number, n: number): void {
  const { scaleA, scaleB, f32A, f32B } = acc;
  let { signal, error, maxAbs, zerosA, zerosB, mismatch, unequal } = acc;
  for (let k = 0; k < n; k++) {
    let x = a[ia + k];
    let y = b[ib + k];
    if (scaleA !== 1) x *= scaleA;
    if (f32A) x = Math.fround(x);
    if (scaleB !== 1) y *= scaleB;
    if (f32B) y = Math.fround(y);
    if (x === 0) zerosA++;
    if (y === 0) zerosB++;
    const d = x - y;
    if (d === 0) {
      signal += x * x;
    } else if (d - d === 0) {
      // Both finite.
      signal += x * x;
      error += d * d;
      const ad = d < 0 ? -d : d;
      if (ad > maxAbs) maxAbs = ad;
      unequal++;
    } else if (!(x !== x && y !== y) && x !== y) {
      // One side NaN or infinite and the other not the same (equal infinities and two NaNs are equal).
      mismatch++;
    }
  }
  Object.assign(acc, { signal, error, maxAbs, zerosA, zerosB, mismatch, unequal });
}

/**
 * Compares two sides value by value. When `transpose` is set the sides hold a 2-D weight in opposite
 * orders (A `[r, c]`, B `[c, r]`): B is read into memory once and A streamed against it; otherwise both are
 * streamed in step, chunk by chunk, so nothing is held whole.
 */
export function compareSides(a: ValueSide, b: ValueSide, transpose: boolean): PairFigures {
  const acc: Accumulator = {
    signal: 0,
    error: 0,
    maxAbs: 0,
    zerosA: 0,
    zerosB: 0,
    mismatch: 0,
    unequal: 0,
    scaleA: a.float32 ? Math.fround(a.scale) : a.scale,
    scaleB: b.float32 ? Math.fround(b.scale) : b.scale,
    f32A: a.float32,
    f32B: b.float32,
  };
  if (transpose) {
    const [r, c] = a.dims;
    const held = hold(b.values, b.float32);
    let gathered: ValueChunk = held instanceof Float32Array ? new Float32Array(0) : new Float64Array(0);
    // A's element (row, col) is B's (col, row).
    let row = 0;
    let col = 0;
    for (const chunk of a.values.chunks()) {
      if (gathered.length < chunk.length) {
        gathered =
          held instanceof Float32Array ? new Float32Array(chunk.length) : new Float64Array(chunk.length);
      }
      for (let j = 0; j < chunk.length; j++) {
        gathered[j] = held[col * r + row];
        if (++col === c) {
          col = 0;
          row++;
        }
      }
      accumulate(acc, chunk, 0, gathered, 0, chunk.length);
    }
  } else {
    zip(a.values, b.values, (ca, ia, cb, ib, n) => accumulate(acc, ca, ia, cb, ib, n));
  }
  const count = a.values.count;
  return {
    equal: acc.unequal === 0 && acc.mismatch === 0,
    signal: acc.signal,
    error: acc.error,
    maxAbsError: acc.maxAbs,
    sparsityA: count ? acc.zerosA / count : 0,
    sparsityB: count ? acc.zerosB / count : 0,
    nonFiniteMismatch: acc.mismatch,
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
    const scale = side.float32 ? Math.fround(side.scale) : side.scale;
    for (const chunk of side.values.chunks()) {
      for (let j = 0; j < chunk.length; j++) {
        let v = chunk[j];
        if (scale !== 1) v *= scale;
        if (side.float32) v = Math.fround(v);
        if (v - v !== 0) continue; // NaN, infinities
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
  }
  if (min > max) {
    // No finite value.
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
    const scale = side.float32 ? Math.fround(side.scale) : side.scale;
    const counts = new Float64Array(bins);
    for (const chunk of side.values.chunks()) {
      for (let j = 0; j < chunk.length; j++) {
        let v = chunk[j];
        if (scale !== 1) v *= scale;
        if (side.float32) v = Math.fround(v);
        if (!(v >= min && v <= max)) continue; // NaN, infinities
        counts[v >= max ? bins - 1 : Math.floor((v - min) / width)]++;
      }
    }
    return { min, max, counts: Array.from(counts) };
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

/** Calls `f` on aligned runs of two streams of equal length, whatever their chunk sizes. */
function zip(
  a: ValueStream,
  b: ValueStream,
  f: (ca: ValueChunk, ia: number, cb: ValueChunk, ib: number, n: number) => void,
): void {
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
      f(ca, ja, cb, jb, n);
      ja += n;
      jb += n;
    }
  }
}
