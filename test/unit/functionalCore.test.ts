// The Functional core tab's host side in plain Node: "Measure activations" runs the CLI child on the
// model (with the recipe the Data card saved beside it), streams the states the webview gets (running with
// progress, then ready with summaries only), and cancels; an unreadable model is an error state.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { CURVE_POINTS } from '../../src/core/compact/functionalCoreView';
import { FunctionalCore, measureActivations } from '../../src/extension/functionalCore';
import type { CoreState } from '../../src/protocol/modelEditor';
import { REPO_ROOT, testModel } from '../testModels';
import { dataOnlyUnitFixture } from './compactFixtures';
import { python, tempDir } from './dataTestKit';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

describe('FunctionalCore', () => {
  const dir = tempDir('functional-core');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const model = path.join(dir, 'mlp.onnx');
  fs.writeFileSync(model, dataOnlyUnitFixture());

  it('measures, posting running states with progress and then the summary', async () => {
    const posted: CoreState[] = [];
    const core = new FunctionalCore(
      () => CLI,
      (m, state) => {
        assert.equal(m, model);
        posted.push(state);
      },
    );
    const final = await core.measure(model);
    assert.equal(final.status, 'ready', final.error);
    assert.equal(posted[0].status, 'running');
    assert.ok(posted.some((s) => s.status === 'running' && s.progress && s.progress.done >= 1));
    assert.equal(posted.at(-1), final);
    assert.equal(core.stateOf(model), final);
    const view = final.view!;
    assert.equal(view.source, 'synthetic');
    assert.equal(view.layers.length, 1);
    const layer = view.layers[0];
    assert.equal(layer.name, 'down_mm');
    assert.match(layer.fireText, /^\d+ of 16 hidden units never fire on \d+ samples$/);
    assert.ok(layer.neverFire >= 1, 'the data-only unit never fires on synthesized inputs');
    assert.ok(layer.curve.rank.length <= CURVE_POINTS);
    // Summaries only: no per-unit arrays of the CLI's answer reach the webview.
    const text = JSON.stringify(final);
    assert.ok(!/fireRate|meanAbs|nonZero/.test(text), text.slice(0, 200));
  });

  it('measures on the data the recipe beside the model names (the Data card choice)', async () => {
    const data = path.join(dir, 'data');
    fs.mkdirSync(data);
    python([
      '-c',
      // Rows of zeros fire every unit with a positive bias; rows with x0 = 30 fire the data-only unit.
      'import numpy as np, sys\nx = np.zeros((6, 8), np.float32)\nx[::2, 0] = 30\nnp.save(sys.argv[1], x)',
      path.join(data, 'x.npy'),
    ]);
    const recipe = path.join(dir, 'mlp.inputs.json');
    fs.writeFileSync(
      recipe,
      JSON.stringify({ version: 1, data: ['data'], split: { calibration: 6, evaluation: 0 }, inputs: {} }),
    );
    try {
      const state = await measureActivations(CLI, model);
      assert.equal(state.status, 'ready', state.error);
      assert.equal(state.view!.source, 'files');
      assert.match(state.view!.calibration, /^6 calibration samples of /);
      // Every unit fires on these samples, the one only the data makes fire too (on synthesized inputs
      // it never does: the first test).
      assert.equal(state.view!.layers[0].neverFire, 0);
    } finally {
      fs.rmSync(recipe);
    }
  });

  it('cancels a measurement in flight and keeps the last figures; an unreadable model is an error', async () => {
    const states: CoreState[] = [];
    const core = new FunctionalCore(
      () => CLI,
      (_m, s) => states.push(s),
    );
    const bert = testModel('tiny_bert_random_inline.onnx');
    const running = core.measure(bert);
    setTimeout(() => core.cancel(bert), 150);
    const r = await running;
    assert.equal(r.status, 'cancelled');
    assert.equal(r.view, undefined);
    assert.equal(core.cancel(bert), false, 'nothing runs any more');

    const first = await core.measure(model);
    assert.equal(first.status, 'ready', first.error);
    const again = core.measure(model);
    assert.equal(core.cancel(model), true);
    const cancelled = await again;
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.view, first.view, 'the last figures stay');
    assert.equal(cancelled.measured, first.measured);
    const third = await core.measure(model);
    assert.equal(third.measured, first.measured! + 1, 'a new measurement counts up');

    const junk = path.join(dir, 'junk.onnx');
    fs.writeFileSync(junk, 'not a model');
    const bad = await core.measure(junk);
    assert.equal(bad.status, 'error');
    assert.match(bad.error!, /junk\.onnx/);
  });
});
