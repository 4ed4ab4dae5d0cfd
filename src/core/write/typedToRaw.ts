import type { ByteSource } from '../io/byteSource';
import { FormatError } from '../errors';
import { DataType, dataTypeBits, rawByteLength } from '../tensor/dataType';
import type { Payload, TypedFieldNumber } from '../onnx/modelIndex';

/**
 * The raw_data bytes (little-endian, 4-bit types packed low nibble first) of a tensor stored in typed
 * fields or as Constant attribute values. Used when such a tensor moves to external data: external
 * data is always raw. Varints are decoded as exact 64-bit halves, so int64/uint64 survive unchanged.
 */
export function typedToRaw(source: ByteSource, dtype: number, count: number, payload: Payload): Uint8Array {
  if (payload.kind === 'values') return valuesToRaw(dtype, payload.values);
  if (payload.kind !== 'typed') throw new Error(`typedToRaw: payload is ${payload.kind}`);
  const out = new Uint8Array(rawByteLength(dtype, count));
  if (payload.field === 4 || payload.field === 10) {
    // float_data / double_data: fixed-width little-endian, the same bytes raw_data would hold.
    let at = 0;
    for (const r of payload.ranges) {
      if (at + r.length > out.length)
        throw new FormatError(`typed payload longer than ${count} elements`, r.offset);
      out.set(source.read(r.offset, r.length), at);
      at += r.length;
    }
    if (at !== out.length) throw new FormatError(`typed payload has ${at} bytes, ${out.length} expected`);
    return out;
  }
  const bits = dataTypeBits(dtype);
  const view = new DataView(out.buffer);
  let i = 0;
  forEachVarint(source, payload.field, payload.ranges, (lo, hi) => {
    if (bits === 4) {
      // int32_data holds 4-bit elements packed two per value (low nibble first): raw_data's bytes.
      if (i >= out.length) throw new FormatError(`typed payload longer than ${count} elements`);
      out[i] = lo & 0xff;
    } else {
      const at = i * (bits / 8);
      if (at + bits / 8 > out.length) throw new FormatError(`typed payload longer than ${count} elements`);
      if (bits === 8) out[at] = lo & 0xff;
      else if (bits === 16) view.setUint16(at, lo & 0xffff, true);
      else if (bits === 32) view.setUint32(at, lo >>> 0, true);
      else {
        view.setUint32(at, lo >>> 0, true);
        view.setUint32(at + 4, hi >>> 0, true);
      }
    }
    i++;
  });
  const stored = bits === 4 ? out.length : count;
  if (i !== stored)
    throw new FormatError(`typed payload has ${i} values, ${stored} expected for ${count} elements`);
  return out;
}

function forEachVarint(
  source: ByteSource,
  field: TypedFieldNumber,
  ranges: { offset: number; length: number }[],
  visit: (lo: number, hi: number) => void,
): void {
  for (const r of ranges) {
    const bytes = source.read(r.offset, r.length).slice();
    let p = 0;
    while (p < bytes.length) {
      let lo = 0;
      let hi = 0;
      let shift = 0;
      let b: number;
      do {
        if (p >= bytes.length || shift > 63)
          throw new FormatError(`truncated varint in typed field ${field}`, r.offset + p);
        b = bytes[p++];
        if (shift < 28) lo |= (b & 0x7f) << shift;
        else if (shift === 28) {
          lo |= (b & 0x0f) << 28;
          hi |= (b & 0x7f) >> 4;
        } else hi |= (b & 0x7f) << (shift - 32);
        shift += 7;
      } while (b & 0x80);
      visit(lo, hi);
    }
  }
}

function valuesToRaw(dtype: number, values: number[]): Uint8Array {
  const out = new Uint8Array(rawByteLength(dtype, values.length));
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (dtype === DataType.FLOAT) view.setFloat32(i * 4, v, true);
    else if (dtype === DataType.INT64) view.setBigInt64(i * 8, BigInt(Math.trunc(v)), true);
    else throw new FormatError(`attribute values of type ${dtype} cannot be stored raw`);
  });
  return out;
}
