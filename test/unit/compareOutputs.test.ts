// compareOutputs, behind every fidelity floor: output pairs whose cosine, SQNR, max error and top-1
// agreement are known in closed form, including zeros, NaN, one-element, float16 and int64 outputs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { numberToFloat16Bits } from '../../src/core/tensor/float16';
import { compareOutputs } from '../../src/runtime/verifyModels';
import { loadOrt } from '../../src/runtime/loadOrt';

// Through loadOrt: its telemetry off, so no session leaves files in the temp folder.
const ort = loadOrt();

const f32 = (values: number[], dims = [1, values.length]) =>
  new ort.Tensor('float32', Float32Array.from(values), dims);
const f16 = (values: number[], dims = [1, values.length]) =>
  new ort.Tensor('float16', Uint16Array.from(values.map(numberToFloat16Bits)), dims);
const db = (ratio: number) => 10 * Math.log10(ratio);

describe('compareOutputs', () => {
  it('identical outputs: cosine 1, SQNR Infinity, no error, top-1 agreement 1', () => {
    const m = compareOutputs('y', f32([0.5, -1, 3, 2]), f32([0.5, -1, 3, 2]));
    assert.deepEqual(
      { cosine: m.cosine, sqnrDb: m.sqnrDb, maxAbsError: m.maxAbsError, top1: m.top1Agreement },
      { cosine: 1, sqnrDb: Infinity, maxAbsError: 0, top1: 1 },
    );
    assert.deepEqual([m.name, m.dtype, m.dims], ['y', 'float32', [1, 4]]);
  });

  it('a known pair: cosine 34/√1170, SQNR 10·log10(30/1), max error 1', () => {
    // a = [1, 2, 3, 4], b = [1, 2, 3, 5]: a·b = 34, |a|² = 30, |b|² = 39, |a - b|² = 1.
    const m = compareOutputs('y', f32([1, 2, 3, 4]), f32([1, 2, 3, 5]));
    assert.equal(m.cosine, Math.round((34 / Math.sqrt(30 * 39)) * 1e6) / 1e6);
    assert.equal(m.sqnrDb, Math.round(db(30) * 1e3) / 1e3);
    assert.equal(m.maxAbsError, 1);
    assert.equal(m.top1Agreement, 1);
  });

  it('top-1 agreement is the share of rows whose arg-max agree', () => {
    const a = f32([1, 2, 0, 3, 1, 0, 0, 0, 5, 1, 9, 2], [4, 3]);
    const b = f32([1, 2, 0, 1, 3, 0, 0, 0, 5, 9, 1, 2], [4, 3]);
    assert.equal(compareOutputs('p', a, b).top1Agreement, 0.5);
    // Not for one class per row, nor for outputs that are not 2-D.
    assert.equal(compareOutputs('p', f32([1, 2], [2, 1]), f32([2, 1], [2, 1])).top1Agreement, undefined);
    assert.equal(
      compareOutputs('p', f32([1, 2, 3, 4], [1, 2, 2]), f32([1, 2, 3, 4], [1, 2, 2])).top1Agreement,
      undefined,
    );
  });

  it('all zeros on both sides count as identical', () => {
    const m = compareOutputs('z', f32([0, 0, 0]), f32([0, 0, 0]));
    assert.deepEqual([m.cosine, m.sqnrDb, m.maxAbsError], [1, Infinity, 0]);
  });

  it('all zeros on one side: cosine 0; SQNR -Infinity (original zeros) or 0 dB (candidate zeros)', () => {
    const fromZeros = compareOutputs('z', f32([0, 0, 0]), f32([0, 3, -4]));
    assert.deepEqual([fromZeros.cosine, fromZeros.sqnrDb, fromZeros.maxAbsError], [0, -Infinity, 4]);
    const toZeros = compareOutputs('z', f32([0, 3, -4]), f32([0, 0, 0]));
    assert.deepEqual([toZeros.cosine, toZeros.sqnrDb, toZeros.maxAbsError], [0, 0, 4]);
  });

  it('a NaN on either side makes every figure NaN, so no floor accepts it', () => {
    for (const [a, b] of [
      [
        [1, 2, 3],
        [1, NaN, 3],
      ],
      [
        [NaN, 2, 3],
        [1, 2, 3],
      ],
    ]) {
      const m = compareOutputs('n', f32(a), f32(b));
      assert.ok(
        Number.isNaN(m.cosine) && Number.isNaN(m.sqnrDb) && Number.isNaN(m.maxAbsError),
        JSON.stringify(m),
      );
      assert.ok(!(m.cosine >= 0.5) && !(m.sqnrDb >= 0));
    }
  });

  it('one-element outputs: the sign decides the cosine', () => {
    const flipped = compareOutputs('s', f32([2], [1]), f32([-2], [1]));
    // |a|² = 4, |a - b|² = 16.
    assert.deepEqual(
      [flipped.cosine, flipped.sqnrDb, flipped.maxAbsError],
      [-1, Math.round(db(4 / 16) * 1e3) / 1e3, 4],
    );
    const scaled = compareOutputs('s', f32([2], []), f32([3], []));
    assert.deepEqual(
      [scaled.cosine, scaled.sqnrDb, scaled.maxAbsError],
      [1, Math.round(db(4) * 1e3) / 1e3, 1],
    );
  });

  it('float16 outputs are decoded before comparing', () => {
    // 2050 is exact in float16 (spacing 2 at 2048): |a|² = 1 + 0.25 + 4 + 2048², |a - b|² = 4.
    const m = compareOutputs('h', f16([1, 0.5, -2, 2048]), f16([1, 0.5, -2, 2050]));
    assert.equal(m.dtype, 'float16');
    assert.equal(m.maxAbsError, 2);
    assert.equal(m.sqnrDb, Math.round(db((1 + 0.25 + 4 + 2048 ** 2) / 4) * 1e3) / 1e3);
    assert.equal(m.top1Agreement, 1);
    const na = 1 + 0.25 + 4 + 2048 ** 2;
    const nb = 1 + 0.25 + 4 + 2050 ** 2;
    const dot = 1 + 0.25 + 4 + 2048 * 2050;
    assert.equal(m.cosine, Math.round((dot / Math.sqrt(na * nb)) * 1e6) / 1e6);
  });

  it('int64 outputs compare as numbers, without top-1', () => {
    const a = new ort.Tensor('int64', BigInt64Array.from([1n, 2n, 3n]), [1, 3]);
    const b = new ort.Tensor('int64', BigInt64Array.from([1n, 5n, 3n]), [1, 3]);
    const m = compareOutputs('i', a, b);
    assert.equal(m.maxAbsError, 3);
    assert.equal(m.sqnrDb, Math.round(db(14 / 9) * 1e3) / 1e3);
    assert.equal(m.top1Agreement, undefined);
  });
});
