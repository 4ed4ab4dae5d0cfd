import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadTokenizer } from '../../src/runtime/data/tokenizeText';
import { testModel } from '../testModels';
import { cli, FIXTURES, LLAMA_TOKENIZER, python, samplesOf, tempDir } from './dataTestKit';

const TEXT = `The quick brown fox jumps over the lazy dog. It was a bright cold day in April, and the clocks were
striking thirteen. Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in
my purse, and nothing particular to interest me on shore, I thought I would sail about a little and see the
watery part of the world.`;

describe('text data', () => {
  let dir: string;
  let lm: string;
  before(() => {
    dir = tempDir('text');
    lm = path.join(dir, 'lm.onnx');
    python([path.join(FIXTURES, 'make_tiny_lm.py'), lm]);
    fs.writeFileSync(path.join(dir, 'book.txt'), TEXT);
    fs.writeFileSync(
      path.join(dir, 'rows.jsonl'),
      ['Hello world', 'Big Shrink makes models smaller']
        .map((text) => JSON.stringify({ text, id: 1 }))
        .join('\n') + '\n',
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('tokenizes known strings as the tokenizer.json vocabulary spells them', () => {
    const tok = loadTokenizer(LLAMA_TOKENIZER);
    const json = JSON.parse(fs.readFileSync(LLAMA_TOKENIZER, 'utf8'));
    const vocab = json.model.vocab as Record<string, number>;
    assert.equal(tok.vocabSize, 32000);
    // SentencePiece-style BPE: a leading ▁ marks a word start; <s> (id 1) opens the text.
    assert.deepEqual(tok.encode('Hello world', true), [vocab['<s>'], vocab['▁Hello'], vocab['▁world']]);
    assert.deepEqual(tok.encode('the lazy dog', false), [vocab['▁the'], vocab['▁lazy'], vocab['▁dog']]);
    assert.equal(tok.decode(tok.encode('Call me Ishmael.', false)), 'Call me Ishmael.');
  });

  it('cuts token windows of the sequence length and fills the mask, positions and empty past', async () => {
    const tok = loadTokenizer(LLAMA_TOKENIZER);
    const all = tok.encode(TEXT, true);
    const set = await samplesOf(lm, {
      data: [{ path: path.join(dir, 'book.txt') }],
      tokenizer: LLAMA_TOKENIZER,
      dims: { sequence_length: 16 },
      calibration: 0,
    });
    const windows = set.evaluation;
    assert.equal(windows.length, Math.min(8, Math.ceil(all.length / 16)));
    const joined: number[] = [];
    for (const f of windows) {
      assert.deepEqual(f.input_ids.dims, [1, 16]);
      const mask = Array.from(f.attention_mask.data as BigInt64Array, Number);
      const ids = Array.from(f.input_ids.data as BigInt64Array, Number);
      joined.push(...ids.filter((_, i) => mask[i] === 1));
      assert.deepEqual(
        Array.from(f.position_ids.data as BigInt64Array, Number),
        Array.from({ length: 16 }, (_, i) => i),
      );
      for (const n of ['past_key_values.0.key', 'past_key_values.1.value']) {
        assert.deepEqual(f[n].dims, [1, 2, 0, 8]);
        assert.equal(f[n].type, 'float32');
      }
    }
    // The windows are the tokenizer's own ids for the text, in order.
    assert.deepEqual(joined, all.slice(0, joined.length));
  });

  it('runs the tiny LM on token windows through quantize and verify --data', async (t) => {
    const work = tempDir('lm');
    t.after(() => fs.rmSync(work, { recursive: true, force: true }));
    const model = path.join(work, 'lm.onnx');
    fs.copyFileSync(lm, model);
    fs.copyFileSync(LLAMA_TOKENIZER, path.join(work, 'tokenizer.json')); // found beside the model
    const data = path.join(dir, 'rows.jsonl');
    const r = cli([
      'quantize',
      model,
      '--bits',
      '8',
      '--data',
      data,
      '--dims',
      'sequence_length=8',
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.data.source, 'files');
    assert.equal(report.data.calibration + report.data.evaluation, 2);
    const ids = report.data.inputs.find((i: { name: string }) => i.name === 'input_ids');
    assert.equal(ids.source, 'text');
    const v = JSON.parse(
      cli([
        'verify',
        model,
        path.join(work, 'lm.int8.onnx'),
        '--data',
        data,
        '--dims',
        'sequence_length=8',
        '--json',
      ]).stdout,
    );
    assert.equal(v.ok, true);
    assert.deepEqual(v.outputs.find((o: { name: string }) => o.name === 'logits').dims, [1, 8, 32000]);
  });

  it('says when the tokenizer is missing or does not belong to the model', () => {
    const missing = cli(['data', lm, '--data', path.join(dir, 'book.txt')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /book\.txt: is text, and the tokenizer is missing: give --tokenizer FILE/);
    // The ORT GenAI tiny GPT-2 has a vocabulary of 1000: Llama's ids do not fit it.
    const wrong = cli([
      'data',
      testModel('ortgenai_tiny_random_gpt2_fp32_past.onnx'),
      '--data',
      path.join(dir, 'book.txt'),
      '--tokenizer',
      LLAMA_TOKENIZER,
    ]);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /tokenizer\.json: gives token id \d+, beyond the model's vocabulary of 1000/);
  });
});
