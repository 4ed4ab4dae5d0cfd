import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderDataMarkdown, withDataMarkdown } from '../../src/core/data/dataSection';
import {
  parseRecipe,
  type RecipeFile,
  RecipeError,
  recipeFileName,
  serializeRecipe,
  validateRecipe,
} from '../../src/core/data/inputRecipe';
import { splitSamples } from '../../src/core/data/splitSamples';

const FULL: RecipeFile = {
  version: 1,
  data: ['images'],
  tokenizer: 'tokenizer.json',
  split: { calibration: 3, evaluation: 5 },
  labels: 'labels.csv',
  dims: { sequence: 512 },
  inputs: {
    x: {
      source: 'image',
      dims: [1, 3, 48, 192],
      image: {
        layout: 'NCHW',
        channels: 'BGR',
        resize: 'cover',
        scale: 1 / 255,
        mean: [0.5],
        std: [0.5],
        interpolation: 'cubic',
      },
    },
    input: { source: 'audio', audio: { sampleRate: 16000, window: 512, hop: 256, resample: false } },
    input_ids: {
      source: 'text',
      path: 'corpus.jsonl',
      text: { length: 32, field: 'body', addSpecialTokens: false },
    },
    bytes: { source: 'bytes', bytes: { pad: 256, length: 1024 } },
    sr: { source: 'constant', value: 16000 },
  },
};

describe('input recipe (MODEL.inputs.json)', () => {
  it('round-trips every field through its file text', () => {
    const text = serializeRecipe(FULL);
    assert.deepEqual(parseRecipe(text, 'm.inputs.json'), FULL);
    assert.ok(text.endsWith('\n'));
  });

  it('names the recipe file after the model', () => {
    assert.equal(recipeFileName('/a/b/model.onnx'), '/a/b/model.inputs.json');
    assert.equal(recipeFileName('m.ONNX'), 'm.inputs.json');
  });

  it('lists every problem of a bad recipe', () => {
    const problems = validateRecipe({
      version: 2,
      split: { calibration: -1 },
      inputs: {
        x: { source: 'video', image: { layout: 'CHW', std: [0] } },
        sr: { source: 'constant' },
        t: { source: 'text', text: { length: 'long', colour: 1 } },
      },
    });
    const text = problems.join('\n');
    for (const needle of [
      '"version" must be 1',
      'split.calibration',
      '"source" must be one of',
      'image.layout',
      'image.std',
      'constant needs',
      '"length" must be a number',
      'unknown field "colour"',
    ])
      assert.ok(text.includes(needle), `${needle} missing from:\n${text}`);
    assert.throws(
      () => parseRecipe('{', 'bad.inputs.json'),
      (e: unknown) => e instanceof RecipeError && e.file === 'bad.inputs.json',
    );
    assert.deepEqual(validateRecipe(FULL), []);
  });
});

describe('splitSamples', () => {
  it('is deterministic, disjoint and complete, half each by default', () => {
    const a = splitSamples(11);
    const b = splitSamples(11);
    assert.deepEqual(a, b);
    assert.equal(a.calibration.length, 5);
    assert.equal(a.evaluation.length, 6);
    const all = [...a.calibration, ...a.evaluation].sort((p, q) => p - q);
    assert.deepEqual(
      all,
      Array.from({ length: 11 }, (_, i) => i),
    );
    // Shuffled: a folder sorted by class does not land one class in each set.
    assert.notDeepEqual(a.calibration, [0, 1, 2, 3, 4]);
    assert.notDeepEqual(splitSamples(11, { seed: 7 }), a);
  });

  it('takes counts and fractions, and cuts them to what there is', () => {
    assert.equal(splitSamples(10, { calibration: 3 }).calibration.length, 3);
    assert.equal(splitSamples(10, { calibration: 3 }).evaluation.length, 7);
    const both = splitSamples(10, { calibration: 2, evaluation: 4 });
    assert.deepEqual([both.calibration.length, both.evaluation.length], [2, 4]);
    assert.equal(splitSamples(10, { evaluation: 9 }).calibration.length, 1);
    assert.equal(splitSamples(10, { fraction: 0.8 }).calibration.length, 8);
    assert.deepEqual(splitSamples(4, { calibration: 10 }), { calibration: [0, 1, 2, 3], evaluation: [] });
    // A lone sample evaluates.
    assert.deepEqual(splitSamples(1), { calibration: [], evaluation: [0] });
    assert.ok(
      splitSamples(10, { calibration: 5 }).calibration.every(
        (i) => !splitSamples(10, { calibration: 5 }).evaluation.includes(i),
      ),
    );
  });
});

describe('the data section in Markdown', () => {
  it('says plainly when the verdict rests on synthetic inputs', () => {
    const md = renderDataMarkdown({ source: 'synthetic', paths: [], calibration: 16, evaluation: 1 });
    assert.match(md, /verdict rests on synthetic inputs/);
    const real = renderDataMarkdown({
      source: 'files',
      paths: ['/d'],
      calibration: 2,
      evaluation: 3,
      skipped: [{ path: '/d/x.png', reason: 'broken' }],
    });
    assert.doesNotMatch(real, /synthetic/);
    assert.match(real, /evaluation samples: 3/);
    assert.match(real, /`\/d\/x.png`: broken/);
    const placed = withDataMarkdown('# Title\n\nsummary\n\n## Files\n\nrows\n', {
      source: 'synthetic',
      paths: [],
      calibration: 0,
      evaluation: 1,
    });
    assert.ok(
      placed.indexOf('## Data') > placed.indexOf('summary') &&
        placed.indexOf('## Data') < placed.indexOf('## Files'),
    );
  });
});
