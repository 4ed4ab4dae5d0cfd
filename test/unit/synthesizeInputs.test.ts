import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as OrtTypes from 'onnxruntime-node';
import { detectTask } from '../../src/core/data/detectTask';
import { integerInputRange } from '../../src/core/data/integerRange';
import { perplexity } from '../../src/core/data/taskMetrics';
import { decodeFloat16 } from '../../src/core/tensor/float16';
import { constantReaderOf, synthesizeFeeds } from '../../src/runtime/data/synthesizeInputs';
import { planSynthesis, synthesizeSamples } from '../../src/runtime/data/synthesizeSamples';
import { openModel } from '../../src/runtime/openModel';
import { type Feeds, verifyModels } from '../../src/runtime/verifyModels';
import { testModel } from '../testModels';
import { bigramLm, byteClassifier, fixedLengthModel } from './dataFixtures';
import { loadOrt } from '../../src/runtime/loadOrt';

const ort = loadOrt();
const CLI = path.resolve(__dirname, '..', '..', 'cli.js');
const SILERO = testModel('silero_vad_legacy.onnx');
const GPT2 = testModel('ortgenai_tiny_random_gpt2_fp32_past.onnx');
const GPT2_FP16 = testModel('ortgenai_tiny_random_gpt2_fp16_past.onnx');

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-synth-'));
  fs.writeFileSync(path.join(dir, 'bigram.onnx'), bigramLm(64));
  fs.writeFileSync(path.join(dir, 'bytes.onnx'), byteClassifier());
  fs.writeFileSync(path.join(dir, 'fixed.onnx'), fixedLengthModel());
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function floats(t: OrtTypes.Tensor): Float32Array {
  return t.type === 'float16' ? decodeFloat16(t.data as Uint16Array) : (t.data as Float32Array);
}

/** The original's perplexity on each sample's own ids. */
async function pplOn(session: OrtTypes.InferenceSession, samples: Feeds[], vocab: number): Promise<number> {
  const seqs = [];
  for (const feeds of samples) {
    const out = await session.run(feeds);
    seqs.push({
      logits: floats(out.logits),
      ids: Array.from(feeds.input_ids.data as ArrayLike<number | bigint>, Number),
    });
  }
  return perplexity(seqs, vocab);
}

/** Self-sampled and uniform-random-id perplexity of an LM file. */
async function selfVsRandom(file: string): Promise<{ self: number; random: number; vocab: number }> {
  const model = openModel(file);
  const session = await ort.InferenceSession.create(file);
  try {
    const m = { path: file, index: model.index, readConstant: constantReaderOf(model) };
    const plan = await planSynthesis(ort, session, m, {});
    assert.equal(plan.task.task, 'lm');
    const vocab = plan.task.task === 'lm' ? plan.task.vocab : 0;
    const self = await pplOn(session, await synthesizeSamples(ort, session, m, plan, 4, 1), vocab);
    // Uniform ids over the whole vocabulary, same window, same other inputs.
    const uniform = Array.from({ length: 4 }, (_, s) =>
      synthesizeFeeds(
        ort,
        model.index,
        session.inputNames,
        { ...plan.options, seed: 50 + s, freeDim: plan.window },
        [],
        m.readConstant,
      ),
    );
    return { self, random: await pplOn(session, uniform, vocab), vocab };
  } finally {
    await session.release();
    model.close();
  }
}

describe('synthesized inputs', () => {
  it('integer inputs take the range the model reads them in (OneHot depth, Equal constants, embedding rows)', () => {
    const bytes = openModel(path.join(dir, 'bytes.onnx'));
    const silero = openModel(SILERO);
    const gpt2 = openModel(GPT2);
    try {
      const r = integerInputRange(bytes.index, 'bytes', constantReaderOf(bytes));
      assert.equal(r?.lo, 0);
      assert.equal(r?.hi, 257);
      assert.deepEqual(integerInputRange(silero.index, 'sr', constantReaderOf(silero))?.values, [16000]);
      assert.equal(integerInputRange(gpt2.index, 'input_ids', constantReaderOf(gpt2))?.hi, 1000);
      const described: { name: string; values: string; dtype: string; dims: number[] }[] = [];
      const feeds = synthesizeFeeds(
        ort,
        bytes.index,
        ['bytes'],
        { dims: { length: 4096 } },
        described,
        constantReaderOf(bytes),
      );
      const values = Array.from(feeds.bytes.data as BigInt64Array, Number);
      assert.ok(Math.max(...values) > 200, `ids reach the high bytes (max ${Math.max(...values)})`);
      assert.ok(Math.min(...values) >= 0 && Math.max(...values) < 257);
      assert.match(described[0].values, /OneHot depth 257/);
    } finally {
      bytes.close();
      silero.close();
      gpt2.close();
    }
  });

  it('detects the task: gpt2 an LM, tiny_bert and ppocr classifiers, silero and dtln generic', () => {
    const cases: [string, string][] = [
      [GPT2, 'lm'],
      [GPT2_FP16, 'lm'],
      [testModel('tiny_bert_random_inline.onnx'), 'classification'],
      [testModel('ch_ppocr_mobile_v2.0_cls_infer.onnx'), 'classification'],
      [SILERO, 'generic'],
      [testModel('dtln_model_2.onnx'), 'generic'],
    ];
    for (const [file, task] of cases) {
      const m = openModel(file);
      try {
        assert.equal(detectTask(m.index, constantReaderOf(m)).task, task, path.basename(file));
      } finally {
        m.close();
      }
    }
  });

  it('silero verifies on synthesized inputs after raising the open length, and with --dims', async () => {
    const r = await verifyModels(SILERO, SILERO, { runs: 1 });
    assert.ok(r.ok, r.error);
    assert.match(r.synthesisNote ?? '', /^sequence = (64|512): the original fails on sequence = 8/);
    assert.equal(r.inputs.find((i) => i.name === 'sr')?.values.startsWith('one of 16000'), true);
    for (const dims of ['input=1x512', 'input:1=512', 'input.1=512']) {
      const out = execFileSync(process.execPath, [CLI, 'verify', SILERO, SILERO, '--dims', dims, '--json'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      }).toString();
      const v = JSON.parse(out) as {
        ok: boolean;
        inputs: { name: string; dims: number[] }[];
        synthesisNote?: string;
      };
      assert.ok(v.ok, dims);
      assert.deepEqual(v.inputs.find((i) => i.name === 'input')?.dims, [1, 512], dims);
      assert.equal(v.synthesisNote, undefined, dims);
    }
  });

  it('a model that runs on no synthesized size says so in words, naming the inputs and the reason', async () => {
    const file = path.join(dir, 'fixed.onnx');
    const r = await verifyModels(file, file, { runs: 1 });
    assert.equal(r.ok, false);
    assert.match(
      r.error ?? '',
      /^the original model does not run on synthesized inputs: give real inputs with --data, or sizes with --dims \(inputs x float32\[1,512\]; tried n = 8, n = 64, n = 512\)\. onnxruntime: .*reshape/i,
    );
    const ok = await verifyModels(file, file, { runs: 1, dims: { 'x:1': 10 } });
    assert.ok(ok.ok, ok.error);
  });
});

describe('self-sampled LM sequences', () => {
  it('a peaked bigram LM: perplexity on its own samples is far below that on uniform random ids', async () => {
    const { self, random } = await selfVsRandom(path.join(dir, 'bigram.onnx'));
    assert.ok(self < 2, `self-sampled ppl ${self}`);
    assert.ok(random > 100 * self, `random-id ppl ${random} vs ${self}`);
  });

  for (const file of [GPT2, GPT2_FP16]) {
    it(`${path.basename(file)}: self-sampled sequences have a lower perplexity than uniform ids`, async () => {
      const { self, random, vocab } = await selfVsRandom(file);
      console.log(
        `# ${path.basename(file)}: ppl self-sampled ${self.toFixed(2)}, uniform ids ${random.toFixed(2)} (vocab ${vocab})`,
      );
      assert.ok(self < random, `${self} < ${random}`);
    });
  }

  it('verify reports LM metrics on self-sampled sequences', async () => {
    const r = await verifyModels(GPT2, GPT2, { runs: 1 });
    assert.ok(r.ok, r.error);
    assert.equal(r.metrics?.task, 'lm');
    const lm = r.metrics!.lm!;
    assert.equal(lm.tokens, 4 * 31);
    assert.equal(lm.klMean, 0);
    assert.equal(lm.top1Agreement, 1);
    assert.ok(Math.abs(lm.pplOriginal - lm.pplCandidate) < 1e-9 && lm.pplOriginal > 1);
    assert.match(r.inputs[0].values, /self-sampled/);
  });
});
