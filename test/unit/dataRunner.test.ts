import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseRecipe } from '../../src/core/data/inputRecipe';
import { readRecipe, recipePath, runDataCommand, saveRecipe } from '../../src/extension/dataRunner';
import { REPO_ROOT } from '../testModels';
import { CLI, FIXTURES, python, tempDir } from './dataTestKit';

// The Data card's host side without VS Code: the CLI child reads the data, the recipe is saved beside
// the model, and the next read (what every command started from the editor does) uses it.
describe('Data card host side', () => {
  it('reads a chosen folder in the CLI child, saves the recipe, and the next read uses it', async (t) => {
    const dir = tempDir('datacard');
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const model = path.join(dir, 'bytes.onnx');
    python([path.join(FIXTURES, 'make_byte_classifier.py'), model, '64']);
    const data = path.join(dir, 'samples');
    fs.mkdirSync(data);
    for (const f of ['LICENSE', 'README.md', 'package.json'])
      fs.copyFileSync(path.join(REPO_ROOT, f), path.join(data, f));
    fs.writeFileSync(path.join(data, 'preview.bin'), Buffer.from([1, 2, 3]));

    const none = await runDataCommand(CLI, model);
    assert.equal(none.ok, true);
    assert.equal(none.section?.source, 'synthetic');

    const chosen = await runDataCommand(CLI, model, ['--data', data]);
    assert.equal(chosen.ok, true, chosen.error);
    assert.equal(chosen.section?.calibration, 2);
    assert.equal(chosen.section?.evaluation, 2);
    assert.equal(chosen.preview?.kind, 'bytes');
    assert.deepEqual(chosen.preview?.bytes, [...fs.readFileSync(path.join(data, 'LICENSE')).subarray(0, 32)]);

    const recipe = readRecipe(model);
    assert.deepEqual(recipe, { version: 1, inputs: {} });
    const file = saveRecipe(model, {
      ...recipe,
      data: [recipePath(model, data)],
      split: { calibration: 1, evaluation: 3 },
    });
    assert.equal(file, path.join(dir, 'bytes.inputs.json'));
    assert.deepEqual(parseRecipe(fs.readFileSync(file, 'utf8'), file).data, ['samples']);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.tmp-')),
      [],
    );

    const saved = await runDataCommand(CLI, model);
    assert.equal(saved.section?.source, 'files');
    assert.equal(saved.section?.recipeFile, file);
    assert.deepEqual([saved.section?.calibration, saved.section?.evaluation], [1, 3]);
    assert.equal(recipePath(model, '/elsewhere/x'), '/elsewhere/x');
  });

  it('answers the reason when the data cannot be used', async (t) => {
    const dir = tempDir('datacard-bad');
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const model = path.join(REPO_ROOT, 'test', 'models', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
    fs.writeFileSync(path.join(dir, 'x.png'), 'not an image');
    const r = await runDataCommand(CLI, model, ['--data', dir]);
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /nothing usable is left.*x\.png: cannot be decoded as an image/);
  });
});
