import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  magnitudeColumns,
  pruneDataAware,
  type PruneRule,
  sparseGptColumns,
  wandaColumns,
} from '../../src/core/prune/dataAwarePrune';
import { weightColumns } from '../../src/core/quant/blockCodes';
import { accumulateGram, gramError, symmetrize } from '../../src/core/quant/gramMatrix';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ORACLE = path.join(REPO, 'test', 'oracle', 'prune_oracle.py');

interface Oracle {
  W: number[];
  X: number[];
  wandaKeep: number[];
  sparsegpt: number[];
  sparsegptKeep: number[];
}

/** The numpy oracle's weight [K, N], activations [rows, K], Wanda mask and SparseGPT result. */
function oracle(K: number, N: number, rows: number, seed: number, rule: string): Oracle {
  const out = execFileSync(
    '/usr/bin/python3',
    [ORACLE, String(K), String(N), String(rows), String(seed), rule],
    {
      maxBuffer: 256 << 20,
    },
  );
  return JSON.parse(out.toString()) as Oracle;
}

function gramOf(x: Float32Array, K: number, rows: number): Float64Array {
  const gram = new Float64Array(K * K);
  accumulateGram(gram, K, x, rows);
  symmetrize(gram, K);
  return gram;
}

/** [N, K] (one row per output unit) → [K, N]. */
function toKN(columns: ArrayLike<number>, K: number, N: number): number[] {
  const out = new Array<number>(K * N);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[k * N + n] = columns[n * K + k];
  return out;
}

/** Deterministic uniform numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const RULES: { rule: string; parsed: PruneRule }[] = [
  { rule: '0.5', parsed: { sparsity: 0.5 } },
  { rule: '0.3', parsed: { sparsity: 0.3 } },
  { rule: '2:4', parsed: { sparsity: 0.5, n: 2, m: 4 } },
];

describe('Wanda (numpy oracle)', () => {
  for (const { rule, parsed } of RULES) {
    it(`mask per output unit by |w|·‖x‖ at ${rule}, K=70 N=9`, async () => {
      const K = 70;
      const N = 9;
      const rows = 40;
      const o = oracle(K, N, rows, 7, rule);
      const w = Float32Array.from(o.W);
      const gram = gramOf(Float32Array.from(o.X), K, rows);
      const { keep, columns } = wandaColumns(weightColumns(w, K, N, 'KN'), K, N, gram, parsed);
      assert.deepEqual(toKN(keep, K, N), o.wandaKeep);
      // Pruned weights are exactly 0, kept ones unchanged.
      toKN(columns, K, N).forEach((v, i) => assert.equal(v, o.wandaKeep[i] ? w[i] : 0));
      // It is not magnitude's mask: the activations moved it.
      const magnitude = toKN(magnitudeColumns(weightColumns(w, K, N, 'KN'), K, N, parsed), K, N);
      assert.ok(magnitude.some((v, i) => (v !== 0) !== (o.wandaKeep[i] === 1)));
    });
  }

  it('a transposed (Gemm transB=1) weight gets the same mask, in its own layout', async () => {
    const K = 40;
    const N = 6;
    const o = oracle(K, N, 30, 3, '0.5');
    const kn = Float32Array.from(o.W);
    const nk = new Float32Array(K * N);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) nk[n * K + k] = kn[k * N + n];
    const gram = gramOf(Float32Array.from(o.X), K, 30);
    const a = await pruneDataAware('wanda', kn, K, N, 'KN', gram, { sparsity: 0.5 });
    const b = await pruneDataAware('wanda', nk, K, N, 'NK', gram, { sparsity: 0.5 });
    assert.equal(a.group, b.group);
    for (let k = 0; k < K; k++)
      for (let n = 0; n < N; n++) assert.equal(a.keep[k * N + n], b.keep[n * K + k]);
    assert.equal(a.error, b.error);
  });

  it('unstructured: keeps the comparison group (per unit or per layer) with the lower layer error', async () => {
    const K = 64;
    const N = 16;
    const o = oracle(K, N, 50, 11, '0.5');
    const w = Float32Array.from(o.W);
    const gram = gramOf(Float32Array.from(o.X), K, 50);
    const cols = weightColumns(w, K, N, 'KN');
    const errors = await Promise.all(
      (['unit', 'layer'] as const).map((g) =>
        gramError(gram, K, N, cols, wandaColumns(cols, K, N, gram, { sparsity: 0.5 }, g).columns),
      ),
    );
    const layer = await pruneDataAware('wanda', w, K, N, 'KN', gram, { sparsity: 0.5 });
    assert.equal(layer.group, errors[0] <= errors[1] ? 'unit' : 'layer');
    assert.ok(Math.abs(layer.error - Math.min(...errors)) <= 1e-9 * layer.signal);
    assert.equal(
      layer.keep.reduce((s, v) => s + v, 0),
      (K * N) / 2,
    );
  });
});

describe('SparseGPT', () => {
  for (const { rule, parsed } of RULES) {
    it(`Algorithm 1 as the numpy oracle at ${rule} (K=150 crosses a 128 block)`, async () => {
      const K = 150;
      const N = 5;
      const rows = 700;
      const o = oracle(K, N, rows, 5, rule);
      const gram = gramOf(Float32Array.from(o.X), K, rows);
      const { columns, keep } = await sparseGptColumns(
        weightColumns(Float32Array.from(o.W), K, N, 'KN'),
        K,
        N,
        gram,
        parsed,
      );
      assert.deepEqual(toKN(keep, K, N), o.sparsegptKeep);
      const got = toKN(columns, K, N);
      let worst = 0;
      got.forEach((v, i) => {
        if (o.sparsegptKeep[i] === 0) assert.equal(v, 0);
        worst = Math.max(worst, Math.abs(v - o.sparsegpt[i]) / (Math.abs(o.sparsegpt[i]) + 1e-3));
      });
      assert.ok(worst < 1e-6, `largest relative difference from the oracle ${worst}`);
    });
  }

  /**
   * A layer with a known Hessian H = XᵀX (correlated, unequal channels): SparseGPT's reconstruction error
   * tr((W−Ŵ)ᵀH(W−Ŵ)) must be at most magnitude's and Wanda's at the same sparsity, with the exact count
   * of zeros per output unit and, at 2:4, the pattern in every group.
   */
  for (const { rule, parsed } of RULES) {
    it(`reconstructs the layer better than magnitude and Wanda at ${rule}`, async () => {
      const K = 96;
      const N = 24;
      const rows = 600;
      const rand = random(42);
      const scale = Array.from({ length: K }, () => Math.exp(normal(rand)));
      const x = new Float32Array(rows * K);
      for (let r = 0; r < rows; r++) {
        const shared = normal(rand);
        for (let k = 0; k < K; k++) x[r * K + k] = (normal(rand) + 0.6 * shared) * scale[k];
      }
      const w = Float32Array.from({ length: K * N }, () => normal(rand));
      const gram = gramOf(x, K, rows);
      const layer = await pruneDataAware('sparsegpt', w, K, N, 'KN', gram, parsed);
      assert.equal(layer.method, 'sparsegpt');
      const cols = weightColumns(w, K, N, 'KN');
      const wanda = await gramError(gram, K, N, cols, wandaColumns(cols, K, N, gram, parsed).columns);
      const magnitude = await gramError(gram, K, N, cols, magnitudeColumns(cols, K, N, parsed));
      assert.equal(layer.magnitudeError, magnitude);
      assert.ok(layer.error <= magnitude, `sparsegpt ${layer.error} > magnitude ${magnitude}`);
      assert.ok(layer.error <= wanda, `sparsegpt ${layer.error} > wanda ${wanda}`);
      // Clearly better, not a tie: at least 1 dB under magnitude's error.
      assert.ok(10 * Math.log10(magnitude / layer.error) > 1, `${magnitude} vs ${layer.error}`);
      for (let n = 0; n < N; n++) {
        let zeros = 0;
        for (let k = 0; k < K; k++) if (layer.values[k * N + n] === 0) zeros++;
        assert.equal(zeros, Math.round(parsed.sparsity * K), `unit ${n}`);
        if (parsed.n !== undefined)
          for (let g = 0; g < K; g += 4) {
            let kept = 0;
            for (let k = g; k < g + 4; k++) kept += layer.keep[k * N + n];
            assert.equal(kept, 2, `unit ${n}, group ${g}`);
          }
      }
      layer.keep.forEach((kept, i) => assert.equal(kept === 0, layer.values[i] === 0));
    });
  }

  it('with fewer than 4·K calibration rows it is Wanda; held out, a loss to magnitude falls back', async () => {
    const K = 32;
    const N = 8;
    const o = oracle(K, N, 60, 9, '0.5');
    const w = Float32Array.from(o.W);
    const gram = gramOf(Float32Array.from(o.X), K, 60);
    const few = await pruneDataAware('sparsegpt', w, K, N, 'KN', gram, { sparsity: 0.5 }, undefined, 60);
    assert.equal(few.method, 'wanda');
    assert.match(few.fallback!, /sparsegpt needs 4·K = 128 calibration rows, had 60: wanda/);
    // Held-out activations on which only channel j is alive, j where Wanda pruned more energy than magnitude.
    const chosen = await pruneDataAware('wanda', w, K, N, 'KN', gram, { sparsity: 0.5 });
    const magnitude = magnitudeColumns(weightColumns(w, K, N, 'KN'), K, N, { sparsity: 0.5 });
    const lostEnergy = (k: number) => {
      let wanda = 0;
      let mag = 0;
      for (let n = 0; n < N; n++) {
        if (!chosen.keep[k * N + n]) wanda += w[k * N + n] ** 2;
        if (magnitude[n * K + k] === 0) mag += w[k * N + n] ** 2;
      }
      return wanda - mag;
    };
    const j = Array.from({ length: K }, (_, k) => k).find((k) => lostEnergy(k) > 0)!;
    assert.ok(j !== undefined);
    const heldOut = new Float64Array(K * K);
    heldOut[j * K + j] = 1;
    const judgedOn = (held: Float64Array) =>
      pruneDataAware('wanda', w, K, N, 'KN', gram, { sparsity: 0.5 }, undefined, Infinity, held);
    const judged = await judgedOn(heldOut);
    assert.ok(judged.heldOutError! > judged.heldOutMagnitudeError!);
    assert.equal(judged.method, 'magnitude');
    assert.match(
      judged.fallback!,
      /wanda lost to magnitude on held-out activations by [0-9.]+ dB: magnitude/,
    );
    const same = await judgedOn(gram);
    assert.equal(same.method, 'wanda', 'on its own calibration rows wanda beats magnitude here');
  });
});
