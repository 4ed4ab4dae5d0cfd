import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { CompactReport } from '../../src/core/compact/compactReport';
import { loadOrt } from '../../src/runtime/loadOrt';
import {
  type CompactFixture,
  convGemmFixture,
  mlpFixture,
  sharedBiasFixture,
  zeroUnits,
} from './compactFixtures';
import { normal, rng } from './tensorFixtures';
import { relativeError } from './relativeError';

const REPO = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-compact-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** python3-onnx's full checker and strict shape inference on a file: throws when either fails. */
const CHECK = `
import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
print(" ".join(sorted(v.name for v in m.graph.value_info)))
`;

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** Runs a model on seeded random inputs of the given shapes; the outputs in order. */
async function run(
  bytes: Uint8Array,
  shapes: Record<string, number[]>,
  seed: number,
): Promise<Float32Array[]> {
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 4 });
  const r = rng(seed);
  const feeds = Object.fromEntries(
    Object.entries(shapes).map(([name, dims]) => {
      const n = dims.reduce((a, b) => a * b, 1);
      return [
        name,
        new ort.Tensor(
          'float32',
          Float32Array.from({ length: n }, () => normal(r)),
          dims,
        ),
      ];
    }),
  );
  const out = await session.run(feeds);
  const result = session.outputNames.map((n) => out[n].data as Float32Array);
  await session.release();
  return result;
}

async function compactAndCompare(
  name: string,
  fixture: CompactFixture,
  shapes: Record<string, number[]>,
  method: string,
): Promise<CompactReport & { declared: string }> {
  const model = path.join(tmp, `${name}.onnx`);
  fs.writeFileSync(model, fixture.bytes);
  const r = cli('compact', model, '--units', '0.25', '--method', method, '--json', '--force');
  // Random weights lose fidelity when a quarter of their units go: a FAIL verdict (3) is fine here.
  assert.ok(r.status === 0 || r.status === 3, r.stderr);
  const report = JSON.parse(r.stdout) as CompactReport;
  const out = path.join(tmp, `${name}.compact25.onnx`);
  assert.equal(report.output.files[0].path, out);
  assert.ok(fs.existsSync(out.replace(/\.onnx$/, '.report.md')));
  // Every layer the fixture marks as compactable was compacted, by a quarter of its units.
  assert.deepEqual(report.tensors.map((l) => l.name).sort(), Object.keys(fixture.units).sort());
  for (const l of report.tensors) {
    assert.equal(l.removed.length, Math.floor(l.unitsBefore * 0.25));
    assert.equal(l.unitsAfter, l.unitsBefore - l.removed.length);
  }
  for (const w of fixture.whole)
    assert.ok(
      report.leftWhole.some((x) => x.name === w),
      `${w} left whole`,
    );
  // Removing the units equals zeroing them in the original.
  const removed = Object.fromEntries(report.tensors.map((l) => [l.name, l.removed]));
  const zeroed = zeroUnits(fixture.bytes, fixture.units, removed);
  const compacted = new Uint8Array(fs.readFileSync(out));
  for (const seed of [5, 6]) {
    const [a, b] = [await run(compacted, shapes, seed), await run(zeroed, shapes, seed)];
    for (let i = 0; i < a.length; i++)
      assert.ok(relativeError(a[i], b[i]) <= 1e-5, `output ${i}: ${relativeError(a[i], b[i])}`);
    // …and differs from the original: units were really removed.
    const original = await run(fixture.bytes, shapes, seed);
    assert.ok(a.some((v, i) => relativeError(v, original[i]) > 1e-4));
  }
  // The file is smaller by the removed weight bytes (protobuf lengths and the dropped value_info aside).
  const removedBytes = report.summary.layerBytesBefore - report.summary.layerBytesAfter;
  const saved = fixture.bytes.length - compacted.length;
  assert.ok(removedBytes > 0);
  assert.ok(saved >= removedBytes && saved - removedBytes <= 128, `saved ${saved}, removed ${removedBytes}`);
  const declared = execFileSync('/usr/bin/python3', ['-c', CHECK, out]).toString().trim();
  return Object.assign(report, { declared });
}

describe('big-shrink compact', () => {
  it('removes MLP hidden units (ReLU, GELU, SwiGLU) exactly as zeroing them would, and leaves a Reshape-bound layer whole', async () => {
    const f = mlpFixture();
    const report = await compactAndCompare('mlp', f, { x: [2, 3, 16] }, 'activation');
    const reshape = report.leftWhole.find((x) => x.name === 'down4_mm')!;
    assert.match(reshape.reason, /Reshape/);
    assert.ok(report.skipped.some((s) => s.name === 'down4_mm'));
    // Units whose bias keeps them from firing go first under the activation method.
    const block1 = report.tensors.find((l) => l.name === 'down1_mm')!;
    for (const u of [3, 11, 20]) assert.ok(block1.removed.includes(u), `unit ${u} removed`);
    assert.ok(report.calibration);
    assert.equal(report.summary.unitsBefore, 32 + 40 + 24);
    assert.ok(report.summary.medianMsBefore! > 0 && report.summary.medianMsAfter! > 0);
    // The declared shapes that changed were dropped; the one that did not stays.
    assert.equal(report.declared, 'd1');
  });

  it('removes Gemm units and Conv channels (with the BatchNormalization and the next Conv) by magnitude', async () => {
    const f = convGemmFixture();
    const report = await compactAndCompare('convgemm', f, { x: [4, 16], x2: [1, 3, 8, 8] }, 'magnitude');
    const conv2 = report.tensors.find((l) => l.name === 'conv2')!;
    assert.deepEqual(conv2.tensors.find((t) => t.name === 'bn_v')!.dimsAfter, [6]);
    // c2 is cut twice: its output channels (conv3's units) and its input channels (conv2's).
    const c2 = conv2.tensors.find((t) => t.name === 'c2')!;
    assert.deepEqual(c2.dimsAfter, [5, 6, 3, 3]);
  });

  it('gives blocks that share a deduplicated bias their own cut copies, and drops the shared one', async () => {
    const model = path.join(tmp, 'shared.onnx');
    const sharedModel = sharedBiasFixture(true);
    fs.writeFileSync(model, sharedModel.bytes);
    const r = cli('compact', model, '--units', '0.25', '--method', 'magnitude', '--json');
    assert.ok(r.status === 0 || r.status === 3, r.stderr);
    const report = JSON.parse(r.stdout) as CompactReport;
    assert.deepEqual(report.leftWhole, []);
    assert.deepEqual(
      report.tensors.map((l) => [l.name, l.unitsAfter]),
      [
        ['downA_mm', 9],
        ['upB_mm', 6],
        ['downB_mm', 9],
      ],
    );
    // The same cut of the model with two equal biases, zeroed instead, computes the same.
    const separate = sharedBiasFixture(false);
    const removed = Object.fromEntries(report.tensors.map((l) => [l.name, l.removed]));
    const zeroed = zeroUnits(separate.bytes, separate.units, removed);
    const out = path.join(tmp, 'shared.compact25.onnx');
    const compacted = new Uint8Array(fs.readFileSync(out));
    const [a, b] = [await run(compacted, { x: [2, 8] }, 9), await run(zeroed, { x: [2, 8] }, 9)];
    assert.ok(relativeError(a[0], b[0]) <= 1e-5, String(relativeError(a[0], b[0])));
    const names = execFileSync('/usr/bin/python3', [
      '-c',
      'import sys, onnx; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print(" ".join(sorted(t.name for t in m.graph.initializer)))',
      out,
    ]).toString();
    assert.equal(names.trim(), 'bias_compact bias_compact_1 downA downB upA upB');
  });

  it('leaves the first and the last block whole with --keep-first-last', () => {
    const model = path.join(tmp, 'keep.onnx');
    fs.writeFileSync(model, mlpFixture().bytes);
    const r = cli(
      'compact',
      model,
      '--units',
      '0.5',
      '--method',
      'magnitude',
      '--keep-first-last',
      '--no-verify',
      '--json',
    );
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as CompactReport;
    assert.deepEqual(
      report.tensors.map((l) => [l.name, l.unitsAfter]),
      [['down2_mm', 20]],
    );
    for (const name of ['down1_mm', 'down3_mm'])
      assert.match(report.skipped.find((s) => s.name === name)!.reason, /--keep-first-last/);
    assert.equal(report.summary.status, 'unverified');
  });

  it('refuses bad usage and a model with nothing to compact', () => {
    const model = path.join(tmp, 'usage.onnx');
    fs.writeFileSync(model, mlpFixture().bytes);
    assert.equal(cli('compact', model).status, 2);
    assert.equal(cli('compact', model, '--units', '1.5').status, 2);
    assert.equal(cli('compact', model, '--units', '0.25', '--method', 'random').status, 2);
    assert.equal(cli('compact', model, '--units', '0.25', '--rank', '0.5').status, 2);
    assert.equal(cli('compact', model, '--rank', '0.5', '--method', 'magnitude').status, 2);
    const plain = path.join(tmp, 'plain.onnx');
    fs.writeFileSync(plain, fs.readFileSync(path.join(tmp, 'usage.onnx')).subarray(0, 0));
    assert.equal(cli('compact', plain, '--units', '0.25').status, 1);
  });
});
