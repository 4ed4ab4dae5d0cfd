import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setSimdEnabled } from '../../src/core/simd/simdModule';
import { allFinite } from '../../src/core/tensor/allFinite';

/** Both paths: the SIMD kernel (float32) and the JS loop. */
function check(values: Float32Array | Float64Array): boolean {
  setSimdEnabled(false);
  const js = allFinite(values);
  setSimdEnabled(true);
  const simd = allFinite(values);
  assert.equal(simd, js, 'SIMD and JS disagree');
  return js;
}

describe('allFinite', () => {
  it('is true for finite values of any size, -0 and FLT_MAX included', () => {
    assert.equal(check(new Float32Array(0)), true);
    const big = Float32Array.from({ length: 70001 }, (_, i) =>
      i % 3 ? -0 : 3.4028234663852886e38 * (i % 2 ? -1 : 1),
    );
    assert.equal(check(big), true);
    assert.equal(check(Float64Array.of(Number.MAX_VALUE, -Number.MAX_VALUE, 5e-324)), true);
  });

  it('finds one NaN or ±Inf anywhere: block bodies, block ends and the tail', () => {
    const n = 3 * (1 << 14) + 7;
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const at of [0, 1, 3, (1 << 14) - 1, 1 << 14, 2 * (1 << 14) + 2, n - 4, n - 1]) {
        for (const values of [new Float32Array(n).fill(0.5), new Float64Array(n).fill(-2)]) {
          values[at] = bad;
          assert.equal(check(values), false, `${bad} at ${at} of ${values.constructor.name}`);
        }
      }
    }
  });
});
