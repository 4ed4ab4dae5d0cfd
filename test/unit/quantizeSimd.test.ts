import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type BlockwiseOptions, quantizeBlockwise } from '../../src/core/quant/quantizeBlockwise';
import { quantizeSimdAvailable } from '../../src/core/simd/quantizeKNSimd';
import { setSimdEnabled } from '../../src/core/simd/simdModule';
import { rng } from './tensorFixtures';

/** Weights with a spread of magnitudes per column, and the odd zero, NaN, ±Inf or subnormal when asked. */
function weights(K: number, N: number, seed: number, odd: boolean): Float32Array {
  const random = rng(seed);
  const w = Float32Array.from({ length: K * N }, (_, i) => (random() - 0.4) * (1 + (i % N)) * 0.1);
  if (odd) {
    const specials = [0, -0, NaN, Infinity, -Infinity, 1e-45, -3e-45, 2e-44, 1e-38];
    for (let i = 0; i < w.length; i += 7) w[i] = specials[(i / 7) % specials.length];
    // A whole block of one column that is subnormal: its scale's reciprocal overflows float32.
    for (let k = 0; k < Math.min(K, 16); k++) w[k * N + 1] = k % 2 ? 1.4e-44 : 0;
  }
  return w;
}

/** Both paths on the same input: the SIMD kernels and the scalar JS loops. */
function both(w: Float32Array, K: number, N: number, o: BlockwiseOptions) {
  setSimdEnabled(true);
  const simd = quantizeBlockwise(w, K, N, o);
  setSimdEnabled(false);
  const js = quantizeBlockwise(w, K, N, o);
  setSimdEnabled(true);
  return { simd, js };
}

describe('quantizeBlockwise on the SIMD kernels', () => {
  after(() => setSimdEnabled(true));

  it('runs here (Node has WebAssembly SIMD), and not when switched off', () => {
    assert.equal(quantizeSimdAvailable(), true);
    setSimdEnabled(false);
    assert.equal(quantizeSimdAvailable(), false);
    setSimdEnabled(true);
  });

  const shapes = [
    [64, 8],
    [100, 7],
    [33, 13],
    [256, 65],
    [16, 1],
  ];
  for (const bits of [2, 4, 8] as const) {
    for (const symmetric of [false, true]) {
      for (const scaleType of ['float32', 'float16'] as const) {
        for (const odd of [false, true]) {
          const o = { bits, blockSize: bits === 8 ? 32 : 16, symmetric, scaleType };
          it(`bits ${bits} ${symmetric ? 'sym' : 'asym'} ${scaleType}${odd ? ' with NaN/Inf/subnormals' : ''}: same bytes as the JS loops`, () => {
            for (const [K, N] of shapes) {
              const w = weights(K, N, K * 31 + N + bits, odd);
              const { simd, js } = both(w, K, N, o);
              const what = `K=${K} N=${N}`;
              assert.deepEqual(simd.b, js.b, `codes ${what}`);
              assert.deepEqual(simd.scaleBytes, js.scaleBytes, `scales ${what}`);
              assert.deepEqual(simd.zeroPoints, js.zeroPoints, `zero points ${what}`);
              // The energies are summed in another order: equal up to rounding.
              for (const key of ['signalEnergy', 'errorEnergy'] as const) {
                const [a, b] = [simd[key], js[key]];
                if (Number.isFinite(b))
                  assert.ok(Math.abs(a - b) <= 1e-9 * Math.abs(b), `${key} ${what}: ${a} vs ${b}`);
                else
                  assert.ok(
                    Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)),
                    `${key} ${what}: ${a} vs ${b}`,
                  );
              }
            }
          });
        }
      }
    }
  }

  it('a weight that is not one block tall and a wide one give the JS result too', () => {
    const w = weights(40, 4099, 9, false);
    const o = { bits: 4 as const, blockSize: 32, symmetric: false, scaleType: 'float32' as const };
    const { simd, js } = both(w, 40, 4099, o);
    assert.deepEqual(simd.b, js.b);
    assert.deepEqual(simd.zeroPoints, js.zeroPoints);
  });
});
