// activations and compact --method activation on the user's data (--data): the calibration samples are
// measured, never the evaluation samples, and a unit that only real inputs make fire is seen to fire.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ActivationsReport } from '../../src/cli/activationsCommand';
import type { CompactReport } from '../../src/core/compact/compactReport';
import { splitSamples } from '../../src/core/data/splitSamples';
import { DATA_ONLY_THRESHOLD, DATA_ONLY_UNIT, dataOnlyUnitFixture } from './compactFixtures';
import { cli, python, tempDir } from './dataTestKit';

const SAMPLES = 8;
/** x[..., 0] of sample i: above the threshold, a different value per sample. */
const first = (i: number) => 2 * DATA_ONLY_THRESHOLD + i;

describe('activations and compact on --data', () => {
  const dir = tempDir('activations-data');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const model = path.join(dir, 'mlp.onnx');
  fs.writeFileSync(model, dataOnlyUnitFixture());
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  // One .npy batch of SAMPLES rows, as numpy writes it: split into SAMPLES samples of [1, 8].
  python([
    '-c',
    `import numpy as np, sys
r = np.random.default_rng(5)
x = r.uniform(-1, 1, size=(${SAMPLES}, 8)).astype(np.float32)
x[:, 0] = [${Array.from({ length: SAMPLES }, (_, i) => first(i)).join(', ')}]
np.save(sys.argv[1], x)`,
    path.join(data, 'x.npy'),
  ]);
  const activations = (...extra: string[]): ActivationsReport => {
    const r = cli(['activations', model, '--json', ...extra]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as ActivationsReport;
  };

  it('without data the unit never fires on the synthesized inputs', () => {
    const report = activations();
    const units = report.units.find((u) => u.name === 'down_mm')!;
    assert.ok(units.neverFire.includes(DATA_ONLY_UNIT), JSON.stringify(units.neverFire));
    assert.equal(report.data?.source, 'synthetic');
    assert.ok(report.data!.calibration >= 1);
    assert.match(report.calibration, /synthesized batch/);
  });

  it('with --data it measures every calibration sample and no evaluation sample', () => {
    const report = activations('--data', data);
    const units = report.units.find((u) => u.name === 'down_mm')!;
    const calibration = splitSamples(SAMPLES).calibration;
    assert.equal(report.data?.source, 'files');
    assert.deepEqual(report.data!.paths, [data]);
    assert.equal(report.data!.calibration, calibration.length);
    assert.equal(units.samples, calibration.length);
    assert.ok(!units.neverFire.includes(DATA_ONLY_UNIT));
    assert.equal(units.fireRate[DATA_ONLY_UNIT], 1);
    assert.match(report.calibration, new RegExp(`^${calibration.length} calibration samples of `));
    // The down projection reads the unit: its mean |x| is the mean over exactly the calibration samples.
    const input = report.inputs.find((l) => l.name === 'down_mm')!;
    const expected = calibration.reduce((s, i) => s + first(i) - DATA_ONLY_THRESHOLD, 0) / calibration.length;
    assert.ok(Math.abs(input.meanAbs[DATA_ONLY_UNIT] - expected) < 1e-4, `${input.meanAbs[DATA_ONLY_UNIT]}`);
    // Counts choose the samples: three calibration samples are three samples measured.
    const three = activations('--data', data, '--calibration', '3', '--evaluation', '5');
    assert.equal(three.units.find((u) => u.name === 'down_mm')!.samples, 3);
    assert.equal(three.data!.calibration, 3);
  });

  it('says so when the data leaves no calibration sample', () => {
    const r = cli(['activations', model, '--data', data, '--calibration', '0']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no calibration sample/);
  });

  it('compact --method activation removes the unit without data and keeps it with --data', () => {
    const compact = (out: string, ...extra: string[]): CompactReport => {
      const r = cli(['compact', model, '--units', '0.25', '-o', path.join(dir, out), '--json', ...extra]);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as CompactReport;
    };
    const blind = compact('blind.onnx');
    assert.ok(blind.tensors[0].removed.includes(DATA_ONLY_UNIT), `${blind.tensors[0].removed}`);
    const seen = compact('seen.onnx', '--data', data);
    assert.equal(seen.tensors[0].removed.length, blind.tensors[0].removed.length);
    assert.ok(!seen.tensors[0].removed.includes(DATA_ONLY_UNIT), `${seen.tensors[0].removed}`);
    assert.match(seen.calibration!, /calibration samples of /);
    // The verdict rests on the evaluation samples.
    assert.equal(seen.data?.source, 'files');
    assert.equal(seen.data?.evaluation, SAMPLES - splitSamples(SAMPLES).calibration.length);
  });
});
