/**
 * Keep-masks with structure: N:M along a reduction axis and whole output channels. A mask holds 1 where a
 * weight is kept and 0 where it is pruned, one byte per weight, in the tensor's (row-major) order.
 */

/** An axis splits a flat row-major index into (outer, along the axis, inner). */
export function splitAxis(
  dims: readonly number[],
  axis: number,
): { outer: number; size: number; inner: number } {
  if (!Number.isInteger(axis) || axis < 0 || axis >= dims.length)
    throw new RangeError(`axis ${axis} is out of range for rank ${dims.length}`);
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= dims[i];
  for (let i = axis + 1; i < dims.length; i++) inner *= dims[i];
  return { outer, size: dims[axis], inner };
}

function checkCount(values: Float32Array, dims: readonly number[]): void {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== values.length)
    throw new RangeError(`dims [${dims.join(', ')}] hold ${count} values, not ${values.length}`);
}

/**
 * N:M semi-structured mask: every group of M consecutive weights along `axis` (for each position of the
 * other axes) keeps its N largest magnitudes; equal magnitudes keep the lower index. A trailing group
 * shorter than M keeps at most N, so the pattern holds when it is padded with zeros.
 */
export function nmKeepMask(
  values: Float32Array,
  dims: readonly number[],
  axis: number,
  n: number,
  m: number,
): Uint8Array {
  checkCount(values, dims);
  if (!(Number.isInteger(n) && Number.isInteger(m) && n >= 1 && n < m && m <= 255))
    throw new RangeError(`N:M needs whole numbers 1 <= N < M <= 255, got ${n}:${m}`);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const keep = new Uint8Array(values.length);
  const { outer, size, inner } = splitAxis(dims, axis);
  const keys = new Float64Array(m);
  for (let o = 0; o < outer; o++) {
    for (let g = 0; g < size; g += m) {
      const len = Math.min(m, size - g);
      const base = (o * size + g) * inner;
      for (let j = 0; j < inner; j++) {
        const first = base + j;
        for (let s = 0; s < len; s++) keys[s] = bits[first + s * inner] & 0x7fffffff;
        for (let r = 0; r < n && r < len; r++) {
          let best = -1;
          let bestKey = -1;
          for (let s = 0; s < len; s++) {
            if (keys[s] > bestKey) {
              bestKey = keys[s];
              best = s;
            }
          }
          keep[first + best * inner] = 1;
          keys[best] = -2;
        }
      }
    }
  }
  return keep;
}

/** A structured cut: which output channels were zeroed, and the L2 norm of every channel before. */
export interface ChannelCut {
  keep: Uint8Array;
  /** Zeroed channel indices, ascending. */
  zeroed: number[];
  norms: Float64Array;
}

/**
 * Structured mask: the round(ratio × C) output channels (indices along `axis`) with the smallest L2 norm are
 * zeroed whole; equal norms zero the lower index first; a channel holding NaN is never chosen.
 */
export function channelKeepMask(
  values: Float32Array,
  dims: readonly number[],
  axis: number,
  ratio: number,
): ChannelCut {
  checkCount(values, dims);
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`the channel ratio must be in [0, 1], got ${ratio}`);
  const { outer, size, inner } = splitAxis(dims, axis);
  const norms = new Float64Array(size);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < size; c++) {
      let s = 0;
      for (let j = 0; j < inner; j++, i++) s += values[i] * values[i];
      norms[c] += s;
    }
  }
  for (let c = 0; c < size; c++) norms[c] = Math.sqrt(norms[c]);
  const order = Array.from({ length: size }, (_, c) => c).sort((a, b) => {
    const x = Number.isNaN(norms[a]) ? Infinity : norms[a];
    const y = Number.isNaN(norms[b]) ? Infinity : norms[b];
    return x - y || a - b;
  });
  const count = Math.round(ratio * size);
  const zeroed = order
    .slice(0, count)
    .filter((c) => !Number.isNaN(norms[c]))
    .sort((a, b) => a - b);
  const dropped = new Uint8Array(size);
  for (const c of zeroed) dropped[c] = 1;
  const keep = new Uint8Array(values.length);
  i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < size; c++) {
      keep.fill(dropped[c] ? 0 : 1, i, i + inner);
      i += inner;
    }
  }
  return { keep, zeroed, norms };
}
