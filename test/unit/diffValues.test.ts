import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareSides, sharedHistograms, type ValueSide } from '../../src/core/diff/compareValues';
import { valuesOf } from '../../src/core/tensor/valueStream';

const side = (values: number[], dims = [values.length], chunk?: number, scale = 1): ValueSide => ({
  values: valuesOf(Float64Array.from(values), chunk),
  dims,
  float32: false,
  scale,
});

test('streams with different chunk sizes are compared pair by pair', () => {
  const a = Array.from({ length: 45 }, (_, i) => Math.sin(i) * (i % 7 === 0 ? 0 : 1));
  const b = a.map((v, i) => (i % 5 === 0 ? v + 0.01 * i : v));
  const f = compareSides(side(a, undefined, 8), side(b, undefined, 16), false);
  let signal = 0;
  let error = 0;
  let max = 0;
  a.forEach((v, i) => {
    signal += v * v;
    error += (v - b[i]) ** 2;
    max = Math.max(max, Math.abs(v - b[i]));
  });
  assert.equal(f.equal, false);
  assert.ok(Math.abs(f.signal - signal) <= 1e-12 * signal);
  assert.ok(Math.abs(f.error - error) <= 1e-12 * error);
  assert.equal(f.maxAbsError, max);
  assert.equal(f.sparsityA, a.filter((v) => v === 0).length / a.length);
  assert.equal(f.sparsityB, b.filter((v) => v === 0).length / b.length);
});

test("a transposed pair is compared in A's layout", () => {
  // A [2, 3]; B holds its transpose [3, 2].
  const a = [1, 2, 3, 4, 5, 6];
  const bt = [1, 4, 2, 5, 3, 6];
  assert.equal(compareSides(side(a, [2, 3], 8), side(bt, [3, 2], 8), true).equal, true);
  const changed = [...bt];
  changed[3] = 5.5; // B (1, 1) = A (1, 1) = 5
  const f = compareSides(side(a, [2, 3], 8), side(changed, [3, 2], 8), true);
  assert.equal(f.maxAbsError, 0.5);
  assert.equal(f.error, 0.25);
  // Read straight, the same values disagree.
  assert.equal(compareSides(side(a, [2, 3]), side(bt, [3, 2]), false).equal, false);
});

test('NaN and infinities: equal when both sides agree, counted apart otherwise; a folded factor applies', () => {
  const same = compareSides(side([NaN, Infinity, -Infinity, 1]), side([NaN, Infinity, -Infinity, 1]), false);
  assert.equal(same.equal, true);
  assert.equal(same.signal, 1);
  const other = compareSides(side([NaN, 1, Infinity]), side([1, 1, 2]), false);
  assert.equal(other.equal, false);
  assert.equal(other.nonFiniteMismatch, 2);
  assert.equal(other.error, 0);
  const scaled = compareSides(side([1, 2, 3], [3], undefined, 0.5), side([0.5, 1, 1.5]), false);
  assert.equal(scaled.equal, true);
});

test('dequantized values are compared rounded to float32', () => {
  const x = 0.1; // not a float32
  const a: ValueSide = { ...side([Math.fround(x)]) };
  const b: ValueSide = { ...side([x]), float32: true };
  assert.equal(compareSides(a, b, false).equal, true);
  assert.equal(compareSides(a, side([x]), false).equal, false);
});

test('shared histograms: one range over both sides, finite values counted', () => {
  const [ha, hb] = sharedHistograms([side([0, 1, 2, 3, NaN]), side([2, 4, 4, Infinity])], 4);
  assert.deepEqual([ha.min, ha.max, hb.min, hb.max], [0, 4, 0, 4]);
  assert.deepEqual(ha.counts, [1, 1, 1, 1]);
  assert.deepEqual(hb.counts, [0, 0, 1, 2]);
  const [single] = sharedHistograms([side([7, 7])], 2);
  assert.deepEqual(single, { min: 6.5, max: 7.5, counts: [0, 2] });
});
