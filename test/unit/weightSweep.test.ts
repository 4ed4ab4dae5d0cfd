import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quantizeBlockwise, sqnrDb } from '../../src/core/quant/quantizeBlockwise';
import { SWEEP_SPARSITY } from '../../src/core/sensitivity/sweepPoints';
import { sparsitySqnr, weightSweep } from '../../src/core/sensitivity/weightSweep';
import { normal, rng } from './tensorFixtures';

function gaussian(count: number, seed: number, sigma = 0.02): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: count }, () => normal(r) * sigma);
}

const db = (signal: number, error: number) => Math.round(10 * Math.log10(signal / error) * 1000) / 1000;

describe('weightSweep: blockwise round-to-nearest', () => {
  it('a hand-checked block: 0..15 is exact at 4 bits; at 2 bits scale 5 leaves errors 0,1,2,2,1 per period', () => {
    const w = Float32Array.from({ length: 16 }, (_, i) => i);
    const s = weightSweep(w, 16, 1, { blockSize: 16 });
    assert.equal(s.bits[4], Infinity);
    // Σv² = 1240; codes round(v/5)*5 miss by 0,1,2,2,1 (squares 10) three times, 15 is exact: Σe² = 30.
    assert.equal(s.bits[2], db(1240, 30));
    // 3 bits: scale 15/7; still lossy, better than 2 bits.
    assert.ok(s.bits[3] > s.bits[2] && Number.isFinite(s.bits[3]), `${s.bits[3]}`);
  });

  it('Gaussian weights: 8-bit SQNR exceeds 4-bit by ~24 dB (6 dB a bit), 3 bits sit ~6.6 dB under 4', () => {
    const w = gaussian(256 * 64, 11);
    const s = weightSweep(w, 256, 64);
    const gain = s.bits[8] - s.bits[4];
    assert.ok(Math.abs(gain - 24) <= 3, `8-bit minus 4-bit = ${gain} dB`);
    // 15 vs 7 levels: 20·log10(15/7) = 6.6 dB.
    const step = s.bits[4] - s.bits[3];
    assert.ok(step > 4.5 && step < 8.5, `4-bit minus 3-bit = ${step} dB`);
    assert.ok(s.bits[2] < s.bits[3] && s.bits[3] < s.bits[4] && s.bits[4] < s.bits[8]);
  });

  for (const c of [
    { name: 'MatMul [K, N], K a multiple of the block', K: 128, N: 24, layout: 'KN' as const, alpha: 1 },
    { name: 'MatMul [K, N], K=100 (padded last block)', K: 100, N: 24, layout: 'KN' as const, alpha: 1 },
    { name: 'Gemm transB=1 [N, K] with alpha 0.5', K: 100, N: 24, layout: 'NK' as const, alpha: 0.5 },
  ]) {
    for (const scaleType of ['float32', 'float16'] as const) {
      it(`2/4/8 bits equal quantizeBlockwise's weight SQNR: ${c.name}, ${scaleType} scales`, () => {
        const w = gaussian(c.K * c.N, 5 + c.K, 0.3);
        const s = weightSweep(w, c.K, c.N, { layout: c.layout, alpha: c.alpha, scaleType });
        for (const bits of [2, 4, 8] as const) {
          const q = quantizeBlockwise(
            w,
            c.K,
            c.N,
            { bits, blockSize: 32, symmetric: false, scaleType },
            c.layout,
            c.alpha,
          );
          const expected = Math.round(sqnrDb(q.signalEnergy, q.errorEnergy) * 1000) / 1000;
          assert.ok(
            Math.abs(s.bits[bits] - expected) <= 0.001,
            `${bits} bits: ${s.bits[bits]} vs ${expected}`,
          );
        }
      });
    }
  }

  it('a block size of 128 quantizes worse than 32 (wider ranges per scale)', () => {
    const w = gaussian(256 * 16, 3);
    assert.ok(weightSweep(w, 256, 16, { blockSize: 128 }).bits[4] < weightSweep(w, 256, 16).bits[4]);
  });
});

describe('weightSweep: magnitude sparsity', () => {
  it('hand-checked: |-1|,2,|-3|,4 prunes 1, then 1+4, then 1+4+9 of Σ=30', () => {
    const s = sparsitySqnr(Float32Array.from([4, -1, 2, -3]));
    assert.deepEqual(s, { 25: db(30, 1), 50: db(30, 5), 75: db(30, 14) });
  });

  it('ties at the threshold: any of the equal magnitudes costs the same', () => {
    // 8 values, 25% = 2 pruned among the four ±1s: error 2.
    const s = sparsitySqnr(Float32Array.from([1, -1, 1, -1, 3, 3, 3, 3]));
    assert.equal(s[25], db(40, 2));
    assert.equal(s[50], db(40, 4));
    assert.equal(s[75], db(40, 4 + 18));
  });

  it('matches a sort-based brute force on 100k Gaussian values and is monotone', () => {
    const w = gaussian(100_003, 9);
    const s = sparsitySqnr(w);
    const sq = Array.from(w, (v) => v * v).sort((a, b) => a - b);
    const total = sq.reduce((a, b) => a + b, 0);
    for (const p of SWEEP_SPARSITY) {
      const k = Math.round((p / 100) * w.length);
      const pruned = sq.slice(0, k).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(s[p] - db(total, pruned)) <= 0.002, `${p}%: ${s[p]} vs ${db(total, pruned)}`);
    }
    assert.ok(s[25] > s[50] && s[50] > s[75], JSON.stringify(s));
    // Gaussian: zeroing the smallest quarter removes ~1.1% of the energy (~19.5 dB).
    assert.ok(s[25] > 17 && s[25] < 22, `${s[25]}`);
  });

  it('weightSweep carries the sparsity columns and rejects a wrong shape', () => {
    const w = gaussian(64 * 8, 2);
    assert.deepEqual(weightSweep(w, 64, 8).sparsity, sparsitySqnr(w));
    assert.throws(() => weightSweep(w, 64, 9), RangeError);
  });
});
