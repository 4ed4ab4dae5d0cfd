import { FormatError } from '../errors';
import type { ByteSource } from '../io/byteSource';
import { TypedField, type TypedFieldNumber, type TypedRange } from '../onnx/modelIndex';
import { DataType, type DataTypeCode, dataTypeName } from './dataType';
import { float16Table } from './float16';
import { miniFloatTable } from './float8';
import { nibbleTable } from './decodeRawElements';
import type { ValueChunk } from './valueStream';

/**
 * Reads the typed payload fields of a TensorProto (`float_data`, `int32_data`, `int64_data`,
 * `double_data`, `uint64_data`) straight from the file, a window at a time.
 *
 * What `int32_data` holds depends on the dtype (onnx.proto): integers up to 32 bits and bool as values,
 * float16/bfloat16/float8 as bit patterns, and int4/uint4/float4e2m1 as bytes packing two elements (low
 * nibble first). Narrow integers wrap as numpy's `astype` does when onnx's `to_array` reads them.
 */

/** Which dtypes each typed field may hold. */
const FIELD_TYPES: Record<number, ReadonlySet<DataTypeCode>> = {
  [TypedField.float_data]: new Set([DataType.FLOAT]),
  [TypedField.double_data]: new Set([DataType.DOUBLE]),
  [TypedField.int32_data]: new Set([
    DataType.INT32,
    DataType.INT16,
    DataType.INT8,
    DataType.UINT16,
    DataType.UINT8,
    DataType.BOOL,
    DataType.FLOAT16,
    DataType.BFLOAT16,
    DataType.FLOAT8E4M3FN,
    DataType.FLOAT8E4M3FNUZ,
    DataType.FLOAT8E5M2,
    DataType.FLOAT8E5M2FNUZ,
    DataType.INT4,
    DataType.UINT4,
    DataType.FLOAT4E2M1,
  ]),
  [TypedField.int64_data]: new Set([DataType.INT64, DataType.UINT32]),
  [TypedField.uint64_data]: new Set([DataType.UINT64, DataType.UINT32]),
};

const FIELD_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(TypedField).map(([name, number]) => [number, name]),
);

/** Bytes read from the file at a time. */
const WINDOW = 1 << 20;

/** True for the dtypes stored two per int32_data element. */
function isPacked4Bit(dtype: DataTypeCode): boolean {
  return dtype === DataType.INT4 || dtype === DataType.UINT4 || dtype === DataType.FLOAT4E2M1;
}

/** Streams the elements of a typed payload; one reader per pass over the values. */
export class TypedValueReader {
  private readonly fixedSize: number;
  private readonly table: Float32Array | undefined;
  private rangeIndex = 0;
  private cursor: number;
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;
  private produced = 0;
  /** The high nibble of a 4-bit pair whose low nibble ended the previous chunk. */
  private pending: number | undefined;

  /**
   * Checks what can be checked without reading: the field suits the dtype, ranges lie inside the file,
   * fixed-width runs are whole values, and there are enough bytes for `count` values.
   */
  constructor(
    private readonly source: ByteSource,
    private readonly field: TypedFieldNumber,
    private readonly ranges: readonly TypedRange[],
    private readonly dtype: DataTypeCode,
    private readonly count: number,
  ) {
    const name = FIELD_NAMES[field] ?? `field ${field}`;
    if (!FIELD_TYPES[field]?.has(dtype)) {
      throw new FormatError(`${name} cannot hold ${dataTypeName(dtype)} values`);
    }
    this.fixedSize = field === TypedField.float_data ? 4 : field === TypedField.double_data ? 8 : 0;
    this.table =
      dtype === DataType.FLOAT16
        ? float16Table()
        : isPacked4Bit(dtype)
          ? nibbleTable(dtype)
          : dtype >= DataType.FLOAT8E4M3FN && dtype <= DataType.FLOAT8E5M2FNUZ
            ? miniFloatTable(dtype)
            : undefined;
    let bytes = 0;
    let fixedValues = 0;
    for (const r of ranges) {
      if (!(r.offset >= 0 && r.length >= 0 && r.offset + r.length <= source.size)) {
        throw new FormatError(
          `${name} range of ${r.length} bytes is past the end of the file (${source.size})`,
          r.offset,
        );
      }
      if (this.fixedSize > 0) {
        if (r.packed ? r.length % this.fixedSize !== 0 : r.length !== this.fixedSize) {
          throw new FormatError(`${name} holds a partial value (${r.length} bytes)`, r.offset);
        }
        fixedValues += r.length / this.fixedSize;
      }
      bytes += r.length;
    }
    this.cursor = ranges.length > 0 ? ranges[0].offset : 0;
    const needed = isPacked4Bit(dtype) ? Math.ceil(count / 2) : count;
    if (this.fixedSize > 0 ? fixedValues !== needed : bytes < needed) {
      const held = this.fixedSize > 0 ? `${fixedValues} values` : `${bytes} bytes`;
      throw new FormatError(`${name} holds ${held}; the dims need ${needed} ${dataTypeName(dtype)} values`);
    }
  }

  /** Fill `out` with the next values (at most the tensor's count); returns how many were written. */
  fill(out: ValueChunk): number {
    const limit = Math.min(out.length, this.count - this.produced);
    let n = 0;
    if (this.pending !== undefined && n < limit) {
      out[n++] = this.pending;
      this.pending = undefined;
    }
    while (n < limit && this.rangeIndex < this.ranges.length) {
      const range = this.ranges[this.rangeIndex];
      const end = range.offset + range.length;
      if (this.cursor >= end) {
        this.rangeIndex++;
        if (this.rangeIndex < this.ranges.length) this.cursor = this.ranges[this.rangeIndex].offset;
        continue;
      }
      n = this.fixedSize > 0 ? this.readFixed(out, n, limit, end) : this.readVarints(out, n, limit, end);
    }
    this.produced += n;
    if (n < limit) {
      const name = FIELD_NAMES[this.field];
      throw new FormatError(`${name} holds ${this.produced} values; the dims need ${this.count}`);
    }
    if (this.produced === this.count) this.checkExhausted();
    return n;
  }

  /** After the last value: nothing may be left but the padding nibble of an odd 4-bit count. */
  private checkExhausted(): void {
    this.pending = undefined;
    let left = 0;
    for (let i = this.rangeIndex; i < this.ranges.length; i++) {
      const r = this.ranges[i];
      left += i === this.rangeIndex ? Math.max(0, r.offset + r.length - this.cursor) : r.length;
    }
    if (left > 0) {
      const name = FIELD_NAMES[this.field];
      throw new FormatError(
        `${name} holds more than the ${this.count} values the dims need (${left} bytes left)`,
      );
    }
  }

  /** Make the window cover [pos, pos + want) (as far as the file goes). */
  private ensureWindow(pos: number, want: number): void {
    if (pos >= this.windowStart && pos + want <= this.windowStart + this.window.length) return;
    this.window = this.source.read(pos, Math.min(Math.max(WINDOW, want), this.source.size - pos));
    this.windowStart = pos;
  }

  private readFixed(out: ValueChunk, n: number, limit: number, end: number): number {
    const size = this.fixedSize;
    const values = Math.min(limit - n, (end - this.cursor) / size);
    this.ensureWindow(this.cursor, Math.min(values * size, WINDOW));
    const available = Math.min(
      values,
      Math.floor((this.windowStart + this.window.length - this.cursor) / size),
    );
    const view = new DataView(this.window.buffer, this.window.byteOffset, this.window.length);
    let p = this.cursor - this.windowStart;
    if (size === 4) {
      for (let i = 0; i < available; i++, p += 4) out[n++] = view.getFloat32(p, true);
    } else {
      for (let i = 0; i < available; i++, p += 8) out[n++] = view.getFloat64(p, true);
    }
    this.cursor += available * size;
    return n;
  }

  private readVarints(out: ValueChunk, n: number, limit: number, end: number): number {
    // 11 bytes: a whole varint plus one, so the loop below always makes progress.
    this.ensureWindow(this.cursor, Math.min(end - this.cursor, 11));
    const buf = this.window;
    const base = this.windowStart;
    // Stop a varint early enough that it cannot run off the window unless the range ends there too.
    const windowEnd = base + buf.length;
    const safeEnd = windowEnd >= end ? end : windowEnd - 10;
    const dtype = this.dtype;
    const table = this.table;
    let p = this.cursor - base;
    const stop = safeEnd - base;
    const rangeStop = end - base;
    while (n < limit && p < stop) {
      // Decode a varint into lo (bits 0-31) and hi (bits 32-63).
      let b = buf[p++];
      let lo = b & 0x7f;
      let hi = 0;
      if (b >= 0x80) {
        let shift = 7;
        for (;;) {
          if (p >= rangeStop) throw new FormatError('varint runs past the end of its field', base + p);
          b = buf[p++];
          if (shift < 28) lo |= (b & 0x7f) << shift;
          else if (shift === 28) {
            lo |= (b & 0x0f) << 28;
            hi = (b & 0x7f) >>> 4;
          } else if (shift < 64) hi |= (b & 0x7f) << (shift - 32);
          else throw new FormatError('varint longer than 10 bytes', base + p);
          if (b < 0x80) break;
          shift += 7;
        }
      }
      lo >>>= 0;
      switch (dtype) {
        case DataType.INT32:
          out[n++] = lo | 0;
          break;
        case DataType.INT16:
          out[n++] = (lo << 16) >> 16;
          break;
        case DataType.INT8:
          out[n++] = (lo << 24) >> 24;
          break;
        case DataType.UINT16:
          out[n++] = lo & 0xffff;
          break;
        case DataType.UINT8:
          out[n++] = lo & 0xff;
          break;
        case DataType.BOOL:
          out[n++] = lo !== 0 ? 1 : 0;
          break;
        case DataType.FLOAT16:
          out[n++] = (table as Float32Array)[lo & 0xffff];
          break;
        case DataType.BFLOAT16:
          out[n++] = bf16(lo & 0xffff);
          break;
        case DataType.INT64:
          out[n++] = (hi | 0) * 4294967296 + lo;
          break;
        case DataType.UINT64:
          out[n++] = (hi >>> 0) * 4294967296 + lo;
          break;
        case DataType.UINT32:
          out[n++] = lo;
          break;
        case DataType.INT4:
        case DataType.UINT4:
        case DataType.FLOAT4E2M1:
          out[n++] = (table as Float32Array)[lo & 15];
          if (n < limit) out[n++] = (table as Float32Array)[(lo >>> 4) & 15];
          else this.pending = (table as Float32Array)[(lo >>> 4) & 15];
          break;
        default:
          out[n++] = (table as Float32Array)[lo & 0xff];
      }
    }
    this.cursor = base + p;
    return n;
  }
}

const bf16Scratch = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16Scratch.buffer);

function bf16(bits: number): number {
  bf16Bits[0] = bits << 16;
  return bf16Scratch[0];
}
