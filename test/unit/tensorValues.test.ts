import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FormatError } from '../../src/core/errors';
import { MemoryByteSource, type ByteSource } from '../../src/core/io/byteSource';
import { DataType } from '../../src/core/tensor/dataType';
import { elementCount, tensorValues, type TensorSource } from '../../src/core/tensor/tensorValues';
import { collectValues, normalizeChunkElements, valuesOf } from '../../src/core/tensor/valueStream';
import { bytesOf, noExternal, rawPart, readAll } from './tensorFixtures';

function externalPart(
  dtype: number,
  dims: number[],
  offset: number,
  length: number | undefined,
): TensorSource {
  return { dtype, dims, payload: { kind: 'external', location: 'weights.bin', offset, length } };
}

describe('tensorValues', () => {
  it('streams raw float32 in bounded chunks and can be iterated again', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => i - 500.5);
    const { part, source } = rawPart(DataType.FLOAT, [10, 100], bytesOf(values), 4);
    const stream = tensorValues(part, source, noExternal, { chunkElements: 300 });
    assert.equal(stream.count, 1000);
    for (let pass = 0; pass < 2; pass++) {
      const sizes: number[] = [];
      const seen: number[] = [];
      for (const chunk of stream.chunks()) {
        assert.ok(chunk instanceof Float32Array);
        sizes.push(chunk.length);
        seen.push(...chunk);
      }
      assert.deepEqual(sizes, [304, 304, 304, 88]); // 300 rounded up to a multiple of 8
      assert.deepEqual(seen, Array.from(values));
    }
  });

  it('gives zero-copy views of aligned float32 bytes and copies unaligned ones', () => {
    const values = Float32Array.of(1, 2, 3, 4);
    const aligned = rawPart(DataType.FLOAT, [4], bytesOf(values), 8);
    const [chunk] = tensorValues(aligned.part, aligned.source, noExternal).chunks();
    const file = aligned.source.read(0, aligned.source.size);
    assert.equal(chunk.buffer, file.buffer);
    const unaligned = rawPart(DataType.FLOAT, [4], bytesOf(values), 5);
    const [copy] = tensorValues(unaligned.part, unaligned.source, noExternal).chunks();
    assert.notEqual(copy.buffer, unaligned.source.read(0, 1).buffer);
    assert.deepEqual(Array.from(copy), [1, 2, 3, 4]);
  });

  it('reads external data, with or without an explicit length', () => {
    const values = Float64Array.of(1.25, -2.5, 1e10);
    const file = new Uint8Array(4096 + 24 + 100);
    file.set(bytesOf(values), 4096);
    const ext = new MemoryByteSource(file);
    const resolve = (location: string): ByteSource => {
      assert.equal(location, 'weights.bin');
      return ext;
    };
    const empty = new MemoryByteSource(new Uint8Array(0));
    assert.deepEqual(
      readAll(externalPart(DataType.DOUBLE, [3], 4096, 24), empty, 8, resolve),
      [1.25, -2.5, 1e10],
    );
    assert.deepEqual(
      readAll(externalPart(DataType.DOUBLE, [3], 4096, undefined), empty, 8, resolve),
      [1.25, -2.5, 1e10],
    );
    assert.throws(
      () => tensorValues(externalPart(DataType.DOUBLE, [3], 4096, 16), empty, resolve),
      /length is 16 bytes; float64 \[3\] needs 24/,
    );
    assert.throws(
      () => tensorValues(externalPart(DataType.DOUBLE, [30], 4096, undefined), empty, resolve),
      (e: unknown) => e instanceof FormatError && /past the end of the file/.test(e.message),
    );
    assert.throws(
      () => tensorValues(externalPart(DataType.DOUBLE, [3], -8, 24), empty, resolve),
      /invalid offset/,
    );
  });

  it('refuses raw payloads of the wrong size or past the end', () => {
    const { part, source } = rawPart(DataType.FLOAT, [3], new Uint8Array(8));
    assert.throws(
      () => tensorValues(part, source, noExternal),
      /raw_data has 8 bytes; float32 \[3\] needs 12/,
    );
    const past: TensorSource = {
      dtype: DataType.UINT8,
      dims: [10],
      payload: { kind: 'raw', offset: 5, length: 10 },
    };
    assert.throws(
      () => tensorValues(past, new MemoryByteSource(new Uint8Array(12)), noExternal),
      FormatError,
    );
    const int4: TensorSource = {
      dtype: DataType.INT4,
      dims: [5],
      payload: { kind: 'raw', offset: 0, length: 2 },
    };
    assert.throws(() => tensorValues(int4, new MemoryByteSource(new Uint8Array(4)), noExternal), /needs 3/);
  });

  it('reads Constant attribute values and empty tensors', () => {
    const empty = new MemoryByteSource(new Uint8Array(0));
    const scalar: TensorSource = {
      dtype: DataType.FLOAT,
      dims: [],
      payload: { kind: 'values', values: [2.5] },
    };
    assert.deepEqual(readAll(scalar, empty), [2.5]);
    const ints: TensorSource = {
      dtype: DataType.INT64,
      dims: [3],
      payload: { kind: 'values', values: [1, -2, 2 ** 40] },
    };
    const stream = tensorValues(ints, empty, noExternal);
    assert.ok([...stream.chunks()][0] instanceof Float64Array);
    assert.deepEqual(Array.from(collectValues(stream)), [1, -2, 2 ** 40]);
    assert.throws(() => tensorValues({ ...ints, dims: [2] }, empty, noExternal), /holds 3 values/);
    const none: TensorSource = { dtype: DataType.FLOAT, dims: [0, 4], payload: { kind: 'empty' } };
    assert.equal(tensorValues(none, empty, noExternal).count, 0);
    assert.deepEqual(readAll(none, empty), []);
    assert.throws(() => tensorValues({ ...none, dims: [2] }, empty, noExternal), /has no data/);
  });

  it('refuses non-numeric dtypes and bad dims', () => {
    const empty = new MemoryByteSource(new Uint8Array(16));
    const raw = { kind: 'raw' as const, offset: 0, length: 16 };
    assert.throws(
      () => tensorValues({ dtype: DataType.STRING, dims: [1], payload: raw }, empty, noExternal),
      /cannot read string/,
    );
    assert.throws(
      () => tensorValues({ dtype: DataType.COMPLEX64, dims: [2], payload: raw }, empty, noExternal),
      FormatError,
    );
    assert.throws(
      () => tensorValues({ dtype: DataType.FLOAT, dims: [-1, 4], payload: raw }, empty, noExternal),
      /invalid dimension -1/,
    );
    assert.throws(() => elementCount([2 ** 30, 2 ** 30, 2 ** 30]), /too many elements/);
    assert.equal(elementCount([]), 1);
    assert.equal(elementCount([3, 0]), 0);
  });
});

describe('valueStream helpers', () => {
  it('valuesOf chunks in-memory values; collectValues refuses large streams', () => {
    const stream = valuesOf([1, 2, 3, 4, 5, 6, 7, 8, 9], 8);
    assert.deepEqual(
      [...stream.chunks()].map((c) => c.length),
      [8, 1],
    );
    assert.deepEqual(Array.from(collectValues(stream)), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.throws(() => collectValues(stream, 5), /refusing to materialize 9 values/);
    assert.equal(normalizeChunkElements(1), 8);
    assert.equal(normalizeChunkElements(17), 24);
    assert.throws(() => normalizeChunkElements(0), RangeError);
  });
});
