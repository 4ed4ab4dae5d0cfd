import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { weightColumns } from '../../src/core/quant/blockCodes';
import { quantizeDataAware } from '../../src/core/quant/dataAwareQuantize';
import { gptqQuantize } from '../../src/core/quant/gptqQuantize';
import { accumulateGram, symmetrize } from '../../src/core/quant/gramMatrix';
import type { BlockwiseOptions } from '../../src/core/quant/quantizeBlockwise';
import { searchQuantize } from '../../src/core/quant/searchQuantize';
import { rng } from './tensorFixtures';

// The byte-level classifier of dataFixtures.byteClassifier: OneHot(257) → mean over the bytes → Gemm
// W [257, 4]. A row of activations is the byte histogram of one file; input channel k is byte value k.
const K = 257;
const N = 4;
const W = new Float32Array(K * N);
for (let k = 0; k < K; k++)
  for (let c = 0; c < N; c++) W[k * N + c] = Math.sin(k * 0.37 + c * 1.3) * (1 + (k % 5) * 0.3);
const OPTIONS: BlockwiseOptions = { bits: 4, blockSize: 32, symmetric: false, scaleType: 'float32' };

/** Gram matrix of `rows` byte histograms of files of 64 bytes drawn from [lo, hi). */
function histogramGram(rows: number, lo: number, hi: number, seed: number): Float64Array {
  const r = rng(seed);
  const gram = new Float64Array(K * K);
  const x = new Float64Array(K);
  for (let i = 0; i < rows; i++) {
    x.fill(0);
    for (let b = 0; b < 64; b++) x[lo + Math.floor(r() * (hi - lo))] += 1 / 64;
    accumulateGram(gram, K, x, 1);
  }
  symmetrize(gram, K);
  return gram;
}

describe('data-aware 4-bit never loses to RTN because of unseen inputs (byte classifier)', () => {
  // Calibration covers bytes 0..63 and 100..140 only; evaluation files hold every byte.
  const calibration = histogramGram(1200, 0, 64, 1);
  const more = histogramGram(1200, 100, 141, 2);
  for (let i = 0; i < calibration.length; i++) calibration[i] += more[i];
  const heldOut = histogramGram(400, 0, 257, 3);
  const unseen = Array.from({ length: K }, (_, k) => !(calibration[k * K + k] > 0));
  const columns = weightColumns(W, K, N, 'KN', 1);

  it('unseen channels keep round-to-nearest codes under search and GPTQ', async () => {
    const rtn = await searchQuantize(columns, K, N, calibration, OPTIONS, [1]);
    assert.ok(unseen.filter(Boolean).length > 100, 'most byte values are unseen');
    const search = await searchQuantize(columns, K, N, calibration, OPTIONS);
    const gptq = await gptqQuantize(Float64Array.from(columns), K, N, calibration, OPTIONS);
    const row = rtn.kBlocks * OPTIONS.blockSize;
    let compared = 0;
    for (let n = 0; n < N; n++)
      for (let k = 0; k < K; k++) {
        if (!unseen[k]) continue;
        assert.equal(search.codes[n * row + k], rtn.codes[n * row + k], `search, channel ${k}`);
        assert.equal(gptq.codes[n * row + k], rtn.codes[n * row + k], `gptq, channel ${k}`);
        compared++;
      }
    assert.ok(compared > 400);
    // A block every channel of which was seen may still differ from RTN (the methods do something).
    let differ = 0;
    for (let i = 0; i < gptq.codes.length; i++) if (gptq.codes[i] !== rtn.codes[i]) differ++;
    assert.ok(differ > 0, 'GPTQ changed some seen channels');
  });

  for (const method of ['gptq', 'search'] as const) {
    it(`${method} is never worse than RTN on the held-out rows`, async () => {
      const layer = await quantizeDataAware(
        W,
        K,
        N,
        OPTIONS,
        'KN',
        1,
        calibration,
        method,
        undefined,
        2400,
        heldOut,
      );
      assert.ok(layer.error <= layer.rtnError, 'never worse on the calibration');
      if (layer.kept !== 'rtn') assert.ok(layer.heldOutError! <= layer.heldOutRtnError!);
      else if (layer.fallback) assert.ok(layer.heldOutError! > layer.heldOutRtnError!);
    });
  }

  it('falls back to RTN, saying so, when the method loses on the held-out rows', async () => {
    // Held-out rows that stress what the calibration fitted: the calibrated bytes only, in other mixes.
    const r = rng(9);
    const adversarial = new Float64Array(K * K);
    const x = new Float64Array(K);
    for (let i = 0; i < 200; i++) {
      x.fill(0);
      const k = Math.floor(r() * 64);
      x[k] = 1;
      x[(k + 1) % 64] = -1;
      accumulateGram(adversarial, K, x, 1);
    }
    symmetrize(adversarial, K);
    const layer = await quantizeDataAware(
      W,
      K,
      N,
      OPTIONS,
      'KN',
      1,
      calibration,
      'search',
      undefined,
      2400,
      adversarial,
    );
    assert.ok(layer.heldOutError !== undefined && layer.heldOutRtnError !== undefined);
    assert.equal(layer.fallback === 'rtn-heldout', layer.heldOutError > layer.heldOutRtnError);
    if (layer.fallback) assert.equal(layer.kept, 'rtn');
  });
});
