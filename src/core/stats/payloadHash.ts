import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import { hashWordsSimd } from '../simd/statsSimd';
import type { Payload, TensorPart } from '../onnx/modelIndex';
import { DataType, type DataTypeCode, rawByteLength } from '../tensor/dataType';
import type { ValueStream } from '../tensor/valueStream';

/**
 * A fast, non-cryptographic 64-bit content hash for finding byte-identical tensors. Two hash families
 * (an xxHash32-style round and a murmur3-style round) each run four lanes, lane k taking every fourth
 * 32-bit word, so eight independent multiply-rotate chains keep the CPU busy (about three times the
 * speed of one chain per family). Each round is a bijection of its lane for a fixed word, so inputs that
 * differ in one word always hash differently; other differences collide with odds of about 2^-64. Not for
 * security.
 */
export class ContentHasher {
  /** Lanes a0..a3 (family A) then b0..b3 (family B). */
  private readonly state = Int32Array.of(
    0x24234428,
    0x85ebca77,
    0x00000000,
    0x61c88647,
    0x5bd1e995,
    0x1b873593,
    0x27d4eb2f,
    0x165667b1,
  );
  /** Words mixed so far, modulo 4: the lane of the next word. */
  private lane = 0;
  private length = 0;
  /** Bytes of an incomplete word carried to the next update. */
  private readonly tail = new Uint8Array(4);
  private tailLength = 0;
  private scratch = new Uint32Array(0);

  /** Mix in one more number (a dtype, a dim, a length) as the 8 bytes of a float64. */
  updateNumber(value: number): this {
    return this.update(new Uint8Array(Float64Array.of(value).buffer));
  }

  update(bytes: Uint8Array): this {
    let offset = 0;
    this.length += bytes.length;
    if (this.tailLength > 0) {
      while (this.tailLength < 4 && offset < bytes.length) this.tail[this.tailLength++] = bytes[offset++];
      if (this.tailLength < 4) return this;
      this.mixWords(new Uint32Array(this.tail.buffer, 0, 1));
      this.tailLength = 0;
    }
    const wordCount = (bytes.length - offset) >>> 2;
    if (wordCount > 0) {
      const start = bytes.byteOffset + offset;
      let words: Uint32Array;
      if (start % 4 === 0) words = new Uint32Array(bytes.buffer, start, wordCount);
      else {
        if (this.scratch.length < wordCount) this.scratch = new Uint32Array(wordCount);
        words = this.scratch.subarray(0, wordCount);
        new Uint8Array(words.buffer, 0, wordCount * 4).set(bytes.subarray(offset, offset + wordCount * 4));
      }
      this.mixWords(words);
      offset += wordCount * 4;
    }
    while (offset < bytes.length) this.tail[this.tailLength++] = bytes[offset++];
    return this;
  }

  private mixWords(words: Uint32Array): void {
    const n = words.length;
    // Single words until the next word belongs to lane 0, then four at a time, then the rest.
    const head = Math.min(n, (4 - this.lane) & 3);
    for (let i = 0; i < head; i++) this.mixOne(words[i]);
    const end4 = head + ((n - head) & ~3);
    // Short runs (a dim, a length) are not worth the kernel call.
    if (end4 - head < 64 || !hashWordsSimd(words, head, end4, this.state)) this.mixFours(words, head, end4);
    for (let i = end4; i < n; i++) this.mixOne(words[i]);
  }

  /** Words [from, to) (a multiple of 4), four at a time: the JS copy of the SIMD kernel. */
  private mixFours(words: Uint32Array, from: number, to: number): void {
    const st = this.state;
    let a0 = st[0];
    let a1 = st[1];
    let a2 = st[2];
    let a3 = st[3];
    let b0 = st[4];
    let b1 = st[5];
    let b2 = st[6];
    let b3 = st[7];
    for (let i = from; i < to; i += 4) {
      const w0 = words[i];
      const w1 = words[i + 1];
      const w2 = words[i + 2];
      const w3 = words[i + 3];
      a0 = roundA(a0, w0);
      a1 = roundA(a1, w1);
      a2 = roundA(a2, w2);
      a3 = roundA(a3, w3);
      b0 = roundB(b0, w0);
      b1 = roundB(b1, w1);
      b2 = roundB(b2, w2);
      b3 = roundB(b3, w3);
    }
    st[0] = a0;
    st[1] = a1;
    st[2] = a2;
    st[3] = a3;
    st[4] = b0;
    st[5] = b1;
    st[6] = b2;
    st[7] = b3;
  }

  private mixOne(w: number): void {
    const k = this.lane;
    this.state[k] = roundA(this.state[k], w);
    this.state[k + 4] = roundB(this.state[k + 4], w);
    this.lane = (k + 1) & 3;
  }

  /** 16 hex digits; the hasher can keep being updated afterwards. */
  digest(): string {
    const st = Int32Array.from(this.state);
    if (this.tailLength > 0) {
      // The last partial word, zero-padded (the length, mixed in below, tells the padding apart).
      let w = 0;
      for (let i = 0; i < this.tailLength; i++) w |= this.tail[i] << (8 * i);
      st[this.lane] = roundA(st[this.lane], w);
      st[this.lane + 4] = roundB(st[this.lane + 4], w);
    }
    const lengthLow = this.length >>> 0;
    const lengthHigh = Math.floor(this.length / 4294967296);
    const a = (rotl(st[0], 1) + rotl(st[1], 7) + rotl(st[2], 12) + rotl(st[3], 18)) ^ lengthLow;
    const b = (rotl(st[4], 3) + rotl(st[5], 11) + rotl(st[6], 19) + rotl(st[7], 27)) ^ lengthHigh ^ lengthLow;
    const h1 = fmix(a + Math.imul(b, 0x9e3779b1));
    const h2 = fmix(b ^ h1);
    return hex(h1) + hex(h2);
  }
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** xxHash32's round: add the scaled word, rotate, scale. */
function roundA(acc: number, w: number): number {
  acc = (acc + Math.imul(w, 0x85ebca77)) | 0;
  return Math.imul((acc << 13) | (acc >>> 19), 0x9e3779b1);
}

/** A murmur3-style round with other constants: xor the scaled word, rotate, scale. */
function roundB(acc: number, w: number): number {
  acc ^= Math.imul(w, 0xcc9e2d51);
  return Math.imul((acc << 17) | (acc >>> 15), 0x1b873593);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hex(h: number): string {
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Bytes hashed per read. */
const READ = 1 << 22;

function hashRange(hasher: ContentHasher, file: ByteSource, offset: number, length: number): void {
  for (let done = 0; done < length; done += READ) {
    hasher.update(file.read(offset + done, Math.min(READ, length - done)));
  }
}

function hashPayload(
  hasher: ContentHasher,
  dtype: DataTypeCode,
  dims: readonly number[],
  payload: Payload,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
): void {
  // Keep this prefix in step with payloadHasherForValues.
  hasher.updateNumber(dtype).updateNumber(dims.length);
  for (const d of dims) hasher.updateNumber(d);
  switch (payload.kind) {
    case 'empty':
      hasher.updateNumber(-1);
      return;
    case 'values':
      hasher.updateNumber(-2).update(new Uint8Array(Float64Array.from(payload.values).buffer));
      return;
    case 'raw':
      // Raw and external data share a layout, so equal weights hash equal wherever they are stored.
      hasher.updateNumber(-3);
      hashRange(hasher, source, payload.offset, payload.length);
      return;
    case 'external': {
      hasher.updateNumber(-3);
      const count = dims.reduce((a, b) => a * b, 1);
      hashRange(
        hasher,
        resolveExternal(payload.location),
        payload.offset,
        payload.length ?? rawByteLength(dtype, count),
      );
      return;
    }
    case 'typed':
      hasher.updateNumber(-4).updateNumber(payload.field);
      for (const r of payload.ranges) {
        hasher.updateNumber(r.packed ? 1 : 0).updateNumber(r.length);
        hashRange(hasher, source, r.offset, r.length);
      }
      return;
  }
}

/**
 * Hash of a tensor's stored element bytes together with its dtype and dims (16 hex digits): tensors with
 * equal hashes are byte-identical copies (raw_data and external data of the same bytes hash equal). Read in
 * 4 MB pieces; out-of-range reads throw as the source does.
 */
export function payloadHash(
  part: {
    dtype: DataTypeCode;
    dims: number[];
    payload: Payload;
    sparse?: { values: TensorPart; indices: TensorPart };
  },
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
): string {
  const hasher = new ContentHasher();
  if (part.sparse) {
    hasher.updateNumber(-5);
    hashPayload(hasher, part.dtype, part.dims, { kind: 'empty' }, source, resolveExternal);
    for (const p of [part.sparse.values, part.sparse.indices]) {
      hashPayload(hasher, p.dtype, p.dims, p.payload, source, resolveExternal);
    }
  } else {
    hashPayload(hasher, part.dtype, part.dims, part.payload, source, resolveExternal);
  }
  return hasher.digest();
}

/** Warm-up at load (see computeStats.ts): give the hashing loop's exit paths type feedback. Sub-ms. */
function warmUp(): void {
  const bytes = new Uint8Array(67);
  for (let i = 0; i < 16; i++)
    new ContentHasher()
      .update(bytes.subarray(i & 3))
      .update(bytes.subarray(0, i))
      .digest();
}
warmUp();

/**
 * For a tensor whose value chunks are its stored bytes (float32 or float64, dense, stored raw or external),
 * a hasher already fed everything payloadHash puts before those bytes: pass it to computeStats as
 * `hasher` and its digest equals `payloadHash(part, …)`, without a third read of the tensor. Undefined for
 * every other tensor (call payloadHash).
 */
export function payloadHasherForValues(part: {
  dtype: DataTypeCode;
  dims: number[];
  payload: Payload;
  sparse?: unknown;
}): ContentHasher | undefined {
  const { dtype, dims, payload } = part;
  if (part.sparse || (dtype !== DataType.FLOAT && dtype !== DataType.DOUBLE)) return undefined;
  if (payload.kind !== 'raw' && payload.kind !== 'external') return undefined;
  const hasher = new ContentHasher().updateNumber(dtype).updateNumber(dims.length);
  for (const d of dims) hasher.updateNumber(d);
  return hasher.updateNumber(-3);
}

/**
 * Hash of decoded values (their bytes, tagged with the chunk array type): equal for streams of equal
 * values and type, whatever the chunk sizes.
 */
export function hashValues(values: ValueStream): string {
  const hasher = new ContentHasher().updateNumber(values.count);
  let tagged = false;
  for (const chunk of values.chunks()) {
    if (!tagged) hasher.updateNumber(chunk instanceof Float32Array ? 32 : 64);
    tagged = true;
    hasher.update(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return hasher.digest();
}
