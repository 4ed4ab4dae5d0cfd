// A tiny ORT-GenAI-style decoder with KV-cache inputs (scripts/make-llm-model.js: GroupQueryAttention,
// rotary, SwiGLU, empty past) gets perplexity/KL figures from `verify`, both on token windows of a text
// with a real tokenizer.json and on sequences sampled from the model itself.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../testModels';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const TOKENIZER = path.join(
  REPO_ROOT,
  'node_modules',
  '@lenml',
  'tokenizer-llama2',
  'models',
  'tokenizer.json',
);

interface LmVerify {
  metrics?: {
    task: string;
    lm?: {
      pplOriginal: number;
      pplCandidate: number;
      klMean: number;
      klMax: number;
      top1Agreement: number;
      tokens: number;
    };
  };
  data?: { source: string; evaluation: number };
  inputs: { name: string; dims: number[] }[];
}

describe('KV-cache language model: perplexity and KL from verify', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-kvlm-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const model = path.join(dir, 'lm.onnx');
  const candidate = path.join(dir, 'lm.int4.onnx');

  before(() => {
    execFileSync(process.execPath, [
      path.join(REPO_ROOT, 'scripts', 'make-llm-model.js'),
      model,
      '--dtype',
      'fp32',
      '--layers',
      '1',
      '--hidden',
      '64',
      '--intermediate',
      '128',
      '--heads',
      '4',
      '--kv-heads',
      '2',
      '--vocab',
      '32000',
      '--context',
      '128',
    ]);
    const q = spawnSync(process.execPath, [CLI, 'quantize', model, '-o', candidate, '--no-verify'], {
      encoding: 'utf8',
    });
    assert.equal(q.status, 0, q.stderr);
  });

  const verify = (...extra: string[]): LmVerify => {
    const r = spawnSync(process.execPath, [CLI, 'verify', model, candidate, '--json', ...extra], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as LmVerify;
  };

  const checkLm = (v: LmVerify) => {
    assert.equal(v.metrics?.task, 'lm');
    const lm = v.metrics!.lm!;
    assert.ok(lm.tokens > 0, `${lm.tokens} tokens`);
    assert.ok(Number.isFinite(lm.pplOriginal) && lm.pplOriginal >= 1, `ppl ${lm.pplOriginal}`);
    assert.ok(Number.isFinite(lm.pplCandidate) && lm.pplCandidate >= 1, `ppl ${lm.pplCandidate}`);
    // A 4-bit copy of random weights differs: the figures measure something, and stay probabilities.
    assert.ok(lm.klMean > 0 && lm.klMax >= lm.klMean, `KL ${lm.klMean} / ${lm.klMax}`);
    assert.ok(lm.top1Agreement > 0 && lm.top1Agreement < 1, `agreement ${lm.top1Agreement}`);
    const past = v.inputs.find((i) => i.name === 'past_key_values.0.key');
    assert.equal(past?.dims[2], 0, 'an empty past');
  };

  it('token windows of a text and a real tokenizer.json (--data, --tokenizer)', () => {
    const text = path.join(dir, 'notes.txt');
    fs.writeFileSync(
      text,
      'A trained model holds a small functional core inside a lot of padding. '.repeat(12) +
        'Quantization keeps what it knows when the scales follow the weights.\n',
    );
    const v = verify('--data', text, '--tokenizer', TOKENIZER, '--dims', 'sequence_length=16');
    assert.equal(v.data?.source, 'files');
    assert.ok((v.data?.evaluation ?? 0) >= 1);
    checkLm(v);
  });

  it('sequences sampled from the model itself when no data is given', () => {
    const v = verify();
    assert.equal(v.data?.source, 'synthetic');
    checkLm(v);
  });
});
