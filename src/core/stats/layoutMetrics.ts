import { nmAdd, nmBegin, nmCount, nmEnd, nmGroups4 } from '../simd/statsSimd';
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
  /** Zeros so far in each open group column (bytes: M <= 255), with a word view for packed adds. */
  private readonly groupZeros: Uint8Array;
  private readonly groupZeros32: Uint32Array;
  private maskWords: Uint32Array = new Uint32Array(0);
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
  /** Channel axis last: the channels not yet seen non-zero, ascending (most drop out in the first row). */
  private readonly candidates: Int32Array;
  private candidateCount: number;
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
    if (
      !(
        Number.isInteger(nm.m) &&
        Number.isInteger(nm.n) &&
        nm.m >= 1 &&
        nm.m <= 255 &&
        nm.n >= 0 &&
        nm.n <= nm.m
      )
    ) {
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
    this.groupZeros = new Uint8Array(Math.ceil(reduction.inner / 4) * 4);
    this.groupZeros32 = new Uint32Array(this.groupZeros.buffer);
    this.channelAxis = normalizeAxis(layout.channelAxis, rank, 'channel axis');
    const channel = split(dims, this.channelAxis);
    this.channels = channel.size;
    this.channelInner = channel.inner;
    this.nonZero = new Uint8Array(channel.size);
    this.candidates =
      channel.inner === 1 ? Int32Array.from({ length: channel.size }, (_, c) => c) : new Int32Array(0);
    this.candidateCount = this.candidates.length;
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
      // Groups are runs of `m` consecutive elements along a row of `size`; the last `size - full` are
      // skipped. Whole groups are summed at once; a group cut by the chunk's end is carried over.
      let zeros = this.groupZeros[0];
      let compliant = 0;
      while (i < len) {
        if (l >= full) {
          const run = Math.min(size - l, len - i);
          i += run;
          l += run;
        } else if (r === 0 && len - i >= m) {
          const groups = Math.min((full - l) / m, Math.floor((len - i) / m));
          const end = i + groups * m;
          const simd = m === 4 ? nmGroups4(zero, i, groups, need) : undefined;
          if (simd !== undefined) {
            compliant += simd;
            i = end;
          } else if (m === 4) {
            for (; i < end; i += 4) compliant += +(zero[i] + zero[i + 1] + zero[i + 2] + zero[i + 3] >= need);
          } else {
            for (; i < end; i += m) {
              let z = 0;
              for (let k = i; k < i + m; k++) z += zero[k];
              compliant += +(z >= need);
            }
          }
          l += groups * m;
        } else {
          zeros += zero[i++];
          l++;
          if (++r === m) {
            compliant += +(zeros >= need);
            zeros = 0;
            r = 0;
          }
        }
        if (l === size) l = 0;
      }
      this.groupZeros[0] = zeros;
      this.compliant += compliant;
    } else {
      // Each step along the axis is a contiguous block of `inner` elements, one per group column.
      const inner = this.nmInner;
      const zc = this.groupZeros;
      const zc32 = this.groupZeros32;
      const words = this.wordsOf(zero);
      // SIMD kernels when the mask is in their memory: sixteen counters per add.
      const simd = nmBegin(zero, zc);
      let j = this.nmJ;
      while (i < len) {
        const run = Math.min(inner - j, len - i);
        if (l < full) {
          if (simd) nmAdd(j, i, run);
          else if (((i | j | run) & 3) === 0 && words.length > 0) {
            // Four counters per add: bytes cannot carry, as none exceeds M <= 255.
            const wi = i >>> 2;
            const wj = j >>> 2;
            for (let k = 0; k < run >>> 2; k++) zc32[wj + k] += words[wi + k];
          } else {
            for (let k = 0; k < run; k++) zc[j + k] += zero[i + k];
          }
        }
        i += run;
        j += run;
        if (j === inner) {
          j = 0;
          if (l < full && ++r === m) {
            let compliant = 0;
            if (simd) compliant = nmCount(inner, need);
            else {
              for (let k = 0; k < inner; k++) compliant += +(zc[k] >= need);
              zc32.fill(0);
            }
            this.compliant += compliant;
            r = 0;
          }
          if (++l === size) l = 0;
        }
      }
      if (simd) nmEnd(zc);
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
      // Channels are consecutive: walk rows of `channels` elements, looking only at the candidates.
      const candidates = this.candidates;
      let count = this.candidateCount;
      while (i < len && count > 0) {
        const run = Math.min(channels - ch, len - i);
        const base = i - ch;
        const end = ch + run;
        let kept = 0;
        for (let t = 0; t < count; t++) {
          const c = candidates[t];
          if (c >= ch && c < end && zero[base + c] === 0) continue;
          candidates[kept++] = c;
        }
        count = kept;
        i += run;
        ch = end === channels ? 0 : end;
      }
      // With no candidates left, only the position matters.
      if (i < len) ch = (ch + (len - i)) % channels;
      this.candidateCount = count;
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

  /** A word view of the mask (empty when its offset is not word aligned), cached per buffer. */
  private wordsOf(zero: Uint8Array): Uint32Array {
    if (zero.byteOffset % 4 !== 0) return new Uint32Array(0);
    if (this.maskWords.buffer !== zero.buffer || this.maskWords.byteOffset !== zero.byteOffset) {
      this.maskWords = new Uint32Array(zero.buffer, zero.byteOffset, zero.length >>> 2);
    }
    return this.maskWords;
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
      if (this.channelInner === 1) {
        zero = this.candidateCount;
        for (let t = 0; t < Math.min(zero, MAX_INDICES); t++) indices.push(this.candidates[t]);
      } else {
        for (let c = 0; c < this.channels; c++) {
          if (this.nonZero[c] === 0) {
            zero++;
            if (indices.length < MAX_INDICES) indices.push(c);
          }
        }
      }
      out.zeroChannels = { axis: this.channelAxis, total: this.channels, zero, indices };
    }
    return out;
  }
}
