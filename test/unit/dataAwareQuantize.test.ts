import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { dequantizeBlockCodes, packBlockCodes, weightColumns } from '../../src/core/quant/blockCodes';
import { quantizeDataAware } from '../../src/core/quant/dataAwareQuantize';
import { GPTQ_DAMP, gptqFactor, gptqQuantize } from '../../src/core/quant/gptqQuantize';
import { accumulateGram, gramError, symmetrize } from '../../src/core/quant/gramMatrix';
import { dot } from '../../src/core/quant/products';
import { type BlockwiseOptions, quantizeBlockwise } from '../../src/core/quant/quantizeBlockwise';
import { searchQuantize } from '../../src/core/quant/searchQuantize';
import { normal, rng } from './tensorFixtures';

const ASYM: BlockwiseOptions = { bits: 4, blockSize: 16, symmetric: false, scaleType: 'float32' };
const CASES: { name: string; o: BlockwiseOptions; layout: 'KN' | 'NK'; K: number; alpha: number }[] = [
  { name: 'asymmetric KN', o: ASYM, layout: 'KN', K: 48, alpha: 1 },
  { name: 'symmetric NK, padded K', o: { ...ASYM, symmetric: true }, layout: 'NK', K: 40, alpha: 0.5 },
  {
    name: 'fp16 scales, block 32',
    o: { ...ASYM, blockSize: 32, scaleType: 'float16' },
    layout: 'KN',
    K: 70,
    alpha: 1,
  },
  { name: '2-bit', o: { ...ASYM, bits: 2 }, layout: 'NK', K: 32, alpha: 1 },
  { name: '8-bit', o: { ...ASYM, bits: 8 }, layout: 'KN', K: 32, alpha: 1 },
];

/** Heavy-ish tailed weights (a few outliers per column: where clipping pays). */
function weights(K: number, N: number, seed: number): Float32Array {
  const random = rng(seed);
  return Float32Array.from({ length: K * N }, () => {
    const v = normal(random) * 0.05;
    return random() < 0.03 ? v * 6 : v;
  });
}

/**
 * Activations with correlated features (x = z·M for a random mixing M, plus a per-feature scale that
 * varies a lot), as real layers see them; returns their Gram matrix XᵀX.
 */
function correlatedGram(K: number, rows: number, seed: number): Float64Array {
  const random = rng(seed);
  const mix = Float64Array.from({ length: K * K }, () => normal(random) / Math.sqrt(K));
  for (let i = 0; i < K; i++) mix[i * K + i] += 1;
  const scale = Float64Array.from({ length: K }, () => Math.exp(normal(random)));
  const x = new Float64Array(rows * K);
  for (let r = 0; r < rows; r++) {
    const z = Float64Array.from({ length: K }, () => normal(random));
    for (let j = 0; j < K; j++) {
      let s = 0;
      for (let i = 0; i < K; i++) s += z[i] * mix[i * K + j];
      x[r * K + j] = s * scale[j];
    }
  }
  const gram = new Float64Array(K * K);
  accumulateGram(gram, K, x, rows);
  symmetrize(gram, K);
  return gram;
}

function identity(K: number): Float64Array {
  const g = new Float64Array(K * K);
  for (let i = 0; i < K; i++) g[i * K + i] = 1;
  return g;
}

/** Σ over blocks of eᵀ H_bb e: the objective the clipping search minimizes. */
function blockObjective(
  gram: Float64Array,
  K: number,
  N: number,
  bs: number,
  w: Float64Array,
  q: Float64Array,
) {
  const e = new Float64Array(K);
  let total = 0;
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) e[k] = w[n * K + k] - q[n * K + k];
    for (let k0 = 0; k0 < K; k0 += bs)
      for (let i = k0; i < Math.min(K, k0 + bs); i++)
        total += e[i] * (2 * dot(gram, i * K + k0, e, k0, i - k0) + gram[i * K + i] * e[i]);
  }
  return total;
}

describe('data-aware 4-bit quantization (core)', () => {
  it('accumulates XᵀX exactly', async () => {
    const x = [1, 2, 3, -1, 0, 4];
    const g = new Float64Array(9);
    accumulateGram(g, 3, x, 2);
    symmetrize(g, 3);
    assert.deepEqual([...g], [2, 2, -1, 2, 4, 6, -1, 6, 25]);
  });

  for (const c of CASES) {
    const N = 6;
    const w = weights(c.K, N, 11);
    it(`the search with ratio 1 alone is round-to-nearest, byte for byte (${c.name})`, async () => {
      const gram = correlatedGram(c.K, 64, 3);
      const rtn = quantizeBlockwise(w, c.K, N, c.o, c.layout, c.alpha);
      const cols = weightColumns(w, c.K, N, c.layout, c.alpha);
      const ours = packBlockCodes(await searchQuantize(cols, c.K, N, gram, c.o, [1]), cols);
      assert.deepEqual(ours.b, rtn.b);
      assert.deepEqual(ours.scaleBytes, rtn.scaleBytes);
      assert.deepEqual(ours.zeroPoints, rtn.zeroPoints);
    });

    it(`GPTQ with H = I is round-to-nearest without clipping, the clipping search with it (${c.name})`, async () => {
      const rtn = quantizeBlockwise(w, c.K, N, c.o, c.layout, c.alpha);
      const cols = weightColumns(w, c.K, N, c.layout, c.alpha);
      const I = identity(c.K);
      const plain = packBlockCodes(
        await gptqQuantize(Float64Array.from(cols), c.K, N, I, c.o, undefined, false),
        cols,
      );
      assert.deepEqual(plain.b, rtn.b);
      assert.deepEqual(plain.scaleBytes, rtn.scaleBytes);
      assert.deepEqual(plain.zeroPoints, rtn.zeroPoints);
      const clipped = packBlockCodes(await gptqQuantize(Float64Array.from(cols), c.K, N, I, c.o), cols);
      const search = packBlockCodes(await searchQuantize(cols, c.K, N, I, c.o), cols);
      assert.deepEqual(clipped.b, search.b);
      assert.deepEqual(clipped.scaleBytes, search.scaleBytes);
      assert.deepEqual(clipped.zeroPoints, search.zeroPoints);
      // At 8 bits clipping never pays on these weights; at 4 and 2 it does somewhere.
      if (c.o.bits < 8) assert.notDeepEqual(clipped.scaleBytes, rtn.scaleBytes);
    });

    it(`search and GPTQ codes stay in range and pack losslessly (${c.name})`, async () => {
      const gram = correlatedGram(c.K, 64, 5);
      const cols = weightColumns(w, c.K, N, c.layout, c.alpha);
      const qMax = (1 << c.o.bits) - 1;
      for (const bc of [
        await searchQuantize(cols, c.K, N, gram, c.o),
        await gptqQuantize(Float64Array.from(cols), c.K, N, gram, c.o),
      ]) {
        assert.ok(bc.codes.every((q) => q <= qMax));
        assert.ok(bc.zps.every((z) => z <= qMax));
        const packed = packBlockCodes(bc, cols);
        // Unpack B by hand: every code comes back, so no code spilled into its neighbour's bits.
        const blob = (c.o.blockSize * c.o.bits) / 8;
        assert.equal(packed.b.length, N * bc.kBlocks * blob);
        for (let i = 0; i < bc.codes.length; i++) {
          const bit = i * c.o.bits;
          assert.equal((packed.b[bit >>> 3] >> (bit & 7)) & qMax, bc.codes[i]);
        }
      }
    });
  }

  it('the clipping search is never worse than round-to-nearest on its objective, and better here', async () => {
    const K = 64;
    const N = 16;
    const w = weights(K, N, 21);
    const gram = correlatedGram(K, 128, 9);
    for (const o of [ASYM, { ...ASYM, symmetric: true }]) {
      const cols = weightColumns(w, K, N, 'KN');
      const rtn = dequantizeBlockCodes(await searchQuantize(cols, K, N, gram, o, [1]));
      const found = dequantizeBlockCodes(await searchQuantize(cols, K, N, gram, o));
      const a = blockObjective(gram, K, N, o.blockSize, cols, rtn);
      const b = blockObjective(gram, K, N, o.blockSize, cols, found);
      assert.ok(b <= a, `search ${b} > RTN ${a}`);
      assert.ok(b < 0.95 * a, `search ${b} gains under 5% on RTN ${a}`);
    }
  });

  it('GPTQ beats round-to-nearest on ‖X(W−Q)‖ with correlated activations', async () => {
    const K = 96;
    const N = 24;
    const w = weights(K, N, 31);
    const gram = correlatedGram(K, 256, 13);
    const cols = weightColumns(w, K, N, 'KN');
    const rtn = await gramError(
      gram,
      K,
      N,
      cols,
      dequantizeBlockCodes(await searchQuantize(cols, K, N, gram, ASYM, [1])),
    );
    const gptq = await gramError(
      gram,
      K,
      N,
      cols,
      dequantizeBlockCodes(await gptqQuantize(Float64Array.from(cols), K, N, gram, ASYM)),
    );
    assert.ok(gptq < 0.8 * rtn, `GPTQ ${gptq} vs RTN ${rtn}`);
  });

  it('the layer keeps the better codes and says which, with its output error figures', async () => {
    const K = 64;
    const N = 8;
    const w = weights(K, N, 41);
    const gram = correlatedGram(K, 128, 17);
    const gptq = await quantizeDataAware(w, K, N, ASYM, 'KN', 1, gram, 'gptq');
    assert.equal(gptq.kept, 'gptq');
    assert.ok(gptq.error < gptq.rtnError && gptq.rtnError < gptq.signal);
    const rtn = await quantizeDataAware(w, K, N, ASYM, 'KN', 1, gram, 'rtn');
    assert.equal(rtn.kept, 'rtn');
    assert.equal(rtn.error, rtn.rtnError);
    assert.deepEqual(rtn.weight.b, quantizeBlockwise(w, K, N, ASYM).b);
  });
});

describe('GPTQ (without clipping) against an independent numpy implementation (test/oracle/gptq_oracle.py)', () => {
  const ORACLE = path.resolve(__dirname, '..', '..', '..', 'test', 'oracle', 'gptq_oracle.py');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-gptq-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  // K = 320 takes two whole GPTQ_BATCH batches of rows and a partial one: the lazy-batch updates and the
  // blocked factor are compared too.
  for (const [o, K] of [
    [ASYM, 64],
    [{ ...ASYM, symmetric: true, blockSize: 32 }, 64],
    [ASYM, 320],
  ] as const) {
    const what = `${o.symmetric ? 'symmetric, block 32' : 'asymmetric, block 16'}, K = ${K}`;
    it(`chooses the same codes (${what})`, async () => {
      const N = 12;
      const w = weights(K, N, 51);
      const gram = correlatedGram(K, 256, 23);
      const ours = await gptqQuantize(weightColumns(w, K, N, 'KN'), K, N, gram, o, undefined, false);
      const [wf, hf, out] = ['w.f32', 'h.f64', `codes${o.blockSize}.u8`].map((f) => path.join(tmp, f));
      fs.writeFileSync(wf, new Uint8Array(w.buffer));
      fs.writeFileSync(hf, new Uint8Array(gram.buffer));
      const args = [ORACLE, wf, hf, K, N, o.bits, o.blockSize, o.symmetric ? 1 : 0, out].map(String);
      execFileSync('/usr/bin/python3', args);
      const theirs = new Uint8Array(fs.readFileSync(out));
      assert.equal(theirs.length, N * K);
      // Float64 sums in another order may flip a code sitting on a rounding boundary, and the flip then
      // propagates a little: all but a handful must agree.
      let same = 0;
      const row = ours.kBlocks * o.blockSize;
      for (let n = 0; n < N; n++)
        for (let k = 0; k < K; k++) if (ours.codes[n * row + k] === theirs[n * K + k]) same++;
      assert.ok(same >= 0.99 * N * K, `${same} of ${N * K} codes agree`);
    });
  }
});

describe('gptqFactor', () => {
  it('is the upper Cholesky factor of the damped inverse: UᵀU (H + λI) = I, zeros below the diagonal', async () => {
    const random = rng(7);
    for (const [K, rows] of [
      [7, 40],
      [48, 200],
      [48, 10], // rank-deficient: the damping alone makes it invertible
      [300, 1200], // three GPTQ_BATCH blocks, the last partial
      [300, 100],
    ]) {
      const x = Float32Array.from({ length: rows * K }, () => normal(random));
      const gram = new Float64Array(K * K);
      accumulateGram(gram, K, x, rows);
      symmetrize(gram, K);
      const u = await gptqFactor(gram, K);
      let trace = 0;
      for (let i = 0; i < K; i++) trace += gram[i * K + i];
      const h = Float64Array.from(gram);
      for (let i = 0; i < K; i++) h[i * K + i] += (GPTQ_DAMP * trace) / K;
      // UH[a][j] = Σ_b U[a][b] H[b][j], then (UᵀU H)[i][j] = Σ_a U[a][i] UH[a][j].
      const uh = new Float64Array(K * K);
      for (let a = 0; a < K; a++)
        for (let b = 0; b < K; b++) for (let j = 0; j < K; j++) uh[a * K + j] += u[a * K + b] * h[b * K + j];
      let worst = 0;
      for (let i = 0; i < K; i++) {
        for (let j = 0; j < i; j++) assert.equal(u[i * K + j], 0, `U[${i}][${j}]`);
        assert.ok(u[i * K + i] > 0);
        for (let j = 0; j < K; j++) {
          let s = 0;
          for (let a = 0; a < K; a++) s += u[a * K + i] * uh[a * K + j];
          worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
        }
      }
      assert.ok(worst < 1e-9, `K=${K}, ${rows} rows: |UᵀU H − I| = ${worst}`);
    }
  });
});
