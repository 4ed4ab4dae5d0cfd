import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseRecipe, serializeRecipe } from '../../src/core/data/inputRecipe';
import { REPO_ROOT } from '../testModels';
import { cli, FIXTURES, python, samplesOf, tempDir } from './dataTestKit';

// Real files of the repository as raw-bytes data.
const REAL_FILES = [
  'package.json',
  'LICENSE',
  'README.md',
  'esbuild.js',
  'tsconfig.json',
  'eslint.config.mjs',
].filter((f) => fs.existsSync(path.join(REPO_ROOT, f)));

describe('raw bytes, .npy/.npz, labels and the recipe file', () => {
  let dir: string;
  let classifier: string;
  before(() => {
    dir = tempDir('files');
    classifier = path.join(dir, 'bytes.onnx');
    python([path.join(FIXTURES, 'make_byte_classifier.py'), classifier, '256']);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('feeds the bytes of real files, padded with 256, to a byte-level classifier', async () => {
    const files = path.join(dir, 'files');
    fs.mkdirSync(files);
    for (const f of REAL_FILES) fs.copyFileSync(path.join(REPO_ROOT, f), path.join(files, f));
    fs.writeFileSync(path.join(files, 'short.bin'), Buffer.from([0, 1, 2, 255]));
    const set = await samplesOf(classifier, { data: [{ path: files }], calibration: 0 });
    const names = [...REAL_FILES, 'short.bin'].sort();
    assert.equal(set.evaluation.length, names.length);
    names.forEach((name, i) => {
      const t = set.evaluation[i].bytes;
      assert.deepEqual(t.dims, [1, 256]);
      const bytes = fs.readFileSync(path.join(files, name)).subarray(0, 256);
      const want = Array.from({ length: 256 }, (_, k) => (k < bytes.length ? bytes[k] : 256));
      assert.deepEqual(Array.from(t.data as BigInt64Array, Number), want, name);
    });
    const r = cli(['verify', classifier, classifier, '--data', files, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const v = JSON.parse(r.stdout);
    assert.equal(v.data.source, 'files');
    assert.equal(v.outputs[0].top1Agreement, 1);
  });

  it('groups samples into runs of a fixed batch', async () => {
    const model = path.join(dir, 'fixed.onnx');
    python([
      '-c',
      `import onnx, sys
from onnx import helper, TensorProto
g = helper.make_graph([helper.make_node('Identity', ['bytes'], ['out'])], 'g',
  [helper.make_tensor_value_info('bytes', TensorProto.INT64, [2, 16])],
  [helper.make_tensor_value_info('out', TensorProto.INT64, [2, 16])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]); m.ir_version = 8
onnx.save(m, sys.argv[1])`,
      model,
    ]);
    const files = path.join(dir, 'five');
    fs.mkdirSync(files);
    for (let i = 0; i < 5; i++)
      fs.writeFileSync(path.join(files, `f${i}.bin`), Buffer.from([i, i + 1, i + 2]));
    const set = await samplesOf(model, { data: [{ path: files }], calibration: 0 });
    // Five files, two per run: two runs, the fifth file left out.
    assert.equal(set.evaluation.length, 2);
    const rows = set.evaluation.map((f) => {
      assert.deepEqual(f.bytes.dims, [2, 16]);
      const v = Array.from(f.bytes.data as BigInt64Array, Number);
      return [v.slice(0, 3), v.slice(16, 19), v[3]];
    });
    assert.deepEqual(rows, [
      [[0, 1, 2], [1, 2, 3], 0],
      [[2, 3, 4], [3, 4, 5], 0],
    ]);
  });

  it('splits .npy batches and .npz arrays into samples as numpy wrote them', async () => {
    const npy = path.join(dir, 'npy');
    fs.mkdirSync(npy);
    python([
      '-c',
      `import numpy as np, sys
d = sys.argv[1]
a = (np.arange(3 * 256) % 257).reshape(3, 256).astype(np.int64)
np.save(f'{d}/batch.npy', a)
np.save(f'{d}/one.npy', np.full(256, 7, dtype=np.int64))
np.savez(f'{d}/more.npz', bytes=np.full((2, 256), 9, dtype=np.int64))`,
      npy,
    ]);
    const set = await samplesOf(classifier, { data: [{ path: npy }], calibration: 0 });
    // Sorted files: batch.npy (3 samples), more.npz (2), one.npy (1).
    const firsts = set.evaluation.map((f) => Number((f.bytes.data as BigInt64Array)[0]));
    assert.deepEqual(firsts, [0, 256 % 257, 512 % 257, 9, 9, 7]);
    assert.ok(set.evaluation.every((f) => f.bytes.dims.join() === '1,256'));
  });

  it('reads class labels from a folder per class and from labels.csv', async () => {
    const classes = path.join(dir, 'classes');
    for (const [c, files] of [
      ['docs', ['README.md', 'LICENSE']],
      ['code', ['esbuild.js']],
    ] as const) {
      fs.mkdirSync(path.join(classes, c), { recursive: true });
      for (const f of files) fs.copyFileSync(path.join(REPO_ROOT, f), path.join(classes, c, f));
    }
    const set = await samplesOf(classifier, { data: [{ path: classes }], calibration: 0 });
    assert.deepEqual(set.labels?.classes, ['code', 'docs']);
    assert.deepEqual(set.labels?.evaluation, [0, 1, 1]);
    const flat = path.join(dir, 'flat');
    fs.mkdirSync(flat);
    fs.copyFileSync(path.join(REPO_ROOT, 'LICENSE'), path.join(flat, 'a'));
    fs.copyFileSync(path.join(REPO_ROOT, 'README.md'), path.join(flat, 'b'));
    fs.writeFileSync(path.join(flat, 'labels.csv'), 'file,label\na,3\nb,1\n');
    const labelled = await samplesOf(classifier, { data: [{ path: flat }], calibration: 0 });
    assert.deepEqual(labelled.labels?.evaluation, [3, 1]);
    assert.equal(labelled.section.labelled, 2);
  });

  it('reads the recipe beside the model; big-shrink data reports what the model receives', () => {
    const work = tempDir('recipe');
    try {
      const model = path.join(work, 'm.onnx');
      fs.copyFileSync(classifier, model);
      fs.mkdirSync(path.join(work, 'data'));
      fs.writeFileSync(path.join(work, 'data', 'a.bin'), Buffer.from('AB'));
      fs.writeFileSync(path.join(work, 'data', 'b.bin'), Buffer.from('C'));
      const recipe = {
        version: 1 as const,
        data: ['data'],
        split: { calibration: 1, evaluation: 1 },
        inputs: { bytes: { source: 'bytes' as const, bytes: { pad: 0 } } },
      };
      fs.writeFileSync(path.join(work, 'm.inputs.json'), serializeRecipe(recipe));
      assert.deepEqual(
        parseRecipe(fs.readFileSync(path.join(work, 'm.inputs.json'), 'utf8'), 'm.inputs.json'),
        recipe,
      );
      const r = cli(['data', model, '--json']);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.samples, 2);
      assert.deepEqual([out.data.calibration, out.data.evaluation], [1, 1]);
      assert.deepEqual(out.data.recipe, recipe);
      // The recipe's pad value (0, not the default 256 of a 257-row byte embedding).
      assert.deepEqual([out.data.inputs[0].min, out.data.inputs[0].max], [0, 66]);
      // Flags override the recipe.
      const two = JSON.parse(cli(['data', model, '--json', '--calibration', '0']).stdout);
      assert.deepEqual([two.data.calibration, two.data.evaluation], [0, 2]);
      const text = cli(['data', model]);
      assert.match(text.stdout, /samples: 2 \(calibration 1, evaluation 1\)/);
      assert.match(text.stdout, /bytes: int64\[1, 256\] from bytes/);
      // No data and no recipe: synthetic, and it says so.
      fs.rmSync(path.join(work, 'm.inputs.json'));
      assert.match(cli(['data', model]).stdout, /synthesized inputs/);
      fs.writeFileSync(
        path.join(work, 'm.inputs.json'),
        '{"version": 1, "inputs": {"bytes": {"source": "video"}}}',
      );
      const bad = cli(['data', model]);
      assert.equal(bad.status, 1);
      assert.match(
        bad.stderr,
        /m\.inputs\.json: is not a valid input recipe: input "bytes": "source" must be one of/,
      );
      assert.equal(cli(['data', model, '--data', path.join(work, 'nope')]).status, 2);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
