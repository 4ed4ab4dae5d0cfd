import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import { TypedField } from '../../src/core/onnx/modelIndex';
import { computeStats } from '../../src/core/stats/computeStats';
import {
  ContentHasher,
  hashValues,
  payloadHash,
  payloadHasherForValues,
} from '../../src/core/stats/payloadHash';
import { DataType } from '../../src/core/tensor/dataType';
import { tensorValues, type TensorSource } from '../../src/core/tensor/tensorValues';
import { valuesOf } from '../../src/core/tensor/valueStream';
import { bytesOf, noExternal, rawPart, rng, typedPart } from './tensorFixtures';

describe('ContentHasher', () => {
  it('gives the same digest however the bytes are split, and a 16-hex-digit one', () => {
    const random = rng(5);
    const bytes = Uint8Array.from({ length: 1001 }, () => Math.floor(random() * 256));
    const whole = new ContentHasher().update(bytes).digest();
    assert.match(whole, /^[0-9a-f]{16}$/);
    for (const cuts of [[1], [3, 7, 500], [4, 8, 1000], [999, 1000]]) {
      const h = new ContentHasher();
      let at = 0;
      for (const cut of [...cuts, bytes.length]) {
        h.update(bytes.subarray(at, cut));
        at = cut;
      }
      assert.equal(h.digest(), whole, `cuts ${cuts}`);
    }
  });

  it('changes with any one byte, with the length, and with trailing zeros', () => {
    const random = rng(6);
    const bytes = Uint8Array.from({ length: 257 }, () => Math.floor(random() * 256));
    const base = new ContentHasher().update(bytes).digest();
    const seen = new Set([base]);
    for (let i = 0; i < bytes.length; i++) {
      for (const flip of [1, 0x80]) {
        const copy = bytes.slice();
        copy[i] ^= flip;
        const h = new ContentHasher().update(copy).digest();
        assert.ok(!seen.has(h), `flip ${flip} at ${i}`);
        seen.add(h);
      }
    }
    assert.notEqual(
      new ContentHasher().update(new Uint8Array(8)).digest(),
      new ContentHasher().update(new Uint8Array(9)).digest(),
    );
    assert.notEqual(
      new ContentHasher().update(new Uint8Array(0)).digest(),
      new ContentHasher().update(new Uint8Array(1)).digest(),
    );
  });

  it('both 32-bit halves depend on every word', () => {
    const a = new ContentHasher().update(new Uint8Array(64)).digest();
    const bytes = new Uint8Array(64);
    bytes[40] = 1;
    const b = new ContentHasher().update(bytes).digest();
    assert.notEqual(a.slice(0, 8), b.slice(0, 8));
    assert.notEqual(a.slice(8), b.slice(8));
  });
});

describe('payloadHash', () => {
  const weights = bytesOf(Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i)));

  it('is equal for the same bytes wherever they are stored (raw at any offset, external)', () => {
    const a = rawPart(DataType.FLOAT, [10, 100], weights, 0);
    const b = rawPart(DataType.FLOAT, [10, 100], weights, 7);
    const file = new Uint8Array(8192 + weights.length);
    file.set(weights, 8192);
    const external: TensorSource = {
      dtype: DataType.FLOAT,
      dims: [10, 100],
      payload: { kind: 'external', location: 'w.bin', offset: 8192, length: undefined },
    };
    const ha = payloadHash(a.part, a.source, noExternal);
    assert.equal(payloadHash(b.part, b.source, noExternal), ha);
    assert.equal(
      payloadHash(external, new MemoryByteSource(new Uint8Array(0)), () => new MemoryByteSource(file)),
      ha,
    );
  });

  it('differs for other bytes, dims or dtype', () => {
    const a = rawPart(DataType.FLOAT, [10, 100], weights);
    const ha = payloadHash(a.part, a.source, noExternal);
    const changed = weights.slice();
    changed[999] ^= 1;
    const b = rawPart(DataType.FLOAT, [10, 100], changed);
    assert.notEqual(payloadHash(b.part, b.source, noExternal), ha);
    assert.notEqual(payloadHash({ ...a.part, dims: [100, 10] }, a.source, noExternal), ha);
    assert.notEqual(payloadHash({ ...a.part, dtype: DataType.INT32 }, a.source, noExternal), ha);
  });

  it('hashes typed payloads and attribute values', () => {
    const t1 = typedPart(DataType.INT32, [3], TypedField.int32_data, [1, 2, 3]);
    const t2 = typedPart(DataType.INT32, [3], TypedField.int32_data, [1, 2, 3]);
    const t3 = typedPart(DataType.INT32, [3], TypedField.int32_data, [1, 2, 4]);
    assert.equal(payloadHash(t1.part, t1.source, noExternal), payloadHash(t2.part, t2.source, noExternal));
    assert.notEqual(payloadHash(t1.part, t1.source, noExternal), payloadHash(t3.part, t3.source, noExternal));
    const empty = new MemoryByteSource(new Uint8Array(0));
    const v1: TensorSource = {
      dtype: DataType.FLOAT,
      dims: [2],
      payload: { kind: 'values', values: [1, 2] },
    };
    const v2: TensorSource = {
      dtype: DataType.FLOAT,
      dims: [2],
      payload: { kind: 'values', values: [1, 3] },
    };
    assert.notEqual(payloadHash(v1, empty, noExternal), payloadHash(v2, empty, noExternal));
  });
});

describe('hashValues', () => {
  it('does not depend on chunk sizes, but on the values and their type', () => {
    const values = Float32Array.from({ length: 999 }, (_, i) => i * 0.5);
    const h = hashValues(valuesOf(values, 8));
    assert.equal(hashValues(valuesOf(values, 1000)), h);
    const { part, source } = rawPart(DataType.FLOAT, [999], bytesOf(values), 3);
    assert.equal(hashValues(tensorValues(part, source, noExternal, { chunkElements: 64 })), h);
    const other = values.slice();
    other[500] = -0;
    assert.notEqual(hashValues(valuesOf(other)), h);
    assert.notEqual(hashValues(valuesOf(Float64Array.from(values))), h);
  });
});

describe('payloadHasherForValues', () => {
  it('gives payloadHash for float32/float64 raw and external tensors when fed through computeStats', () => {
    const values = Float32Array.from({ length: 3001 }, (_, i) => Math.cos(i));
    const raw = rawPart(DataType.FLOAT, [3001], bytesOf(values), 5);
    const hasher = payloadHasherForValues(raw.part);
    assert.ok(hasher);
    computeStats(tensorValues(raw.part, raw.source, noExternal, { chunkElements: 1000 }), { hasher });
    assert.equal(hasher.digest(), payloadHash(raw.part, raw.source, noExternal));
    const f64 = rawPart(DataType.DOUBLE, [3, 7], bytesOf(Float64Array.from({ length: 21 }, (_, i) => i / 3)));
    const h64 = payloadHasherForValues(f64.part)!;
    computeStats(tensorValues(f64.part, f64.source, noExternal), { hasher: h64 });
    assert.equal(h64.digest(), payloadHash(f64.part, f64.source, noExternal));
  });

  it('is undefined where chunk bytes differ from stored bytes', () => {
    const int8 = rawPart(DataType.INT8, [4], [1, 2, 3, 4]);
    assert.equal(payloadHasherForValues(int8.part), undefined);
    const typed = typedPart(DataType.FLOAT, [2], TypedField.float_data, [1, 2]);
    assert.equal(payloadHasherForValues(typed.part), undefined);
  });
});
