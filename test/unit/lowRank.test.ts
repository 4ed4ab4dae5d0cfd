import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { CompactReport } from '../../src/core/compact/compactReport';
import { lowRankFactors } from '../../src/core/compact/lowRank';
import { loadOrt } from '../../src/runtime/loadOrt';
import { mlpModel } from './cliFixtures';
import { normal, rng } from './tensorFixtures';

const REPO = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-lowrank-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A seeded weight with a decaying spectrum (so truncation discards a known, uneven share). */
function weight(K: number, N: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: K * N }, (_, i) => normal(r) / (1 + (i % N)));
}

function product(a: Float32Array, b: Float32Array, K: number, r: number, N: number): Float64Array {
  const out = new Float64Array(K * N);
  for (let k = 0; k < K; k++)
    for (let c = 0; c < r; c++) for (let j = 0; j < N; j++) out[k * N + j] += a[k * r + c] * b[c * N + j];
  return out;
}

/** numpy's singular values of W [K, N]. */
function numpySingularValues(w: Float32Array, K: number, N: number): number[] {
  const file = path.join(tmp, `w${K}x${N}.json`);
  fs.writeFileSync(file, JSON.stringify(Array.from(w)));
  const script = `import sys, json, numpy as np
w = np.array(json.load(open(sys.argv[1])), dtype=np.float64).reshape(${K}, ${N})
print(json.dumps(np.linalg.svd(w, compute_uv=False).tolist()))`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, file]).toString());
}

describe('low-rank factors', () => {
  for (const [K, N] of [
    [24, 16],
    [12, 30],
  ]) {
    it(`reproduce a ${K}×${N} weight at full rank to 1e-5`, () => {
      const w = weight(K, N, K + N);
      const full = Math.min(K, N);
      const f = lowRankFactors(w, K, N, full);
      const ab = product(f.a, f.b, K, full, N);
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < w.length; i++) {
        diff = Math.max(diff, Math.abs(ab[i] - w[i]));
        scale = Math.max(scale, Math.abs(w[i]));
      }
      assert.ok(diff / scale <= 1e-5, `relative error ${diff / scale}`);
      assert.ok(Math.abs(f.energyKept - 1) < 1e-12);
    });

    it(`truncate a ${K}×${N} weight with the discarded singular-value energy as error (numpy's SVD)`, () => {
      const w = weight(K, N, 3 * K + N);
      const r = 5;
      const f = lowRankFactors(w, K, N, r);
      const sv = numpySingularValues(w, K, N);
      for (let i = 0; i < sv.length; i++) assert.ok(Math.abs(f.singularValues[i] - sv[i]) <= 1e-6 * sv[0]);
      const total = sv.reduce((s, v) => s + v * v, 0);
      const discarded = sv.slice(r).reduce((s, v) => s + v * v, 0) / total;
      assert.ok(Math.abs(1 - f.energyKept - discarded) <= 1e-6);
      const ab = product(f.a, f.b, K, r, N);
      let err = 0;
      for (let i = 0; i < w.length; i++) err += (ab[i] - w[i]) ** 2;
      assert.ok(Math.abs(err / total - discarded) <= 1e-6, `error² ${err / total}, discarded ${discarded}`);
      assert.ok(discarded > 0.01, 'the truncation discards something');
    });
  }
});

describe('big-shrink compact --rank', () => {
  it('factorizes the MatMul weights it makes smaller; the model checks and runs', async () => {
    const model = path.join(tmp, 'mlp.onnx');
    fs.writeFileSync(model, mlpModel());
    const r = spawnSync(process.execPath, [CLI, 'compact', model, '--rank', '0.25', '--json'], {
      encoding: 'utf8',
    });
    assert.ok(r.status === 0 || r.status === 3, r.stderr);
    const report = JSON.parse(r.stdout) as CompactReport;
    const out = path.join(tmp, 'mlp.rank25.onnx');
    assert.equal(report.output.files[0].path, out);
    assert.deepEqual(
      report.tensors.map((l) => [l.name, l.rank, l.unitsBefore]),
      [
        ['mm1', 16, 64],
        ['mm2', 4, 16],
      ],
    );
    for (const l of report.tensors) assert.ok(l.energyKept! > 0 && l.energyKept! < 1);
    const saved = report.summary.bytesBefore - report.summary.bytesAfter;
    const expected = (64 * 64 - 16 * 128 + 64 * 16 - 4 * 80) * 4;
    // New names (tensors, nodes, the value between) take a few hundred bytes.
    assert.ok(Math.abs(saved - expected) < 400, `saved ${saved}, expected about ${expected}`);
    execFileSync('/usr/bin/python3', [
      '-c',
      'import sys, onnx; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); onnx.shape_inference.infer_shapes(m, strict_mode=True)',
      out,
    ]);
    const ort = loadOrt();
    const s = await ort.InferenceSession.create(out, { logSeverityLevel: 4 });
    const y = await s.run({ x: new ort.Tensor('float32', new Float32Array(64).fill(0.5), [1, 64]) });
    assert.deepEqual(y.y.dims, [1, 16]);
    await s.release();
    // Full rank never makes a weight smaller: nothing to do, nothing written.
    const full = spawnSync(
      process.execPath,
      [CLI, 'compact', model, '--rank', '64', '-o', path.join(tmp, 'full.onnx')],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(full.status, 1);
    assert.match(full.stderr, /would not make it smaller/);
    assert.ok(!fs.existsSync(path.join(tmp, 'full.onnx')));
  });
});
