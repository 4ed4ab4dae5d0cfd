import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataType } from '../../src/core/tensor/dataType';
import { canDecode, chunkKind, decodeRawElements, newChunk } from '../../src/core/tensor/decodeRawElements';
import { bytesOf, rawPart, readAll } from './tensorFixtures';

/** Decode raw bytes through decodeRawElements directly and through tensorValues at odd offsets and chunk sizes. */
function decodeAllWays(dtype: number, bytes: Uint8Array, count: number): number[] {
  const out = newChunk(dtype, count);
  decodeRawElements(dtype, bytes, count, out);
  const direct = Array.from(out);
  for (const pad of [0, 1, 3, 6]) {
    for (const chunk of [8, 16, 1 << 20]) {
      const { part, source } = rawPart(dtype, [count], bytes, pad);
      const streamed = readAll(part, source, chunk);
      assert.equal(streamed.length, count);
      streamed.forEach((v, i) =>
        assert.ok(Object.is(v, direct[i]), `pad ${pad} chunk ${chunk} [${i}]: ${v} vs ${direct[i]}`),
      );
    }
  }
  return direct;
}

describe('raw element decoding', () => {
  it('float32 and float64, incl. -0, Inf and NaN', () => {
    const f32 = Float32Array.of(1.5, -0, Infinity, NaN, -3.4028234663852886e38, 1e-45);
    const got = decodeAllWays(DataType.FLOAT, bytesOf(f32), f32.length);
    assert.deepEqual(got, Array.from(f32));
    assert.ok(Object.is(got[1], -0));
    const f64 = Float64Array.of(0.1, -1e300, 5e-324, -Infinity);
    assert.deepEqual(decodeAllWays(DataType.DOUBLE, bytesOf(f64), f64.length), Array.from(f64));
  });

  it('8-, 16- and 32-bit integers and bool', () => {
    const cases: [number, ArrayBufferView & ArrayLike<number>][] = [
      [DataType.INT8, Int8Array.of(-128, -1, 0, 1, 127)],
      [DataType.UINT8, Uint8Array.of(0, 1, 128, 255)],
      [DataType.INT16, Int16Array.of(-32768, -1, 0, 300, 32767)],
      [DataType.UINT16, Uint16Array.of(0, 65535, 40000)],
      [DataType.INT32, Int32Array.of(-2147483648, -1, 0, 2147483647, 16777217)],
      [DataType.UINT32, Uint32Array.of(0, 4294967295, 16777217)],
    ];
    for (const [dtype, values] of cases) {
      assert.deepEqual(
        decodeAllWays(dtype, bytesOf(values), values.length),
        Array.from(values),
        `dtype ${dtype}`,
      );
    }
    // 16777217 is not a float32: 32-bit integers need Float64Array chunks.
    assert.equal(chunkKind(DataType.INT32), 'float64');
    assert.equal(chunkKind(DataType.INT16), 'float32');
    assert.deepEqual(decodeAllWays(DataType.BOOL, Uint8Array.of(0, 1, 2, 255, 0), 5), [0, 1, 1, 1, 0]);
  });

  it('64-bit integers through two 32-bit halves', () => {
    const i64 = BigInt64Array.of(
      -(2n ** 53n),
      -1n,
      0n,
      1n,
      2n ** 40n + 5n,
      -(2n ** 63n),
      2n ** 63n - 1n,
      -4294967296n,
      4294967295n,
    );
    assert.deepEqual(decodeAllWays(DataType.INT64, bytesOf(i64), i64.length), Array.from(i64, Number));
    const u64 = BigUint64Array.of(0n, 2n ** 64n - 1n, 2n ** 53n + 2n, 4294967296n, 4294967295n);
    assert.deepEqual(decodeAllWays(DataType.UINT64, bytesOf(u64), u64.length), Array.from(u64, Number));
  });

  it('float16 and bfloat16 bit patterns', () => {
    const f16 = Uint16Array.of(0x0001, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x7bff, 0x3c00);
    const got = decodeAllWays(DataType.FLOAT16, bytesOf(f16), f16.length);
    assert.deepEqual(got, [2 ** -24, Infinity, -Infinity, NaN, -0, 65504, 1]);
    assert.ok(Object.is(got[4], -0));
    const bf16 = Uint16Array.of(0x3f80, 0xc040, 0x7f80, 0x0001, 0x8000);
    assert.deepEqual(decodeAllWays(DataType.BFLOAT16, bytesOf(bf16), bf16.length), [
      1,
      -3,
      Infinity,
      2 ** -133,
      -0,
    ]);
  });

  it('float8 codes', () => {
    const codes = Uint8Array.of(0x00, 0x01, 0x7e, 0x7f, 0x80, 0xfe);
    assert.deepEqual(decodeAllWays(DataType.FLOAT8E4M3FN, codes, 6), [0, 2 ** -9, 448, NaN, -0, -448]);
    assert.deepEqual(decodeAllWays(DataType.FLOAT8E4M3FNUZ, codes, 6), [0, 2 ** -10, 224, 240, NaN, -224]);
    assert.deepEqual(decodeAllWays(DataType.FLOAT8E5M2, Uint8Array.of(0x7c, 0xfc, 0x7d, 0x3c, 0x01), 5), [
      Infinity,
      -Infinity,
      NaN,
      1,
      2 ** -16,
    ]);
    assert.deepEqual(decodeAllWays(DataType.FLOAT8E5M2FNUZ, Uint8Array.of(0x80, 0x7f, 0x40, 0x01), 4), [
      NaN,
      57344,
      1,
      2 ** -17,
    ]);
  });

  it('4-bit types: two per byte, low nibble first, odd counts drop the last high nibble', () => {
    // Elements: 1, 2 | -1 (0xf), -8 (0x8) | 7 and a padding nibble of 0xa.
    const packed = Uint8Array.of(0x21, 0x8f, 0xa7);
    assert.deepEqual(decodeAllWays(DataType.INT4, packed, 5), [1, 2, -1, -8, 7]);
    assert.deepEqual(decodeAllWays(DataType.UINT4, packed, 5), [1, 2, 15, 8, 7]);
    assert.deepEqual(decodeAllWays(DataType.UINT4, packed, 6), [1, 2, 15, 8, 7, 10]);
    assert.deepEqual(
      decodeAllWays(DataType.FLOAT4E2M1, Uint8Array.of(0x71, 0xf8, 0x05), 5),
      [0.5, 6, -0, -6, 3],
    );
  });

  it('4-bit chunks of 8 elements split a long tensor on byte boundaries', () => {
    const count = 37;
    const nibbles = Array.from({ length: count }, (_, i) => (i * 7) % 16);
    const packed = new Uint8Array(Math.ceil(count / 2));
    nibbles.forEach((n, i) => (packed[i >> 1] |= i % 2 === 0 ? n : n << 4));
    assert.deepEqual(decodeAllWays(DataType.UINT4, packed, count), nibbles);
    assert.deepEqual(
      decodeAllWays(DataType.INT4, packed, count),
      nibbles.map((n) => (n >= 8 ? n - 16 : n)),
    );
  });

  it('knows which dtypes it can decode', () => {
    for (const dtype of [DataType.STRING, DataType.COMPLEX64, DataType.COMPLEX128, DataType.UNDEFINED, 99]) {
      assert.equal(canDecode(dtype), false);
      assert.throws(() => decodeRawElements(dtype, new Uint8Array(8), 1, new Float64Array(1)), RangeError);
    }
    for (let dtype = 1; dtype <= 23; dtype++) {
      if (![8, 14, 15].includes(dtype)) assert.equal(canDecode(dtype), true, `dtype ${dtype}`);
    }
  });
});
