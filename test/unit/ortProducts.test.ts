// The solvers' products in ONNX Runtime (runtime/ortProducts.ts) against plain loops: the same numbers to
// float64 rounding, operands that are views into larger arrays included, and a GPTQ layer solved with
// either set of products keeps the same codes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quantizeDataAware } from '../../src/core/quant/dataAwareQuantize';
import { accumulateGram, symmetrize } from '../../src/core/quant/gramMatrix';
import { jsProducts } from '../../src/core/quant/products';
import type { BlockwiseOptions } from '../../src/core/quant/quantizeBlockwise';
import { ortProducts } from '../../src/runtime/ortProducts';
import { normal, rng } from './tensorFixtures';

const random = rng(3);
const values = (n: number) => Float64Array.from({ length: n }, () => normal(random));
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * (1 + Math.abs(b));

describe('ortProducts', () => {
  const ort = ortProducts(1);

  it('matMul multiplies like the textbook loop, views into larger arrays included', async () => {
    for (const [m, k, n] of [
      [1, 1, 1],
      [37, 300, 45],
      [130, 7, 260],
    ]) {
      const a = values(m * k + 11).subarray(5, 5 + m * k);
      const b = values(k * n + 3).subarray(3);
      const c = await ort.matMul(a, b, m, k, n);
      assert.equal(c.length, m * n);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
          assert.ok(
            close(c[i * n + j], s),
            `[${m}, ${k}]·[${k}, ${n}] at ${i}, ${j}: ${c[i * n + j]} vs ${s}`,
          );
        }
      const js = await jsProducts.matMul(a, b, m, k, n);
      assert.ok(js.every((v, i) => close(c[i], v)));
    }
  });

  it('quadraticForms gives each row’s eᵀHe', async () => {
    for (const [m, k] of [
      [1, 1],
      [50, 32],
      [7, 300],
    ]) {
      const e = values(m * k + 2).subarray(2);
      const h = values(k * k);
      for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) h[j * k + i] = h[i * k + j];
      const q = await ort.quadraticForms(e, h, m, k);
      assert.equal(q.length, m);
      const js = await jsProducts.quadraticForms(e, h, m, k);
      for (let i = 0; i < m; i++) {
        let s = 0;
        for (let a = 0; a < k; a++)
          for (let b = 0; b < k; b++) s += e[i * k + a] * h[a * k + b] * e[i * k + b];
        assert.ok(
          Math.abs(q[i] - s) <= 1e-10 * (1 + Math.abs(s)),
          `row ${i} of [${m}, ${k}]: ${q[i]} vs ${s}`,
        );
        assert.ok(Math.abs(js[i] - s) <= 1e-10 * (1 + Math.abs(s)), `js row ${i}: ${js[i]} vs ${s}`);
      }
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
    const solve = (products = jsProducts) =>
      quantizeDataAware(w, K, N, o, 'KN', 1, gram, 'gptq', undefined, rows, undefined, products);
    const [ours, theirs] = [await solve(ort), await solve()];
    assert.equal(ours.kept, 'gptq');
    assert.equal(ours.kept, theirs.kept);
    for (const f of ['signal', 'rtnError', 'error'] as const)
      assert.ok(Math.abs(ours[f] - theirs[f]) <= 1e-9 * theirs[f], `${f}: ${ours[f]} vs ${theirs[f]}`);
    let same = 0;
    for (let i = 0; i < ours.weight.b.length; i++) if (ours.weight.b[i] === theirs.weight.b[i]) same++;
    assert.ok(same >= 0.99 * ours.weight.b.length, `${same} of ${ours.weight.b.length} bytes agree`);
  });
});
