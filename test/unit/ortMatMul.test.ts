// The solvers' products in ONNX Runtime (runtime/ortMatMul.ts) against plain loops: the same numbers to
// float64 rounding, operands that are views into larger arrays included, and a GPTQ layer solved with
// either MatMul keeps the same codes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quantizeDataAware } from '../../src/core/quant/dataAwareQuantize';
import { accumulateGram, symmetrize } from '../../src/core/quant/gramMatrix';
import { jsMatMul } from '../../src/core/quant/matMul';
import type { BlockwiseOptions } from '../../src/core/quant/quantizeBlockwise';
import { ortMatMul } from '../../src/runtime/ortMatMul';
import { normal, rng } from './tensorFixtures';

const random = rng(3);
const values = (n: number) => Float64Array.from({ length: n }, () => normal(random));

describe('ortMatMul', () => {
  const matMul = ortMatMul(1);

  it('multiplies like the textbook loop, views into larger arrays included', async () => {
    for (const [m, k, n] of [
      [1, 1, 1],
      [37, 300, 45],
      [130, 7, 260],
    ]) {
      const a = values(m * k + 11).subarray(5, 5 + m * k);
      const b = values(k * n + 3).subarray(3);
      const c = await matMul(a, b, m, k, n);
      assert.equal(c.length, m * n);
      let worst = 0;
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
          worst = Math.max(worst, Math.abs(c[i * n + j] - s) / (1 + Math.abs(s)));
        }
      assert.ok(worst < 1e-12, `[${m}, ${k}]·[${k}, ${n}]: off by ${worst}`);
      const js = await jsMatMul(a, b, m, k, n);
      assert.ok(js.every((v, i) => Math.abs(v - c[i]) <= 1e-12 * (1 + Math.abs(v))));
    }
  });

  it('a GPTQ layer solved with it keeps the codes and figures of the JavaScript products', async () => {
    const K = 300;
    const N = 40;
    const rows = 1500;
    const x = values(rows * K);
    const gram = new Float64Array(K * K);
    accumulateGram(gram, K, x, rows);
    symmetrize(gram, K);
    const w = Float32Array.from(values(K * N), (v) => v * 0.05);
    const o: BlockwiseOptions = { bits: 4, blockSize: 32, symmetric: false, scaleType: 'float32' };
    const solve = (mm = jsMatMul) =>
      quantizeDataAware(w, K, N, o, 'KN', 1, gram, 'gptq', undefined, rows, undefined, mm);
    const [ours, theirs] = [await solve(matMul), await solve()];
    assert.equal(ours.kept, 'gptq');
    assert.equal(ours.kept, theirs.kept);
    for (const f of ['signal', 'rtnError', 'error'] as const)
      assert.ok(Math.abs(ours[f] - theirs[f]) <= 1e-9 * theirs[f], `${f}: ${ours[f]} vs ${theirs[f]}`);
    let same = 0;
    for (let i = 0; i < ours.weight.b.length; i++) if (ours.weight.b[i] === theirs.weight.b[i]) same++;
    assert.ok(same >= 0.99 * ours.weight.b.length, `${same} of ${ours.weight.b.length} bytes agree`);
  });
});
