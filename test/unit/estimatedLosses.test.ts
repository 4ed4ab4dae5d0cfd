import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { matMulNBitsValues } from '../../src/core/quant/matMulNBitsValues';
import { DEFAULT_QUANTIZE_OPTIONS, matMulNBitsUses } from '../../src/core/quant/planQuantize';
import { type BlockwiseWeight, quantizeBlockwise } from '../../src/core/quant/quantizeBlockwise';
import { lossOfNoise, weightedNoise } from '../../src/core/quant/weightedNoise';
import type { ShrinkReport } from '../../src/core/shrink/shrinkReport';
import { valuesOf } from '../../src/core/tensor/valueStream';
import { openLossEstimator } from '../../src/runtime/estimateLayerLosses';
import { openModel } from '../../src/runtime/openModel';
import { verifyModels } from '../../src/runtime/verifyModels';
import { REPO_ROOT, testModel } from '../testModels';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const BERT = testModel('tiny_bert_random_inline.onnx');

/** A seeded weight with a few large values, like a trained one. */
function weight(K: number, N: number, seed: number): Float32Array {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return Float32Array.from({ length: K * N }, () => rand() * (rand() > 0.95 ? 4 : 1));
}

/** The dequantized [N, K] values through the MatMulNBits reader (an independent decoder). */
function dequantized(q: BlockwiseWeight, bits: number, blockSize: number) {
  const zp = q.zeroPoints ? { kind: 'packed' as const, bytes: q.zeroPoints } : undefined;
  const stream = matMulNBitsValues(valuesOf(Float32Array.from(q.b)), Float64Array.from(q.scales), zp, {
    K: q.K,
    N: q.N,
    bits,
    blockSize,
  });
  const out: number[] = [];
  for (const c of stream.chunks()) out.push(...c);
  return out;
}

describe('weightedNoise: a layer output error from its inputs’ energy per channel', () => {
  for (const [bits, layout, K] of [
    [4, 'KN', 72],
    [2, 'NK', 40],
    [8, 'KN', 37],
  ] as const) {
    it(`${bits}-bit, ${layout}, K=${K} (last block padded): matches the reader's dequantized values`, () => {
      const N = 6;
      const w = weight(K, N, bits * 7 + K);
      const q = quantizeBlockwise(
        w,
        K,
        N,
        { bits, blockSize: 16, symmetric: false, scaleType: 'float32' },
        layout,
        1,
      )!;
      // Unit energies: the plain weight error, as quantizeBlockwise itself counts it.
      const plain = weightedNoise(w, layout, 1, q, bits, 16, new Float64Array(K).fill(1));
      assert.ok(
        Math.abs(plain.noise - q.errorEnergy) <= 1e-9 * q.errorEnergy,
        `${plain.noise} vs ${q.errorEnergy}`,
      );
      assert.ok(Math.abs(plain.signal - q.signalEnergy) <= 1e-9 * q.signalEnergy);
      // Energy on channel k only: exactly that row's error, from the reader's values.
      const deq = dequantized(q, bits, 16);
      const k = K - 3;
      const diag = new Float64Array(K);
      diag[k] = 5;
      let want = 0;
      for (let n = 0; n < N; n++) {
        const v = layout === 'KN' ? w[k * N + n] : w[n * K + k];
        want += 5 * (v - deq[n * K + k]) ** 2;
      }
      const one = weightedNoise(w, layout, 1, q, bits, 16, diag);
      assert.ok(Math.abs(one.noise - want) <= 1e-5 * want, `${one.noise} vs ${want}`);
    });
  }

  it('turns a noise ratio into the SQNR and cosine the search reads', () => {
    const l = lossOfNoise({ signal: 100, noise: 1 });
    assert.equal(l.sqnrDb, 20);
    assert.ok(Math.abs(l.cosine - 1 / Math.sqrt(1.01)) < 1e-12);
    assert.deepEqual(lossOfNoise({ signal: 1, noise: 0 }), { sqnrDb: Infinity, cosine: 1 });
  });
});

describe('shrink --losses estimated', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-estimated-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('estimates every layer sensitivity measures: 8-bit far below 4-bit, from captured inputs', async () => {
    const r = spawnSync(process.execPath, [CLI, 'sensitivity', BERT, '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const measured = (JSON.parse(r.stdout) as { layers: { name: string; outputSqnrDb: number }[] }).layers;
    const names = measured.map((l) => l.name);
    const model = openModel(BERT);
    let estimates;
    try {
      const estimator = await openLossEstimator(model, names, {});
      assert.deepEqual(estimator.unweighted, []);
      const wanted = names.flatMap((name) =>
        (['int4', 'int8'] as const).map((precision) => ({ name, precision })),
      );
      const got = await estimator.estimate(wanted);
      estimates = new Map(names.map((n, i) => [n, { int4: got[2 * i], int8: got[2 * i + 1] }]));
    } finally {
      model.close();
    }
    const pairs = measured
      .filter((l) => estimates.get(l.name)?.int4)
      .map((l) => [l.outputSqnrDb, estimates.get(l.name)!.int4!.sqnrDb] as const);
    assert.ok(pairs.length >= 10, `${pairs.length} layers`);
    for (const [name, e] of estimates)
      if (e.int4 && e.int8) assert.ok(e.int8.sqnrDb > e.int4.sqnrDb + 15, `${name}: ${JSON.stringify(e)}`);
    // A layer's own noise is a ranking proxy, not the model's figure: printed so it can be followed (on this
    // random model layers near the output matter more than their own noise says); not asserted.
    const rank = (xs: number[]) => {
      const order = xs.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
      const out = new Array<number>(xs.length);
      order.forEach(([, i], r) => (out[i] = r));
      return out;
    };
    const a = rank(pairs.map((p) => p[0]));
    const b = rank(pairs.map((p) => p[1]));
    const n = pairs.length;
    const rho = 1 - (6 * a.reduce((sum, x, i) => sum + (x - b[i]) ** 2, 0)) / (n * (n * n - 1));
    console.log(
      `estimated vs measured int4 layer losses on tiny_bert: Spearman ${rho.toFixed(3)} over ${n} layers`,
    );
  });

  it('gives the same estimates when its calibration runs part by part', async () => {
    const model = openModel(BERT);
    try {
      const names = matMulNBitsUses(model.index, DEFAULT_QUANTIZE_OPTIONS).map((u) => u.tensor.name);
      const wanted = [...new Set(names)].map((name) => ({ name, precision: 'int4' as const }));
      const whole = await openLossEstimator(model, names, {});
      const parts = await openLossEstimator(model, names, {}, undefined, 64 * 1024);
      assert.match(parts.calibration, /\(in \d+ parts of the model\)$/);
      assert.doesNotMatch(whole.calibration, /parts of the model/);
      const a = await whole.estimate(wanted);
      const b = await parts.estimate(wanted);
      assert.equal(a.length, wanted.length);
      for (const [i, x] of a.entries())
        assert.ok(
          Math.abs(x!.sqnrDb - b[i]!.sqnrDb) < 1e-3,
          `${wanted[i].name}: ${x!.sqnrDb} vs ${b[i]!.sqnrDb}`,
        );
    } finally {
      model.close();
    }
  });

  it('meets the target on held-out inputs, and says the losses were estimated', async () => {
    const out = path.join(dir, 'bert.shrink.onnx');
    const r = spawnSync(
      process.execPath,
      [CLI, 'shrink', BERT, '--target', 'cosine>=0.9999', '--losses', 'estimated', '-o', out, '--json'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ShrinkReport;
    assert.equal(report.summary.losses, 'estimated');
    assert.ok((report.summary.measurements ?? 0) >= report.layers.length);
    assert.match(fs.readFileSync(path.join(dir, 'bert.shrink.report.md'), 'utf8'), /Losses are estimated/);
    const held = await verifyModels(BERT, out, { seed: 7 });
    assert.ok(held.ok, held.error);
    assert.ok(
      Math.min(...held.outputs.map((o) => o.cosine)) >= 1 - 2 * (1 - 0.9999),
      JSON.stringify(held.outputs),
    );
    // A small model is measured by default.
    const d = spawnSync(
      process.execPath,
      [CLI, 'shrink', BERT, '--target', 'cosine>=0.99', '-o', path.join(dir, 'd.onnx'), '--json'],
      { encoding: 'utf8' },
    );
    assert.equal(d.status, 0, d.stderr);
    assert.equal((JSON.parse(d.stdout) as ShrinkReport).summary.losses, 'measured');
    const bad = spawnSync(
      process.execPath,
      [CLI, 'shrink', BERT, '--target', 'cosine>=0.99', '--losses', 'guess'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--losses takes measured or estimated/);
  });
});
