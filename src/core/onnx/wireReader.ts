import type { ByteSource } from '../io/byteSource';
import { FormatError } from '../errors';

/** Protobuf wire types. */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

/** One field header: its number, wire type, where the tag starts and where the value starts. */
export interface FieldHeader {
  field: number;
  wire: number;
  start: number;
  /** Offset just after the tag (for LEN fields: where the length varint starts). */
  lenStart: number;
  /** Offset of the value (for LEN fields: after the length varint). */
  valueStart: number;
  /** Offset after the value. */
  end: number;
}

/** A FormatError of the protobuf wire format itself (as opposed to ONNX's structure). */
export class WireFormatError extends FormatError {}

const WINDOW = 1 << 16;
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Reads protobuf wire data from a ByteSource through a small window, so that a scan of a multi-GB
 * model touches only the bytes of its structure: payload fields are skipped by offset, never read.
 * Every read is bounds-checked against the message end and reports a FormatError, never a RangeError.
 */
export class WireReader {
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;
  /** The window's own bytes: a source may hand out views into a buffer its next read reuses. */
  private own: Uint8Array = new Uint8Array(0);

  constructor(readonly source: ByteSource) {}

  get size(): number {
    return this.source.size;
  }

  /** Make [pos, pos + need) available in the window (need ≤ WINDOW unless reading a whole string). */
  private ensure(pos: number, need: number): void {
    if (pos >= this.windowStart && pos + need <= this.windowStart + this.window.length) return;
    const length = Math.min(Math.max(need, WINDOW), this.source.size - pos);
    if (length < need) throw new WireFormatError('unexpected end of file', pos, pos + need);
    // Kept in our own buffer: a ByteSource's read may return a view its next read overwrites, and other
    // code (typedToRaw, payload copies) reads the same source between two calls of this reader.
    if (this.own.length < length) this.own = new Uint8Array(Math.max(length, WINDOW));
    this.window = this.own.subarray(0, length);
    if (this.source.readInto) this.source.readInto(pos, this.window);
    else this.window.set(this.source.read(pos, length));
    this.windowStart = pos;
  }

  /** A varint at `pos` as a Number (int64 two's complement for 10-byte negatives), and the offset after it. */
  varint(pos: number, end: number): [number, number] {
    let lo = 0;
    let hi = 0;
    let p = pos;
    for (let i = 0; i < 10; i++) {
      if (p >= end) throw new WireFormatError('truncated varint', pos, p + 1);
      this.ensure(p, 1);
      const b = this.window[p - this.windowStart];
      p++;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if ((b & 0x80) === 0) {
        const high = hi >>> 0;
        const signedHigh = high >= 0x80000000 ? high - 4294967296 : high;
        return [signedHigh * 4294967296 + (lo >>> 0), p];
      }
    }
    throw new WireFormatError('varint longer than 10 bytes', pos);
  }

  /** The next field header of a message ending at `end`, with the value's extent resolved. */
  header(pos: number, end: number): FieldHeader {
    const [tag, afterTag] = this.varint(pos, end);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field <= 0 || tag < 0 || field > 536870911)
      throw new WireFormatError(`invalid field tag ${tag}`, pos);
    let valueStart = afterTag;
    let valueEnd: number;
    switch (wire) {
      case WireType.VARINT:
        valueEnd = this.varint(afterTag, end)[1];
        break;
      case WireType.I64:
        valueEnd = afterTag + 8;
        break;
      case WireType.I32:
        valueEnd = afterTag + 4;
        break;
      case WireType.LEN: {
        const [length, after] = this.varint(afterTag, end);
        if (length < 0) throw new WireFormatError(`negative length ${length} of field ${field}`, afterTag);
        valueStart = after;
        valueEnd = after + length;
        break;
      }
      default:
        throw new WireFormatError(`unsupported wire type ${wire} of field ${field}`, pos);
    }
    if (valueEnd > end) {
      throw new WireFormatError(
        `field ${field} runs past the end of its message: ${valueEnd} > ${end}`,
        pos,
        valueEnd,
      );
    }
    return { field, wire, start: pos, lenStart: afterTag, valueStart, end: valueEnd };
  }

  /** Calls `visit` for every field of the message [start, end). */
  fields(start: number, end: number, visit: (h: FieldHeader) => void): void {
    let pos = start;
    while (pos < end) {
      const h = this.header(pos, end);
      visit(h);
      pos = h.end;
    }
  }

  /** The value of a VARINT field as a Number. */
  int(h: FieldHeader): number {
    this.expect(h, WireType.VARINT);
    return this.varint(h.valueStart, h.end)[0];
  }

  /** The value of an I32 field as a float. */
  float(h: FieldHeader): number {
    this.expect(h, WireType.I32);
    this.ensure(h.valueStart, 4);
    const o = h.valueStart - this.windowStart;
    return new DataView(this.window.buffer, this.window.byteOffset + o, 4).getFloat32(0, true);
  }

  /** The bytes of a LEN field as a UTF-8 string (strings in ONNX are short: names, keys, doc strings). */
  string(h: FieldHeader): string {
    this.expect(h, WireType.LEN);
    const length = h.end - h.valueStart;
    if (length === 0) return '';
    this.ensure(h.valueStart, length);
    const o = h.valueStart - this.windowStart;
    return decoder.decode(this.window.subarray(o, o + length));
  }

  /** Repeated int64/int32 field values, packed or not, appended to `out`. */
  ints(h: FieldHeader, out: number[]): void {
    if (h.wire === WireType.VARINT) {
      out.push(this.varint(h.valueStart, h.end)[0]);
      return;
    }
    this.expect(h, WireType.LEN);
    let p = h.valueStart;
    while (p < h.end) {
      const [v, next] = this.varint(p, h.end);
      out.push(v);
      p = next;
    }
  }

  /** Repeated float field values, packed or not, appended to `out`. */
  floats(h: FieldHeader, out: number[]): void {
    if (h.wire === WireType.I32) {
      out.push(this.float(h));
      return;
    }
    this.expect(h, WireType.LEN);
    const length = h.end - h.valueStart;
    if (length % 4 !== 0) throw new WireFormatError(`packed floats of ${length} bytes`, h.start);
    for (let p = h.valueStart; p < h.end; p += 4) {
      this.ensure(p, 4);
      const o = p - this.windowStart;
      out.push(new DataView(this.window.buffer, this.window.byteOffset + o, 4).getFloat32(0, true));
    }
  }

  expect(h: FieldHeader, wire: number): void {
    if (h.wire !== wire) {
      throw new WireFormatError(`field ${h.field} has wire type ${h.wire}, expected ${wire}`, h.start);
    }
  }
}
