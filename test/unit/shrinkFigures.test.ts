// The side panel's reading of shrink reports (src/extension/shrinkFiguresOf.ts): a real report of
// `big-shrink shrink` on tiny BERT comes through field for field; a report of a newer engine (unknown
// precision ids, `precisionLabels`, `losses` lists, more baselines, a candidate that failed) is shown as
// given; and the size limit parser of "Shrink to Target…".
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { formatBytes } from '../../src/core/format/formatBytes';
import { parseBytes } from '../../src/core/format/parseBytes';
import { shrinkFiguresOf, shrinkVariant } from '../../src/extension/shrinkFiguresOf';
import { TEST_MODELS } from '../testModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = TEST_MODELS;
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-shrink-figures-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('shrinkFiguresOf', () => {
  it('reads a real shrink report: target, layers with their measured losses, every candidate and baseline', () => {
    const model = path.join(tmp, 'bert.onnx');
    fs.copyFileSync(path.join(MODELS, 'tiny_bert_random_inline.onnx'), model);
    execFileSync('node', [CLI, 'shrink', model, '--target', 'sqnr>=40'], { stdio: 'ignore' });
    const r = JSON.parse(fs.readFileSync(path.join(tmp, 'bert.shrink.report.json'), 'utf8')) as Json;
    const s = shrinkFiguresOf(r);
    assert.equal(s.target, r.summary.target);
    assert.equal(s.metric, 'sqnr');
    assert.equal(s.min, 40);
    assert.equal(s.achieved, r.summary.achieved);
    assert.ok(s.met);
    assert.deepEqual(s.counts, r.summary.layers);
    // More than one candidate, so the plot is a curve; the written one is the one the engine names.
    assert.ok(r.candidates.length > 1, `${r.candidates.length} candidates`);
    assert.equal(s.candidates.length, r.candidates.length);
    assert.ok(Number.isInteger(r.summary.chosenStep), 'the engine names the candidate it wrote');
    assert.equal(s.chosenStep, r.summary.chosenStep);
    s.candidates.forEach((c, i) => {
      const raw = r.candidates[i] as Json;
      assert.deepEqual(
        [c.step, c.bytes, c.met, c.counts, c.fidelity, c.raised],
        [raw.step, raw.bytes, raw.met, raw.counts, raw.fidelity, raw.raised],
      );
    });
    // Uniform 8-bit and 4-bit first, then every other uniform configuration the engine ran, labelled.
    const others = Object.keys(r.baselines).filter((id) => id !== 'uniform8' && id !== 'uniform4');
    assert.ok(others.length > 0, 'the engine compares with more than 8 and 4 bits');
    assert.deepEqual(
      s.baselines.map((b) => [b.id, b.label, b.bytes, b.meetsTarget, b.fidelity]),
      ['uniform8', 'uniform4', ...others].map((id) => [
        id,
        id === 'uniform8'
          ? 'uniform 8-bit'
          : id === 'uniform4'
            ? 'uniform 4-bit'
            : `uniform ${r.precisionLabels[id]}`,
        r.baselines[id].bytes,
        r.baselines[id].meetsTarget,
        r.baselines[id].fidelity,
      ]),
    );
    // The objective and the verification's whole-model latency, as the summary gives them.
    assert.equal(s.objective, 'size');
    assert.deepEqual(s.latency, r.summary.latency);
    assert.ok(s.latency!.originalMs > 0 && s.latency!.runs > 0);
    assert.equal(s.layers.length, r.layers.length);
    s.layers.forEach((l, i) => {
      const raw = r.layers[i] as Json;
      assert.deepEqual(
        [l.name, l.op, l.params, l.choice, l.why],
        [raw.name, raw.op, raw.params, raw.choice, raw.why],
      );
      // The engine's list of measured losses, each precision once.
      const want = (raw.losses as Json[]).map((x) => ({
        choice: x.choice,
        sqnrDb: x.sqnrDb,
        cosine: x.cosine,
      }));
      assert.ok(want.length > 0, l.name);
      assert.deepEqual(l.losses, want, l.name);
    });
    assert.equal(s.labels.int4, r.precisionLabels.int4);
    assert.equal(shrinkVariant(r.options), 'target sqnr>=40');
  });

  it('shows what a newer engine writes as given: unknown precisions, labels, losses lists, failed candidates', () => {
    const r = {
      options: { target: 'top1>=0.99', maxBytes: 600000 },
      summary: { target: 'top1>=0.99', layers: { int2: 1, int4: 1, fp16: 1 } },
      precisionLabels: { int2: '2-bit (block 16)', fp16: 'float16' },
      layers: [
        {
          name: 'a.weight',
          op: 'MatMul',
          params: 64,
          choice: 'fp16',
          why: 'kept in float16',
          losses: [
            { choice: 'int2', sqnrDb: 3.5, cosine: 0.7 },
            { choice: 'fp16', sqnrDb: null, cosine: 1 },
          ],
        },
      ],
      candidates: [
        { step: 1, counts: { int2: 3 }, bytes: null, met: false, error: 'ORT refused it' },
        {
          step: 2,
          raised: { name: 'a.weight', from: 'int2', to: 'fp16' },
          counts: { int2: 2, fp16: 1 },
          bytes: 1000,
          fidelity: { cosine: 0.99, sqnrDb: 20, top1: 1 },
          met: true,
        },
      ],
      baselines: {
        uniform2: { bytes: 900, meetsTarget: false, error: 'did not run' },
        uniform8: { bytes: 2000, fidelity: { cosine: 1, sqnrDb: 50, top1: 1 }, meetsTarget: true },
      },
    };
    const s = shrinkFiguresOf(r);
    assert.equal(s.metric, 'top1');
    assert.equal(s.achieved, 1, 'from the written candidate when the summary has no achieved');
    assert.equal(s.chosenStep, 2);
    assert.equal(s.labels.int2, '2-bit (block 16)');
    assert.equal(s.labels.fp16, 'float16');
    assert.deepEqual(s.layers[0].losses, [
      { choice: 'int2', sqnrDb: 3.5, cosine: 0.7 },
      { choice: 'fp16', sqnrDb: Infinity, cosine: 1 },
    ]);
    assert.equal(s.candidates[0].bytes, undefined);
    assert.equal(s.candidates[0].error, 'ORT refused it');
    assert.deepEqual(
      s.baselines.map((b) => [b.id, b.label, b.error]),
      [
        ['uniform8', 'uniform 8-bit', undefined],
        ['uniform2', 'uniform 2-bit', 'did not run'],
      ],
    );
    assert.equal(shrinkVariant(r.options), `target top1>=0.99, at most ${formatBytes(600000)}`);
  });

  it('the written candidate is the one the summary names, not necessarily the last that met', () => {
    const met = (step: number, bytes: number) => ({
      step,
      bytes,
      fidelity: { cosine: 0.9995, sqnrDb: 31 },
      met: true,
    });
    const candidates = [met(1, 300), met(2, 200), met(3, 250)];
    const named = shrinkFiguresOf({ summary: { target: 'cosine>=0.999', chosenStep: 2 }, candidates });
    assert.equal(named.chosenStep, 2);
    const older = shrinkFiguresOf({ summary: { target: 'cosine>=0.999' }, candidates });
    assert.equal(older.chosenStep, 3, 'a report without chosenStep: the last that met');
  });

  it('a report with no candidate that met the target is not "met"', () => {
    const s = shrinkFiguresOf({
      summary: { target: 'cosine>=0.999' },
      candidates: [{ step: 1, bytes: 10, fidelity: { cosine: 0.9, sqnrDb: 10 }, met: false }],
    });
    assert.equal(s.met, false);
    assert.equal(s.chosenStep, undefined);
    assert.equal(s.achieved, undefined);
  });
});

describe('parseBytes', () => {
  it('reads bytes, decimal and binary units', () => {
    assert.equal(parseBytes('640000'), 640000);
    assert.equal(parseBytes('600 KB'), 600000);
    assert.equal(parseBytes('1.5MiB'), 1.5 * 1024 * 1024);
    assert.equal(parseBytes(' 2 gb '), 2e9);
    assert.equal(parseBytes('0.5 kib'), 512);
  });
  it('refuses what is not a size, with the reason', () => {
    assert.match(String(parseBytes('big')), /not a size/);
    assert.match(String(parseBytes('10 parsecs')), /not a unit/);
    assert.match(String(parseBytes('0')), /above 0/);
    assert.match(String(parseBytes('-5 MB')), /not a size/);
  });
});
