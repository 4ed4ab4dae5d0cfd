import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Precision } from '../../src/core/shrink/precisions';
import type { ShrinkReport } from '../../src/core/shrink/shrinkReport';
import { type SearchLayer, searchShrink } from '../../src/core/shrink/shrinkSearch';
import {
  type Fidelity,
  fidelityOf,
  meetsTarget,
  parseTarget,
  type ShrinkTarget,
  targetValue,
  unmeasurable,
} from '../../src/core/shrink/shrinkTarget';
import { verifyModels } from '../../src/runtime/verifyModels';
import { testModel } from '../testModels';

const CLI = path.resolve(__dirname, '..', '..', 'cli.js');
const target = (text: string) => parseTarget(text) as ShrinkTarget;

describe('task targets', () => {
  it('parses ppl, kl, top1 and acc targets; refuses impossible ones', () => {
    assert.deepEqual(parseTarget('ppl<=+2%'), {
      metric: 'ppl',
      min: 2,
      op: '<=',
      relative: true,
      text: 'ppl<=+2%',
    });
    assert.deepEqual(parseTarget(' ppl <= 0.5 '), { metric: 'ppl', min: 0.5, op: '<=', text: 'ppl<=+0.5' });
    assert.deepEqual(parseTarget('kl<=0.02'), { metric: 'kl', min: 0.02, op: '<=', text: 'kl<=0.02' });
    assert.deepEqual(parseTarget('top1>=0.99'), { metric: 'top1', min: 0.99, text: 'top1>=0.99' });
    assert.deepEqual(parseTarget('acc>=-0.5'), { metric: 'acc', min: -0.5, text: 'acc>=-0.5' });
    for (const bad of ['kl>=0.1', 'ppl>=2%', 'kl<=-1', 'kl<=2%', 'acc<=1', 'top1>=1.5'])
      assert.equal(typeof parseTarget(bad), 'string', bad);
  });

  it('reads the task figures: ppl change in percent, KL, LM top-1, accuracy points', () => {
    const outputs = [{ cosine: 0.99, sqnrDb: 20 }];
    const lm = fidelityOf(outputs, {
      task: 'lm',
      outputs: [],
      samples: 2,
      lm: {
        pplOriginal: 100,
        pplCandidate: 101.5,
        klMean: 0.01,
        klMax: 0.2,
        top1Agreement: 0.95,
        tokens: 60,
      },
    });
    assert.ok(Math.abs(lm.pplDeltaPct! - 1.5) < 1e-9);
    assert.ok(meetsTarget(lm, target('ppl<=+2%')));
    assert.ok(!meetsTarget(lm, target('ppl<=+1%')));
    assert.ok(meetsTarget(lm, target('kl<=0.02')) && !meetsTarget(lm, target('kl<=0.005')));
    assert.equal(targetValue(lm, target('top1>=0.9')), 0.95);
    const cls = fidelityOf(outputs, {
      task: 'classification',
      outputs: [],
      samples: 10,
      classification: { top1Agreement: 0.9, accuracyOriginal: 0.8, accuracyCandidate: 0.795, samples: 10 },
    });
    assert.ok(Math.abs(cls.accPoints! + 0.5) < 1e-9);
    assert.ok(meetsTarget(cls, target('acc>=-0.5')) && !meetsTarget(cls, target('acc>=-0.4')));
    assert.match(unmeasurable(target('kl<=0.1'), fidelityOf(outputs))!, /not a causal language model/);
    assert.match(
      unmeasurable(target('acc>=-1'), cls.accPoints === undefined ? cls : fidelityOf(outputs))!,
      /labelled/,
    );
  });

  it('the search meets a KL target with a fake evaluator (KL grows as layers shrink)', async () => {
    const kl: Record<string, Partial<Record<Precision, number>>> = {
      a: { int2: 0.3, int4b128: 0.02, int4: 0.015, int8: 0.001, fp16: 0.0001, float: 0 },
      b: { int2: 0.2, int4b128: 0.01, int4: 0.008, int8: 0.0005, fp16: 0.0001, float: 0 },
    };
    const bytes = { int2: 30, int4b128: 52, int4: 64, int8: 116, fp16: 200, float: 400 };
    const layers: SearchLayer[] = ['a', 'b'].map((name) => ({ name, op: 'MatMul', params: 100, bytes }));
    const evaluate = async (choices: ReadonlyMap<string, Precision>) => {
      let sum = 0;
      let size = 0;
      for (const [name, p] of choices) {
        sum += kl[name][p] ?? 0;
        size += bytes[p];
      }
      const fidelity: Fidelity = { cosine: 1 - sum, sqnrDb: -10 * Math.log10(sum || 1e-12), kl: sum };
      return { bytes: size, fidelity };
    };
    const measure = async (wanted: readonly { name: string; precision: Precision }[]) =>
      wanted.map((w) => {
        const v = kl[w.name][w.precision] ?? 0;
        return { sqnrDb: -10 * Math.log10(v || 1e-12), cosine: 1 - v };
      });
    const r = await searchShrink(layers, target('kl<=0.03'), evaluate, { measure });
    assert.equal(r.met, true);
    const last = r.candidates[r.chosen - 1];
    assert.ok(last.fidelity!.kl! <= 0.03);
    for (const c of r.candidates) assert.equal(c.met, c.fidelity!.kl! <= 0.03);
    assert.ok(r.candidates.length > 1, 'the smallest mix misses and the search raises layers');
  });
});

describe('shrink --target kl<=… on a causal LM (gpt2 fp32, self-sampled sequences)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-tasktarget-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const GPT2 = testModel('ortgenai_tiny_random_gpt2_fp32_past.onnx');

  it('searches on calibration sequences and re-measures the verdict on held-out sequences', async () => {
    const out = path.join(tmp, 'gpt2.shrink.onnx');
    const r = spawnSync(
      process.execPath,
      [CLI, 'shrink', GPT2, '--target', 'kl<=0.001', '-o', out, '--json'],
      {
        encoding: 'utf8',
      },
    );
    assert.ok(r.status === 0 || r.status === 3, r.stderr);
    const report = JSON.parse(r.stdout) as ShrinkReport;
    const chosen = report.candidates[report.summary.chosenStep! - 1];
    assert.ok(chosen.fidelity!.kl! <= 0.001, `the search met it on calibration: ${chosen.fidelity!.kl}`);
    // The final verdict: the same figure a fresh verification computes on the evaluation sequences.
    const v = await verifyModels(GPT2, out, { runs: 1 });
    assert.equal(v.metrics?.task, 'lm');
    const heldOut = report.summary.heldOut!;
    assert.equal(heldOut.samples, 4);
    assert.ok(
      Math.abs(heldOut.value! - v.metrics!.lm!.klMean) < 1e-12,
      `${heldOut.value} vs ${v.metrics!.lm!.klMean}`,
    );
    assert.equal(heldOut.met, v.metrics!.lm!.klMean <= 0.001);
    assert.equal(r.status, heldOut.met ? 0 : 3);
    // Held out: the calibration figure comes from other sequences than the verdict's.
    assert.notEqual(chosen.fidelity!.kl, heldOut.value);
    assert.equal(report.verification?.metrics?.lm?.tokens, 4 * 31);
  });
});
