import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FormatError } from '../../src/core/errors';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import { TypedField } from '../../src/core/onnx/modelIndex';
import { DataType } from '../../src/core/tensor/dataType';
import { tensorValues } from '../../src/core/tensor/tensorValues';
import { noExternal, readAll, typedPart, type TypedItem } from './tensorFixtures';

const LAYOUTS = ['packed', 'unpacked', { split: 3 }] as const;

/** Read a typed payload in every layout and chunk size; all must agree with `expected`. */
function check(
  dtype: number,
  field: (typeof TypedField)[keyof typeof TypedField],
  items: TypedItem[],
  expected: number[],
  dims = [expected.length],
): void {
  for (const layout of LAYOUTS) {
    for (const chunk of [8, 1 << 20]) {
      const { part, source } = typedPart(dtype, dims, field, items, layout);
      const got = readAll(part, source, chunk);
      assert.equal(got.length, expected.length);
      got.forEach((v, i) =>
        assert.ok(
          Object.is(v, expected[i]),
          `${JSON.stringify(layout)} chunk ${chunk} [${i}]: ${v} vs ${expected[i]}`,
        ),
      );
    }
  }
}

describe('typed payload fields', () => {
  it('float_data and double_data (fixed width)', () => {
    check(
      DataType.FLOAT,
      TypedField.float_data,
      [1.5, -0, Infinity, 3.4e38, 1e-45],
      [1.5, -0, Infinity, Math.fround(3.4e38), Math.fround(1e-45)],
    );
    check(DataType.DOUBLE, TypedField.double_data, [0.1, -1e300, NaN], [0.1, -1e300, NaN]);
  });

  it('int32_data holds 8/16/32-bit integers and bool (negatives as 10-byte varints)', () => {
    check(
      DataType.INT32,
      TypedField.int32_data,
      [-2147483648, -1, 0, 2147483647, 300],
      [-2147483648, -1, 0, 2147483647, 300],
    );
    check(DataType.INT8, TypedField.int32_data, [-128, -1, 127, 5], [-128, -1, 127, 5]);
    check(DataType.INT16, TypedField.int32_data, [-32768, 32767, -2], [-32768, 32767, -2]);
    check(DataType.UINT8, TypedField.int32_data, [0, 255, 128], [0, 255, 128]);
    check(DataType.UINT16, TypedField.int32_data, [0, 65535, 1000], [0, 65535, 1000]);
    check(DataType.BOOL, TypedField.int32_data, [0, 1, 1, 0], [0, 1, 1, 0]);
  });

  it('int32_data holds float16, bfloat16 and float8 bit patterns', () => {
    check(
      DataType.FLOAT16,
      TypedField.int32_data,
      [0x0001, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x7bff, 0x3c00],
      [2 ** -24, Infinity, -Infinity, NaN, -0, 65504, 1],
    );
    check(DataType.BFLOAT16, TypedField.int32_data, [0x3f80, 0xc040, 0xff80], [1, -3, -Infinity]);
    check(DataType.FLOAT8E4M3FN, TypedField.int32_data, [0x7e, 0x7f, 0x01], [448, NaN, 2 ** -9]);
    check(DataType.FLOAT8E5M2, TypedField.int32_data, [0x7c, 0x3c], [Infinity, 1]);
    check(DataType.FLOAT8E4M3FNUZ, TypedField.int32_data, [0x80, 0x7f], [NaN, 240]);
    check(DataType.FLOAT8E5M2FNUZ, TypedField.int32_data, [0x80, 0x7f], [NaN, 57344]);
  });

  it('int32_data holds 4-bit types packed two per element, low nibble first', () => {
    // 5 int4 elements 1, 2, -1, -8, 7 in three int32 elements (the last high nibble is padding).
    check(DataType.INT4, TypedField.int32_data, [0x21, 0x8f, 0x07], [1, 2, -1, -8, 7]);
    check(DataType.UINT4, TypedField.int32_data, [0x21, 0x8f, 0x07], [1, 2, 15, 8, 7]);
    check(DataType.UINT4, TypedField.int32_data, [0x21, 0x8f, 0xa7], [1, 2, 15, 8, 7, 10]);
    check(DataType.FLOAT4E2M1, TypedField.int32_data, [0x71, 0xf8], [0.5, 6, -0, -6]);
    // 17 elements: chunks of 8 split pairs across chunk boundaries never, but the odd end still works.
    const nibbles = Array.from({ length: 17 }, (_, i) => (i * 5) % 16);
    const packed = Array.from({ length: 9 }, (_, i) => nibbles[2 * i] | ((nibbles[2 * i + 1] ?? 0) << 4));
    check(DataType.UINT4, TypedField.int32_data, packed, nibbles);
  });

  it('int64_data and uint64_data hold 64-bit and uint32 values', () => {
    check(
      DataType.INT64,
      TypedField.int64_data,
      [-(2n ** 63n), -1n, 0n, 2n ** 53n, 7n],
      [-(2 ** 63), -1, 0, 2 ** 53, 7],
    );
    check(DataType.UINT64, TypedField.uint64_data, [2n ** 64n - 1n, 2n ** 32n, 1n], [2 ** 64, 2 ** 32, 1]);
    check(DataType.UINT32, TypedField.uint64_data, [4294967295n, 0n], [4294967295, 0]);
    check(DataType.UINT32, TypedField.int64_data, [4294967295n, 12n], [4294967295, 12]);
  });

  it('reads runs longer than its read window (varints straddling windows)', () => {
    const count = 500_000; // ~1.5 MB of 3-byte varints, more than the 1 MB window
    const items = Array.from({ length: count }, (_, i) => 16384 + ((i * 7919) % 100000));
    const { part, source } = typedPart(DataType.INT32, [count], TypedField.int32_data, items);
    const got = readAll(part, source, 65536);
    assert.equal(got.length, count);
    for (let i = 0; i < count; i++) if (got[i] !== items[i]) assert.fail(`[${i}] ${got[i]} vs ${items[i]}`);
    const floats = Array.from({ length: 300_000 }, (_, i) => i * 0.25);
    const f = typedPart(DataType.FLOAT, [floats.length], TypedField.float_data, floats);
    assert.deepEqual(readAll(f.part, f.source, 100_000), floats);
  });

  it('refuses a field that cannot hold the dtype', () => {
    const { part, source } = typedPart(DataType.FLOAT, [2], TypedField.int32_data, [1, 2]);
    assert.throws(
      () => tensorValues(part, source, noExternal),
      (e: unknown) => e instanceof FormatError && /int32_data cannot hold float32/.test(e.message),
    );
    const b = typedPart(DataType.INT64, [1], TypedField.int32_data, [1]);
    assert.throws(() => tensorValues(b.part, b.source, noExternal), FormatError);
  });

  it('refuses payloads with fewer or more values than the dims need', () => {
    const fewFixed = typedPart(DataType.FLOAT, [4], TypedField.float_data, [1, 2, 3]);
    assert.throws(
      () => tensorValues(fewFixed.part, fewFixed.source, noExternal),
      /float_data holds 3 values; the dims need 4/,
    );
    const manyFixed = typedPart(DataType.FLOAT, [2], TypedField.float_data, [1, 2, 3]);
    assert.throws(() => tensorValues(manyFixed.part, manyFixed.source, noExternal), FormatError);
    // Varints: too few bytes is seen at once, too few values (multi-byte varints) only while reading.
    const fewBytes = typedPart(DataType.INT32, [4], TypedField.int32_data, [1, 2]);
    assert.throws(() => tensorValues(fewBytes.part, fewBytes.source, noExternal), FormatError);
    const fewValues = typedPart(DataType.INT32, [3], TypedField.int32_data, [1000, 1000]);
    const stream = tensorValues(fewValues.part, fewValues.source, noExternal);
    assert.throws(() => [...stream.chunks()], /int32_data holds 2 values; the dims need 3/);
    const many = typedPart(DataType.INT32, [2], TypedField.int32_data, [1, 2, 3]);
    assert.throws(() => readAll(many.part, many.source), /more than the 2 values/);
    const manyNibbles = typedPart(DataType.INT4, [3], TypedField.int32_data, [0x11, 0x11, 0x11]);
    assert.throws(() => readAll(manyNibbles.part, manyNibbles.source), FormatError);
  });

  it('refuses ranges past the end of the file and truncated varints', () => {
    const source = new MemoryByteSource(Uint8Array.of(0x80, 0x80, 0x80));
    const past = {
      dtype: DataType.INT32,
      dims: [1],
      payload: {
        kind: 'typed' as const,
        field: TypedField.int32_data,
        ranges: [{ offset: 1, length: 5, packed: true }],
      },
    };
    assert.throws(() => tensorValues(past, source, noExternal), /past the end of the file/);
    const truncated = {
      ...past,
      payload: { ...past.payload, ranges: [{ offset: 0, length: 3, packed: true }] },
    };
    assert.throws(() => readAll(truncated, source), /varint runs past the end/);
    const partial = {
      dtype: DataType.FLOAT,
      dims: [1],
      payload: {
        kind: 'typed' as const,
        field: TypedField.float_data,
        ranges: [{ offset: 0, length: 3, packed: false }],
      },
    };
    assert.throws(() => tensorValues(partial, source, noExternal), /partial value/);
  });

  it('refuses varints longer than 10 bytes', () => {
    const bytes = new Uint8Array(12).fill(0x80);
    bytes[11] = 0x01;
    const part = {
      dtype: DataType.INT64,
      dims: [1],
      payload: {
        kind: 'typed' as const,
        field: TypedField.int64_data,
        ranges: [{ offset: 0, length: 12, packed: true }],
      },
    };
    assert.throws(() => readAll(part, new MemoryByteSource(bytes)), /longer than 10 bytes/);
  });
});
