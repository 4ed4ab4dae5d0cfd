import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FormatError } from '../../src/core/errors';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import { DataType } from '../../src/core/tensor/dataType';
import { tensorValues, type TensorSource } from '../../src/core/tensor/tensorValues';
import { asPart, bytesOf, noExternal, readAll } from './tensorFixtures';

/** A sparse tensor whose values and indices are raw payloads in one file. */
function sparse(
  dims: number[],
  values: number[],
  indices: number[],
  indexDims: number[],
  valueType: number = DataType.FLOAT,
): { part: TensorSource; source: MemoryByteSource } {
  const valueBytes =
    valueType === DataType.FLOAT ? bytesOf(Float32Array.from(values)) : bytesOf(Int32Array.from(values));
  const indexBytes = bytesOf(BigInt64Array.from(indices.map(BigInt)));
  const file = new Uint8Array(1 + valueBytes.length + indexBytes.length);
  file.set(valueBytes, 1);
  file.set(indexBytes, 1 + valueBytes.length);
  const valuesPart = asPart({
    dtype: valueType,
    dims: [values.length],
    payload: { kind: 'raw', offset: 1, length: valueBytes.length },
  });
  const indicesPart = asPart({
    dtype: DataType.INT64,
    dims: indexDims,
    payload: { kind: 'raw', offset: 1 + valueBytes.length, length: indexBytes.length },
  });
  return {
    part: {
      dtype: valueType,
      dims,
      payload: valuesPart.payload,
      sparse: { values: valuesPart, indices: indicesPart },
    },
    source: new MemoryByteSource(file),
  };
}

describe('sparse tensors', () => {
  it('densify linearized indices, across chunk boundaries', () => {
    const { part, source } = sparse([4, 5], [1.5, -2, 3, 4], [0, 7, 8, 19], [4]);
    const expected = new Array(20).fill(0);
    expected[0] = 1.5;
    expected[7] = -2;
    expected[8] = 3;
    expected[19] = 4;
    for (const chunk of [8, 16, 1024]) assert.deepEqual(readAll(part, source, chunk), expected);
    assert.equal(tensorValues(part, source, noExternal).count, 20);
  });

  it('densify [NNZ, rank] coordinates', () => {
    const { part, source } = sparse([3, 4], [5, 6, 7], [0, 1, 1, 3, 2, 0], [3, 2], DataType.INT32);
    const expected = [0, 5, 0, 0, 0, 0, 0, 6, 7, 0, 0, 0];
    assert.deepEqual(readAll(part, source, 8), expected);
    const [chunk] = tensorValues(part, source, noExternal).chunks();
    assert.ok(chunk instanceof Float64Array, 'int32 values keep float64 chunks');
  });

  it('refuse out-of-range, unsorted and duplicate indices while reading', () => {
    const outOfRange = sparse([2, 2], [1, 2], [1, 4], [2]);
    assert.throws(() => readAll(outOfRange.part, outOfRange.source), /sparse index 4 is outside \[0, 4\)/);
    const badCoordinate = sparse([2, 2], [1], [0, 2], [1, 2]);
    assert.throws(() => readAll(badCoordinate.part, badCoordinate.source), /coordinate 2 on axis 1/);
    const unsorted = sparse([10], [1, 2], [5, 3], [2]);
    assert.throws(() => readAll(unsorted.part, unsorted.source), /not strictly ascending/);
    const duplicate = sparse([10], [1, 2], [3, 3], [2]);
    assert.throws(
      () => readAll(duplicate.part, duplicate.source),
      (e: unknown) => e instanceof FormatError && /ascending/.test(e.message),
    );
    const negative = sparse([10], [1], [-1], [1]);
    assert.throws(() => readAll(negative.part, negative.source), /outside/);
  });

  it('refuse mismatched shapes and huge dense sizes up front', () => {
    const wrongShape = sparse([4, 4], [1, 2], [1, 2, 3], [3]);
    assert.throws(
      () => tensorValues(wrongShape.part, wrongShape.source, noExternal),
      /do not match 2 values/,
    );
    const wrongRank = sparse([4, 4], [1, 2], [0, 1, 2, 3, 0, 1], [2, 3]);
    assert.throws(() => tensorValues(wrongRank.part, wrongRank.source, noExternal), FormatError);
    const huge = sparse([2 ** 12, 2 ** 13 + 1], [1], [0], [1]);
    assert.throws(() => tensorValues(huge.part, huge.source, noExternal), /limit is 33554432/);
    const ok = sparse([2 ** 12, 2 ** 13], [1], [0], [1]);
    assert.equal(tensorValues(ok.part, ok.source, noExternal).count, 2 ** 25);
    const floatIndices = sparse([4], [1], [0], [1]);
    floatIndices.part.sparse!.indices.dtype = DataType.FLOAT;
    assert.throws(() => tensorValues(floatIndices.part, floatIndices.source, noExternal), /must be integers/);
  });
});
