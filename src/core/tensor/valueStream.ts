/**
 * A tensor's values as numbers, delivered in bounded chunks so a multi-GB weight is never held whole.
 *
 * Chunks are Float32Array for every type whose values float32 holds exactly (float32/16, bfloat16,
 * float8/4, 8/16-bit and 4-bit integers, bool) and Float64Array for the others (float64, 32/64-bit
 * integers). Consumers should write one tight loop per array type.
 */
export type ValueChunk = Float32Array | Float64Array;

/** A re-iterable stream of values: statistics read it twice. */
export interface ValueStream {
  /** How many values `chunks()` yields in all. */
  readonly count: number;
  /**
   * The values in order. A chunk is read-only and valid only until the next one is requested (buffers
   * are reused); copy it to keep it. Each call starts again from the first value.
   */
  chunks(): Iterable<ValueChunk>;
}

/** The chunk size used when none is given: 1M elements (4 or 8 MB). */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 20;

/** A chunk size rounded to a multiple of 8, so 4-bit chunks start on a byte and typed views stay aligned. */
export function normalizeChunkElements(chunkElements: number | undefined): number {
  const n = chunkElements ?? DEFAULT_CHUNK_ELEMENTS;
  if (!Number.isFinite(n) || n < 1) throw new RangeError(`chunkElements must be positive, got ${n}`);
  return Math.max(8, Math.ceil(n / 8) * 8);
}

/** A stream over values already in memory (small parameters, tests); chunks are subarrays, not copies. */
export function valuesOf(values: ValueChunk | ArrayLike<number>, chunkElements?: number): ValueStream {
  const array =
    values instanceof Float32Array || values instanceof Float64Array ? values : Float64Array.from(values);
  const size = normalizeChunkElements(chunkElements);
  return {
    count: array.length,
    *chunks() {
      for (let start = 0; start < array.length; start += size) {
        yield array.subarray(start, Math.min(array.length, start + size));
      }
    },
  };
}

/**
 * All values of a (small) stream in one Float64Array: scales, zero points, sparse indices. Refuses
 * streams longer than `maxCount` so a weight is not materialized by accident.
 */
export function collectValues(stream: ValueStream, maxCount = 1 << 26): Float64Array {
  if (stream.count > maxCount) {
    throw new RangeError(`refusing to materialize ${stream.count} values (limit ${maxCount})`);
  }
  const out = new Float64Array(stream.count);
  let n = 0;
  for (const chunk of stream.chunks()) {
    if (n + chunk.length > out.length)
      throw new RangeError(`stream yielded more than its ${stream.count} values`);
    out.set(chunk, n);
    n += chunk.length;
  }
  if (n !== out.length) throw new RangeError(`stream yielded ${n} of its ${stream.count} values`);
  return out;
}
