import { DataType, type DataTypeCode, dataTypeName } from './dataType';
import { decodeBfloat16, decodeFloat16 } from './float16';
import { miniFloatTable } from './float8';
import type { ValueChunk } from './valueStream';

/**
 * raw_data (and external data) to numbers: fixed-width little-endian elements, 4-bit types two per byte
 * with the first element in the low nibble. One bulk loop per type; no per-element calls.
 */

/** Element types whose values need Float64Array chunks (float32 cannot hold them exactly). */
const WIDE = new Set<DataTypeCode>([
  DataType.DOUBLE,
  DataType.INT32,
  DataType.UINT32,
  DataType.INT64,
  DataType.UINT64,
]);

const DECODABLE = new Set<DataTypeCode>([
  DataType.FLOAT,
  DataType.UINT8,
  DataType.INT8,
  DataType.UINT16,
  DataType.INT16,
  DataType.INT32,
  DataType.INT64,
  DataType.BOOL,
  DataType.FLOAT16,
  DataType.DOUBLE,
  DataType.UINT32,
  DataType.UINT64,
  DataType.BFLOAT16,
  DataType.FLOAT8E4M3FN,
  DataType.FLOAT8E4M3FNUZ,
  DataType.FLOAT8E5M2,
  DataType.FLOAT8E5M2FNUZ,
  DataType.UINT4,
  DataType.INT4,
  DataType.FLOAT4E2M1,
]);

/** True when the values of `dtype` can be read as numbers (every numeric type except complex). */
export function canDecode(dtype: DataTypeCode): boolean {
  return DECODABLE.has(dtype);
}

/** Which chunk array a dtype decodes to. */
export function chunkKind(dtype: DataTypeCode): 'float32' | 'float64' {
  return WIDE.has(dtype) ? 'float64' : 'float32';
}

/** A new chunk array of the right kind for `dtype`. */
export function newChunk(dtype: DataTypeCode, length: number): ValueChunk {
  return WIDE.has(dtype) ? new Float64Array(length) : new Float32Array(length);
}

/** Values of the 16 uint4 / int4 nibbles (int4 sign-extended). */
const UINT4_TABLE = Float32Array.from({ length: 16 }, (_, i) => i);
const INT4_TABLE = Float32Array.from({ length: 16 }, (_, i) => (i < 8 ? i : i - 16));

/** The 16 values a nibble of a 4-bit type stands for. */
export function nibbleTable(dtype: DataTypeCode): Float32Array {
  if (dtype === DataType.UINT4) return UINT4_TABLE;
  if (dtype === DataType.INT4) return INT4_TABLE;
  if (dtype === DataType.FLOAT4E2M1) return miniFloatTable(dtype);
  throw new RangeError(`${dataTypeName(dtype)} is not a 4-bit type`);
}

let scratch = new ArrayBuffer(1 << 16);

/** `bytes` as an aligned copy when its offset does not suit a typed view (valid until the next call). */
function aligned(bytes: Uint8Array, alignment: number): Uint8Array {
  if (bytes.byteOffset % alignment === 0) return bytes;
  if (scratch.byteLength < bytes.length)
    scratch = new ArrayBuffer(Math.max(bytes.length, scratch.byteLength * 2));
  const copy = new Uint8Array(scratch, 0, bytes.length);
  copy.set(bytes);
  return copy;
}

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decode `count` elements of `dtype` from `bytes` (raw_data layout) into `out[0..count)`. For 4-bit types
 * `bytes` starts at an element with an even index. `out` must be of `chunkKind(dtype)`.
 */
export function decodeRawElements(
  dtype: DataTypeCode,
  bytes: Uint8Array,
  count: number,
  out: ValueChunk,
): void {
  if (!LITTLE_ENDIAN) throw new Error('big-endian hosts are not supported');
  if (out.length < count) throw new RangeError(`output holds ${out.length} of ${count} values`);
  const f32 = out as Float32Array;
  const f64 = out as Float64Array;
  switch (dtype) {
    case DataType.FLOAT:
    case DataType.DOUBLE:
      // Same layout as the output: one byte copy, whatever the alignment.
      new Uint8Array(out.buffer, out.byteOffset, count * out.BYTES_PER_ELEMENT).set(
        bytes.subarray(0, count * out.BYTES_PER_ELEMENT),
      );
      return;
    case DataType.UINT8:
      f32.set(bytes.subarray(0, count));
      return;
    case DataType.INT8:
      f32.set(new Int8Array(bytes.buffer, bytes.byteOffset, count));
      return;
    case DataType.BOOL:
      for (let i = 0; i < count; i++) f32[i] = bytes[i] !== 0 ? 1 : 0;
      return;
    case DataType.UINT16: {
      const b = aligned(bytes, 2);
      f32.set(new Uint16Array(b.buffer, b.byteOffset, count));
      return;
    }
    case DataType.INT16: {
      const b = aligned(bytes, 2);
      f32.set(new Int16Array(b.buffer, b.byteOffset, count));
      return;
    }
    case DataType.FLOAT16: {
      const b = aligned(bytes, 2);
      decodeFloat16(new Uint16Array(b.buffer, b.byteOffset, count), f32);
      return;
    }
    case DataType.BFLOAT16: {
      const b = aligned(bytes, 2);
      decodeBfloat16(new Uint16Array(b.buffer, b.byteOffset, count), f32);
      return;
    }
    case DataType.INT32: {
      const b = aligned(bytes, 4);
      f64.set(new Int32Array(b.buffer, b.byteOffset, count));
      return;
    }
    case DataType.UINT32: {
      const b = aligned(bytes, 4);
      f64.set(new Uint32Array(b.buffer, b.byteOffset, count));
      return;
    }
    case DataType.INT64:
    case DataType.UINT64: {
      // Two 32-bit halves, low first; the high half is signed for int64. Exact up to 2^53.
      const b = aligned(bytes, 4);
      const words = new Uint32Array(b.buffer, b.byteOffset, count * 2);
      if (dtype === DataType.INT64) {
        for (let i = 0; i < count; i++) f64[i] = (words[2 * i + 1] | 0) * 4294967296 + words[2 * i];
      } else {
        for (let i = 0; i < count; i++) f64[i] = words[2 * i + 1] * 4294967296 + words[2 * i];
      }
      return;
    }
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ: {
      const table = miniFloatTable(dtype);
      for (let i = 0; i < count; i++) f32[i] = table[bytes[i]];
      return;
    }
    case DataType.UINT4:
    case DataType.INT4:
    case DataType.FLOAT4E2M1: {
      const table = nibbleTable(dtype);
      const pairs = count >>> 1;
      for (let i = 0; i < pairs; i++) {
        const byte = bytes[i];
        f32[2 * i] = table[byte & 15];
        f32[2 * i + 1] = table[byte >>> 4];
      }
      if (count & 1) f32[count - 1] = table[bytes[pairs] & 15];
      return;
    }
    default:
      throw new RangeError(`cannot decode ${dataTypeName(dtype)} values`);
  }
}
