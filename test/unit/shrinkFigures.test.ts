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

const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = process.env.BIG_SHRINK_MODELS ?? path.resolve(REPO, '..', 'shared', 'models');
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-shrink-figures-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('shrinkFiguresOf', () => {
  it('reads a real shrink report: target, layers with both losses, every candidate, both baselines', () => {
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
    // More than one candidate, so the plot is a curve; the written one is the last that met the target.
    assert.ok(r.candidates.length > 1, `${r.candidates.length} candidates`);
    assert.equal(s.candidates.length, r.candidates.length);
    const lastMet = (r.candidates as Json[]).filter((c) => c.met).at(-1);
    assert.equal(s.chosenStep, lastMet?.step);
    s.candidates.forEach((c, i) => {
      const raw = r.candidates[i] as Json;
      assert.deepEqual(
        [c.step, c.bytes, c.met, c.counts, c.fidelity, c.raised],
        [raw.step, raw.bytes, raw.met, raw.counts, raw.fidelity, raw.raised],
      );
    });
    assert.deepEqual(
      s.baselines.map((b) => [b.id, b.label, b.bytes, b.meetsTarget, b.fidelity]),
      ['uniform8', 'uniform4'].map((id) => [
        id,
        id === 'uniform8' ? 'uniform 8-bit' : 'uniform 4-bit',
        r.baselines[id].bytes,
        r.baselines[id].meetsTarget,
        r.baselines[id].fidelity,
      ]),
    );
    assert.equal(s.layers.length, r.layers.length);
    s.layers.forEach((l, i) => {
      const raw = r.layers[i] as Json;
      assert.deepEqual(
        [l.name, l.op, l.params, l.choice, l.why],
        [raw.name, raw.op, raw.params, raw.choice, raw.why],
      );
      const want = ['int4', 'int8'].flatMap((p) =>
        raw[p] ? [{ choice: p, sqnrDb: raw[p].sqnrDb, cosine: raw[p].cosine }] : [],
      );
      assert.deepEqual(l.losses, want, l.name);
    });
    assert.equal(s.labels.int4, '4-bit');
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
