import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lmHeadWeights } from '../../src/core/quant/lmHead';
import { openModel } from '../../src/runtime/openModel';
import { REPO_ROOT, testModel } from '../testModels';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const MAKER = path.join(REPO_ROOT, 'scripts', 'make-llm-model.js');

interface Report {
  options: Record<string, unknown>;
  tensors: { name: string; afterDtype: string; lmHead?: true }[];
  skipped: { name: string; reason: string; tensor?: string }[];
  verification: { outputs: { name: string; sqnrDb: number }[] };
}

const headsOf = (file: string) => {
  const model = openModel(file);
  try {
    return lmHeadWeights(model.index).map((t) => t.name);
  } finally {
    model.close();
  }
};

describe('the LM head keeps 8 bits under 4-bit quantization (--lm-head)', () => {
  let dir = '';
  let untied = '';
  const quantize = (extra: string[], out: string): Report => {
    const r = spawnSync(process.execPath, [CLI, 'quantize', untied, '-o', out, '--json', ...extra], {
      encoding: 'utf8',
    });
    assert.ok(r.status === 0 || r.status === 3, r.stderr);
    return JSON.parse(fs.readFileSync(out.replace(/\.onnx$/, '.report.json'), 'utf8')) as Report;
  };
  const logitsSqnr = (r: Report) => r.verification.outputs.find((o) => o.name === 'logits')!.sqnrDb;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-lmhead-'));
    untied = path.join(dir, 'untied.onnx');
    const args = ['--hidden', '128', '--layers', '1', '--vocab', '512', '--dtype', 'fp32'];
    for (const [file, extra] of [
      [untied, []],
      [path.join(dir, 'tied.onnx'), ['--tied']],
    ] as const) {
      const r = spawnSync(process.execPath, [MAKER, file, ...args, ...extra], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds the head by its logits output or the vocabulary width, and no head in a classifier or a tied LM', () => {
    assert.deepEqual(headsOf(untied), ['lm_head.weight']);
    // The tiny GPT-2 has no Gather table (EmbedLayerNormalization) and a `logits` output.
    const gpt2 = headsOf(testModel('ortgenai_tiny_random_gpt2_fp32_past.onnx'));
    assert.equal(gpt2.length, 1, JSON.stringify(gpt2));
    // A tied head reads the embedding through Transpose: nothing to quantize apart.
    assert.deepEqual(headsOf(path.join(dir, 'tied.onnx')), []);
    assert.deepEqual(headsOf(testModel('tiny_bert_random_inline.onnx')), []);
  });

  it('by default writes the head at 8 bits and the rest at 4, and says so; --lm-head 4 and float switch it', () => {
    const byDefault = quantize([], path.join(dir, 'default.onnx'));
    assert.equal(byDefault.options.lmHead, 8);
    const head = byDefault.tensors.filter((t) => t.lmHead);
    assert.deepEqual(
      head.map((t) => t.name),
      ['lm_head.weight'],
    );
    assert.match(head[0].afterDtype, /^uint8 \(MatMulNBits/);
    const rest = byDefault.tensors.filter((t) => !t.lmHead);
    assert.ok(rest.length >= 7, JSON.stringify(rest));
    for (const t of rest) assert.match(t.afterDtype, /^uint4 /, t.name);
    const md = fs.readFileSync(path.join(dir, 'default.report.md'), 'utf8');
    assert.match(md, /LM head at 8 bits: lm_head\.weight/);

    const four = quantize(['--lm-head', '4'], path.join(dir, 'four.onnx'));
    assert.equal(four.options.lmHead, undefined);
    assert.ok(four.tensors.every((t) => /^uint4 /.test(t.afterDtype) && !t.lmHead));
    // The head alone: at 8 bits the logits are far closer to the original's than at 4.
    const only = (bits: string) =>
      logitsSqnr(quantize(['--only', 'lm_head', '--lm-head', bits], path.join(dir, `head${bits}.onnx`)));
    const [sqnr8, sqnr4] = [only('8'), only('4')];
    assert.ok(sqnr8 > sqnr4 + 15, `logits SQNR ${sqnr8} dB with an 8-bit head vs ${sqnr4} dB at 4 bits`);

    const float = quantize(['--lm-head', 'float'], path.join(dir, 'float.onnx'));
    assert.ok(!float.tensors.some((t) => t.name === 'lm_head.weight'));
    assert.ok(
      float.skipped.some((s) => s.tensor === 'lm_head.weight' && /LM head: left in float/.test(s.reason)),
    );

    const gptq = quantize(['--method', 'gptq', '--calibration-batches', '2'], path.join(dir, 'gptq.onnx'));
    assert.match(gptq.tensors.find((t) => t.lmHead)!.afterDtype, /^uint8 /);
  });

  it('shrink keeps the head at 8 bits or more unless --lm-head lowers its floor', () => {
    const choiceOf = (extra: string[], name: string) => {
      const out = path.join(dir, `${name}.onnx`);
      const r = spawnSync(
        process.execPath,
        [
          CLI,
          'shrink',
          untied,
          '--target',
          'cosine>=0.5',
          '--precisions',
          'int4,int8',
          '-o',
          out,
          '--json',
          ...extra,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      const rep = JSON.parse(r.stdout) as {
        options: Record<string, unknown>;
        layers: { name: string; choice: string }[];
      };
      return { head: rep.layers.find((l) => l.name === 'lm_head.weight')!.choice, rep };
    };
    // A loose target: every other layer stays at 4 bits, the head at its floor.
    const byDefault = choiceOf([], 'shrink-default');
    assert.equal(byDefault.head, 'int8');
    assert.equal(byDefault.rep.options.lmHead, 8);
    assert.ok(
      byDefault.rep.layers.filter((l) => l.name !== 'lm_head.weight').every((l) => l.choice === 'int4'),
    );
    assert.equal(choiceOf(['--lm-head', '4'], 'shrink-four').head, 'int4');
  });

  it('refuses --lm-head with the portable format or a bad value (exit 2)', () => {
    for (const extra of [
      ['--format', 'qdq', '--lm-head', '8'],
      ['--lm-head', '3'],
    ]) {
      const r = spawnSync(process.execPath, [CLI, 'quantize', untied, ...extra], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--lm-head/);
    }
  });
});
