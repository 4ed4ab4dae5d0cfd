import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { Payload, TensorPart } from '../onnx/modelIndex';
import { type DataTypeCode, rawByteLength } from '../tensor/dataType';
import type { ValueStream } from '../tensor/valueStream';

/**
 * A fast, non-cryptographic 64-bit content hash (two independent 32-bit lanes, each a multiply-rotate mix
 * of every 32-bit word) for finding byte-identical tensors. Equal hashes mean "very likely equal": with
 * 64 bits, an accidental match among a model's tensors is negligible, but do not use it for security.
 */
export class ContentHasher {
  private h1 = 0x9747b28c;
  private h2 = 0x5bd1e995;
  private length = 0;
  /** Bytes of an incomplete word carried to the next update. */
  private readonly tail = new Uint8Array(4);
  private tailLength = 0;
  private scratch = new Uint32Array(0);

  /** Mix in one more number (a dtype, a dim, a length) as a 32-bit word pair. */
  updateNumber(value: number): this {
    const words = new Uint32Array(new Float64Array([value]).buffer);
    return this.update(new Uint8Array(words.buffer));
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
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      let k = Math.imul(w, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h1 ^= Math.imul(k, 0x1b873593);
      h1 = (h1 << 13) | (h1 >>> 19);
      h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
      h2 = Math.imul(h2 ^ w, 0x85ebca6b);
      h2 = ((h2 << 17) | (h2 >>> 15)) + 0x27d4eb2f;
    }
    this.h1 = h1;
    this.h2 = h2;
  }

  /** 16 hex digits; the hasher can keep being updated afterwards. */
  digest(): string {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < this.tailLength; i++) {
      h1 = Math.imul(h1 ^ this.tail[i], 0x1b873593);
      h2 = Math.imul(h2 ^ this.tail[i], 0x85ebca6b);
    }
    h1 ^= this.length >>> 0;
    h2 ^= Math.floor(this.length / 4294967296);
    h1 = fmix(h1 + h2);
    h2 = fmix(h2 + h1);
    return hex(h1) + hex(h2);
  }
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
