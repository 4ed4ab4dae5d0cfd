import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { Piece } from './pieces';

/** The location lazy pieces name: not a valid external data location, so it cannot collide with one. */
export const LAZY_LOCATION = '\0big-shrink-lazy';

interface Part {
  offset: number;
  length: number;
  produce: () => Uint8Array;
}

/**
 * New tensor payloads made while the writer copies them, not while planning: a plan refers to them as
 * pieces of a virtual file (`LAZY_LOCATION`), and reading a range of that file makes the tensor that holds
 * it. So a transform that rewrites most of a large model (pruning) holds one tensor at a time, and its
 * work overlaps nothing it does not need to. Each tensor is made once, when its first byte is read, and
 * dropped when its last byte has been read: the writer reads every piece once, in order, and tensors
 * may come in any order (an inline tensor is written with the model, before the external data).
 * `produce` may return a view of a buffer it reuses for the next tensor.
 */
export class LazyTensors implements ByteSource {
  private readonly parts: Part[] = [];
  private size_ = 0;
  private current: { part: Part; bytes: Uint8Array; served: number } | undefined;
  private readonly made = new Set<Part>();

  get size(): number {
    return this.size_;
  }

  /** A payload of `length` bytes that `produce` makes when the writer reaches it. */
  add(length: number, produce: () => Uint8Array): Piece[] {
    const part = { offset: this.size_, length, produce };
    this.parts.push(part);
    this.size_ += length;
    return [{ kind: 'external', location: LAZY_LOCATION, offset: part.offset, length }];
  }

  /** `resolve` with the lazy payloads added. */
  resolver(resolve: ExternalDataResolver): ExternalDataResolver {
    return (location) => (location === LAZY_LOCATION ? this : resolve(location));
  }

  read(offset: number, length: number): Uint8Array {
    let c = this.current;
    if (!c || offset < c.part.offset || offset >= c.part.offset + c.part.length) {
      const part = this.partAt(offset);
      if (this.made.has(part)) throw new Error(`lazy tensor at ${part.offset} read twice`);
      this.made.add(part);
      const bytes = part.produce();
      if (bytes.length !== part.length)
        throw new Error(`lazy tensor at ${part.offset}: made ${bytes.length} bytes, ${part.length} expected`);
      c = this.current = { part, bytes, served: 0 };
    }
    const from = offset - c.part.offset;
    if (from + length > c.part.length)
      throw new RangeError(`read of ${length} bytes at ${offset} spans tensors`);
    if (from !== c.served) throw new Error(`lazy tensor at ${c.part.offset} read out of order`);
    c.served += length;
    const out = c.bytes.subarray(from, from + length);
    if (c.served === c.part.length) this.current = undefined;
    return out;
  }

  /** The part holding `offset` (binary search: parts are in offset order). */
  private partAt(offset: number): Part {
    let lo = 0;
    let hi = this.parts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const p = this.parts[mid];
      if (offset < p.offset) hi = mid - 1;
      else if (offset >= p.offset + p.length) lo = mid + 1;
      else return p;
    }
    throw new RangeError(`no lazy tensor at ${offset}`);
  }
}
