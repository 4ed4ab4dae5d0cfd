import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { energyShare } from '../../src/core/compact/activationSummary';
import type { ActivationsReport } from '../../src/cli/activationsCommand';
import { mlpFixture } from './compactFixtures';

const REPO = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-activations-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('big-shrink activations', () => {
  const model = path.join(tmp, 'mlp.onnx');
  fs.writeFileSync(model, mlpFixture().bytes);

  it('finds the hidden units whose bias keeps them from ever firing, and the input channels that are always zero', () => {
    const r = spawnSync(process.execPath, [CLI, 'activations', model, '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ActivationsReport;
    const block1 = report.units.find((u) => u.name === 'down1_mm')!;
    assert.deepEqual(block1.neverFire, [3, 11, 20]);
    assert.ok(block1.samples >= 64);
    for (const u of [3, 11, 20]) assert.equal(block1.importance[u], 0);
    assert.ok(block1.fireRate.filter((f) => f > 0).length === 29);
    assert.ok(block1.share90 > 0 && block1.share90 <= block1.share99 && block1.share99 <= 29 / 32);
    // The down projection's input channels are those units: zero on every sample.
    const input = report.inputs.find((l) => l.name === 'down1_mm')!;
    assert.equal(input.channels, 32);
    assert.equal(input.alwaysZero, 3);
    assert.equal(input.nonZero[11], 0);
    assert.ok(input.nonZero[0] > 0 && input.meanAbs[0] > 0);
    // GELU and SwiGLU units are not > 0 only by a bias: they fire.
    assert.deepEqual(report.units.find((u) => u.name === 'down2_mm')!.neverFire, []);
    assert.deepEqual(
      report.units.map((u) => u.name),
      ['down1_mm', 'down2_mm', 'down3_mm'],
    );
    const text = spawnSync(process.execPath, [CLI, 'activations', model, '--samples', '12'], {
      encoding: 'utf8',
    });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /down1_mm \(mlp\): 3 of 32 hidden units never fire on 12 samples/);
  });

  it('counts the fewest units that carry a share of the energy', () => {
    assert.equal(energyShare([1, 1, 1, 1], 0.9), 1);
    assert.equal(energyShare([90, 5, 5, 0], 0.9), 0.25);
    assert.equal(energyShare([5, 90, 4, 1], 0.99), 0.75);
    assert.equal(energyShare([0, 0], 0.9), 0);
  });

  it('refuses bad usage', () => {
    assert.equal(spawnSync(process.execPath, [CLI, 'activations'], { encoding: 'utf8' }).status, 2);
    assert.equal(
      spawnSync(process.execPath, [CLI, 'activations', model, '--samples', '0'], { encoding: 'utf8' }).status,
      2,
    );
  });
});
