import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type BlockwiseOptions, quantizeBlockwise } from '../../src/core/quant/quantizeBlockwise';
import {
  allFiniteInKernels,
  type BlockParams,
  quantizeKernels,
  quantizeSimdAvailable,
  type WeightRows,
} from '../../src/core/simd/quantizeKernels';
import { quantizeNKSimd } from '../../src/core/simd/quantizeNKSimd';
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
function both(w: Float32Array, K: number, N: number, o: BlockwiseOptions, layout: 'KN' | 'NK' = 'KN') {
  setSimdEnabled(true);
  const simd = quantizeBlockwise(w, K, N, o, layout);
  setSimdEnabled(false);
  const js = quantizeBlockwise(w, K, N, o, layout);
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
        // The second block size makes each column's blob 16 bytes: pack's transposed path.
        for (const [odd, blockSize] of [
          [false, bits === 8 ? 32 : 16],
          [true, bits === 8 ? 32 : 16],
          [false, 128 / bits],
          [true, 128 / bits],
        ] as const) {
          const o = { bits, blockSize, symmetric, scaleType };
          it(`bits ${bits} block ${blockSize} ${symmetric ? 'sym' : 'asym'} ${scaleType}${odd ? ' with NaN/Inf/subnormals' : ''}: same bytes as the JS loops`, () => {
            for (const [K, N, layout] of shapes.flatMap(([K, N]) => [
              [K, N, 'KN'] as const,
              [K, N, 'NK'] as const,
            ])) {
              const w = weights(K, N, K * 31 + N + bits, odd);
              const { simd, js } = both(w, K, N, o, layout);
              const what = `${layout} K=${K} N=${N}`;
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

  it('block ranges keep the sign of the first ±0 met, as the JS loop does (NK lanes meet them out of order)', () => {
    // Index 1 (lane 1) meets -0 first; index 4 (lane 0) holds +0: merging lanes in order would give +0.
    const w = new Float32Array(32).fill(1);
    w[0] = 5;
    w[1] = -0;
    w[4] = 0;
    w[17] = 0;
    w[18] = -0;
    w[20] = -2;
    const seen: number[] = [];
    const q = {
      bits: 4,
      qMax: 15,
      kBlocks: 2,
      blob: 8,
      blockSize: 16,
      b: new Uint8Array(16),
      symmetric: false,
      // fp16 scales: the parameters come from `params`, which records the ranges it is given.
      fp16: true,
      scales: new Float32Array(2),
      zpRow: 1,
      signalEnergy: 0,
      errorEnergy: 0,
    };
    const params: BlockParams = (_n, _kb, min, max, out) => {
      seen.push(min, max);
      out[0] = 1;
      out[1] = 1;
      out[2] = 0;
    };
    assert.equal(quantizeNKSimd(q, w, 32, 1, params), 'done');
    assert.ok(Object.is(seen[0], -0), `block 0 min ${seen[0]}`);
    assert.deepEqual(seen.slice(1), [5, -2, 1]);
  });

  it('a weight that is not one block tall and a wide one give the JS result too', () => {
    const w = weights(40, 4099, 9, false);
    const o = { bits: 4 as const, blockSize: 32, symmetric: false, scaleType: 'float32' as const };
    const { simd, js } = both(w, 40, 4099, o);
    assert.deepEqual(simd.b, js.b);
    assert.deepEqual(simd.zeroPoints, js.zeroPoints);
  });
});

describe('quantizeBlockwise on a weight read as it is quantized (WeightRows)', () => {
  after(() => setSimdEnabled(true));

  /** `w` as a WeightRows that counts its reads, checking each piece as weightReader does. */
  function rowsOf(w: Float32Array) {
    const reads: number[] = [];
    const rows: WeightRows = {
      length: w.length,
      fill(from, into) {
        reads.push(into.length);
        into.set(w.subarray(from, from + into.length));
        return allFiniteInKernels(into) ?? into.every(Number.isFinite);
      },
    };
    return { rows, reads };
  }

  it("gives the JS loops' bytes in both layouts and on both paths, reading a few rows at a time", () => {
    for (const symmetric of [false, true]) {
      for (const [K, N] of [
        [96, 40],
        [40, 96],
        [33, 7],
        [3000, 200],
      ]) {
        const w = weights(K, N, K + N, false);
        const o = { bits: 4 as const, blockSize: 32, symmetric, scaleType: 'float32' as const };
        for (const layout of ['KN', 'NK'] as const) {
          for (const simd of [true, false]) {
            const [k, n] = layout === 'KN' ? [K, N] : [N, K];
            const { rows, reads } = rowsOf(w);
            setSimdEnabled(simd);
            const streamed = quantizeBlockwise(rows, k, n, o, layout);
            setSimdEnabled(false);
            const js = quantizeBlockwise(w, k, n, o, layout);
            setSimdEnabled(true);
            const what = `${layout} ${K}x${N} ${symmetric ? 'sym' : 'asym'} ${simd ? 'SIMD' : 'JS'}`;
            assert.ok(streamed, what);
            assert.deepEqual(streamed.b, js.b, `codes ${what}`);
            assert.deepEqual(streamed.scaleBytes, js.scaleBytes, `scales ${what}`);
            assert.deepEqual(streamed.zeroPoints, js.zeroPoints, `zero points ${what}`);
            assert.equal(
              reads.reduce((a, b) => a + b, 0),
              K * N,
              `every value read once (${what})`,
            );
            if (simd) assert.ok(reads.length > 1 || K * N * 4 <= 1 << 19, `read in pieces (${what})`);
          }
        }
      }
    }
  });

  it('is undefined when a value, in any piece, is NaN or infinite', () => {
    const [K, N] = [256, 64];
    const o = { bits: 4 as const, blockSize: 32, symmetric: false, scaleType: 'float32' as const };
    for (const at of [0, K * N - 1, 100 * N + 3]) {
      for (const bad of [NaN, Infinity]) {
        const w = weights(K, N, 5, false);
        w[at] = bad;
        for (const layout of ['KN', 'NK'] as const) {
          for (const simd of [true, false]) {
            setSimdEnabled(simd);
            const q = quantizeBlockwise(rowsOf(w).rows, K, N, o, layout);
            setSimdEnabled(true);
            assert.equal(q, undefined, `${bad} at ${at}, ${layout}, ${simd ? 'SIMD' : 'JS'}`);
          }
        }
      }
    }
  });
});

describe('allFiniteInKernels', () => {
  it("finds a NaN or an infinity anywhere in values in the kernels' memory, as allFinite does", () => {
    for (const n of [1, 4, 5, 63]) {
      const values = new Float32Array(quantizeKernels.exports()!.memory.buffer, 0, n);
      for (const bad of [NaN, Infinity, -Infinity]) {
        for (const at of [0, n - 1, Math.floor(n / 2)]) {
          values.fill(-0.5);
          values[0] = 3e38;
          assert.equal(allFiniteInKernels(values), true, `${n} finite values`);
          values[at] = bad;
          assert.equal(allFiniteInKernels(values), false, `${bad} at ${at} of ${n}`);
        }
      }
    }
    assert.equal(allFiniteInKernels(new Float32Array(4)), undefined, 'an array elsewhere is not checked');
  });
});

describe('zero points halfway between two codes', () => {
  after(() => setSimdEnabled(true));

  it('round away from zero (roundf) in both layouts and on both paths, four blocks at a time or one', () => {
    // Column n holds -h and 15 - h with h = 0.5, 1.5, …: scale 1, zero point h exactly, which rounds up.
    const N = 7;
    const K = 32;
    const w = new Float32Array(K * N);
    for (let n = 0; n < N; n++) {
      const h = n + 0.5;
      for (let k = 0; k < K; k++) w[k * N + n] = k === 3 ? -h : k === 9 ? 15 - h : 0.25;
    }
    const o = { bits: 4 as const, blockSize: 32, symmetric: false, scaleType: 'float32' as const };
    const expected = Array.from({ length: N }, (_, n) => n + 1);
    const nk = new Float32Array(K * N);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) nk[n * K + k] = w[k * N + n];
    for (const [layout, values] of [
      ['KN', w],
      ['NK', nk],
    ] as const) {
      for (const simd of [true, false]) {
        setSimdEnabled(simd);
        const q = quantizeBlockwise(values, K, N, o, layout);
        setSimdEnabled(true);
        const zps = Array.from(q.zeroPoints!, (byte) => byte & 15);
        assert.deepEqual(zps, expected, `${layout} ${simd ? 'SIMD' : 'JS'}`);
        assert.deepEqual(Array.from(q.scales), new Array(N).fill(1));
      }
    }
  });
});
