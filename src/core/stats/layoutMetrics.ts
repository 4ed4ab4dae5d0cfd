import type { NmCompliance, WeightLayout, ZeroChannels } from './tensorStats';

/**
 * Sparsity patterns that depend on how a weight is laid out, measured while its chunks stream past:
 * - N:M compliance: along the reduction axis, groups of M consecutive weights (for every position of the
 *   other axes) with at least M-N zeros; a trailing partial group is not counted.
 * - Zero channels: indices along the channel axis whose weights are all zero.
 * Any rank works: an axis splits the flat index into (outer, axis, inner), and each is walked with counters,
 * never with a division per element. It reads zero masks (one byte per value, from computeStats), so the
 * same loops serve float32 and float64 chunks.
 */

/** At most this many zero-channel indices are listed. */
const MAX_INDICES = 1000;

function split(dims: readonly number[], axis: number): { outer: number; size: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= dims[i];
  for (let i = axis + 1; i < dims.length; i++) inner *= dims[i];
  return { outer, size: dims[axis], inner };
}

function normalizeAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw new RangeError(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Feeds consecutive chunks of one tensor; `result()` once all are seen. */
export class LayoutMetrics {
  private readonly n: number;
  private readonly m: number;
  /** Zeros a group needs to comply (M - N). */
  private readonly need: number;
  private readonly nmSize: number;
  private readonly nmInner: number;
  /** Elements along the reduction axis that belong to whole groups. */
  private readonly nmFull: number;
  private readonly groupZeros: Int32Array;
  private groups = 0;
  private compliant = 0;
  /** Position of the next element along the reduction axis, within its group, and in the inner block. */
  private nmL = 0;
  private nmR = 0;
  private nmJ = 0;

  private readonly channelAxis: number;
  private readonly channels: number;
  private readonly channelInner: number;
  private readonly nonZero: Uint8Array;
  /** Channel of the next element and its position within the channel's inner block. */
  private ch = 0;
  private chJ = 0;
  private seen = 0;

  constructor(
    layout: WeightLayout,
    private readonly count: number,
    nm: { n: number; m: number } = { n: 2, m: 4 },
  ) {
    const dims = layout.dims;
    const product = dims.reduce((a, b) => a * b, 1);
    if (product !== count) {
      throw new RangeError(`layout dims [${dims.join(', ')}] hold ${product} elements, the tensor ${count}`);
    }
    if (!(Number.isInteger(nm.m) && Number.isInteger(nm.n) && nm.m >= 1 && nm.n >= 0 && nm.n <= nm.m)) {
      throw new RangeError(`invalid N:M pattern ${nm.n}:${nm.m}`);
    }
    this.n = nm.n;
    this.m = nm.m;
    this.need = nm.m - nm.n;
    const rank = dims.length;
    const reduction = split(dims, normalizeAxis(layout.reductionAxis, rank, 'reduction axis'));
    this.nmSize = reduction.size;
    this.nmInner = reduction.inner;
    this.nmFull = reduction.size - (reduction.size % nm.m);
    this.groups = reduction.outer * (this.nmFull / nm.m) * reduction.inner;
    this.groupZeros = new Int32Array(reduction.inner);
    this.channelAxis = normalizeAxis(layout.channelAxis, rank, 'channel axis');
    const channel = split(dims, this.channelAxis);
    this.channels = channel.size;
    this.channelInner = channel.inner;
    this.nonZero = new Uint8Array(channel.size);
  }

  /** Feed the zero mask of the next chunk (1 where the value is zero, incl. -0; NaN is not zero). */
  scan(zero: Uint8Array, length: number): void {
    if (this.groups > 0) this.scanNm(zero, length);
    if (this.channels > 0 && this.channelInner > 0) this.scanChannels(zero, length);
    this.seen += length;
  }

  private scanNm(zero: Uint8Array, len: number): void {
    const m = this.m;
    const size = this.nmSize;
    const full = this.nmFull;
    const need = this.need;
    let l = this.nmL;
    let r = this.nmR;
    let i = 0;
    if (this.nmInner === 1) {
      // Groups are runs of consecutive elements along a row of `size`; the last `size - full` are skipped.
      let zeros = this.groupZeros[0];
      let compliant = 0;
      while (i < len) {
        if (l < full) {
          const run = Math.min(full - l, len - i);
          const end = i + run;
          for (; i < end; i++) {
            zeros += zero[i];
            if (++r === m) {
              compliant += zeros >= need ? 1 : 0;
              zeros = 0;
              r = 0;
            }
          }
          l += run;
        } else {
          const run = Math.min(size - l, len - i);
          i += run;
          l += run;
        }
        if (l === size) l = 0;
      }
      this.groupZeros[0] = zeros;
      this.compliant += compliant;
    } else {
      // Each step along the axis is a contiguous block of `inner` elements, one per group column.
      const inner = this.nmInner;
      const zc = this.groupZeros;
      let j = this.nmJ;
      while (i < len) {
        const run = Math.min(inner - j, len - i);
        if (l < full) for (let k = 0; k < run; k++) zc[j + k] += zero[i + k];
        i += run;
        j += run;
        if (j === inner) {
          j = 0;
          if (l < full && ++r === m) {
            let compliant = 0;
            for (let k = 0; k < inner; k++) compliant += zc[k] >= need ? 1 : 0;
            zc.fill(0);
            this.compliant += compliant;
            r = 0;
          }
          if (++l === size) l = 0;
        }
      }
      this.nmJ = j;
    }
    this.nmL = l;
    this.nmR = r;
  }

  private scanChannels(zero: Uint8Array, len: number): void {
    const nonZero = this.nonZero;
    const channels = this.channels;
    let ch = this.ch;
    let i = 0;
    if (this.channelInner === 1) {
      // Channels are consecutive: walk rows of `channels` elements.
      while (i < len) {
        const run = Math.min(channels - ch, len - i);
        for (let k = 0; k < run; k++) nonZero[ch + k] |= zero[i + k] ^ 1;
        i += run;
        ch += run;
        if (ch === channels) ch = 0;
      }
    } else {
      const inner = this.channelInner;
      let j = this.chJ;
      while (i < len) {
        const run = Math.min(inner - j, len - i);
        if (nonZero[ch] === 0) {
          for (let k = i; k < i + run; k++) {
            if (zero[k] === 0) {
              nonZero[ch] = 1;
              break;
            }
          }
        }
        i += run;
        j += run;
        if (j === inner) {
          j = 0;
          if (++ch === channels) ch = 0;
        }
      }
      this.chJ = j;
    }
    this.ch = ch;
  }

  result(): { nm?: NmCompliance; zeroChannels?: ZeroChannels } {
    if (this.seen !== this.count)
      throw new RangeError(`layout metrics saw ${this.seen} of ${this.count} values`);
    const out: { nm?: NmCompliance; zeroChannels?: ZeroChannels } = {};
    if (this.groups > 0) {
      out.nm = {
        n: this.n,
        m: this.m,
        groups: this.groups,
        compliant: this.compliant,
        ratio: this.compliant / this.groups,
      };
    }
    if (this.count > 0) {
      const indices: number[] = [];
      let zero = 0;
      for (let c = 0; c < this.channels; c++) {
        if (this.nonZero[c] === 0) {
          zero++;
          if (indices.length < MAX_INDICES) indices.push(c);
        }
      }
      out.zeroChannels = { axis: this.channelAxis, total: this.channels, zero, indices };
    }
    return out;
  }
}
