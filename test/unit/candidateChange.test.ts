// What the Reports panel says a shrink candidate changed (webview/reportsPanel/candidateChange.ts), read
// from reports through shrinkFiguresOf: a real `--refine` report of tiny BERT (raised steps, then lowered
// ones while backing off) and a report of a search that fell back to a uniform configuration.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { shrinkFiguresOf } from '../../src/extension/shrinkFiguresOf';
import { candidateChange, candidateOutcome, changeText } from '../../webview/reportsPanel/candidateChange';
import { shortBaselineLabel, shortPrecisionLabel } from '../../webview/reportsPanel/shortLabels';
import { TEST_MODELS } from '../testModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = TEST_MODELS;
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-candidate-change-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('candidateChange', () => {
  it('a --refine report: start, the layers raised, then the layers lowered while backing off', () => {
    const model = path.join(tmp, 'bert.onnx');
    fs.copyFileSync(path.join(MODELS, 'tiny_bert_random_inline.onnx'), model);
    // Exit 3 when the held-out evaluation samples miss what the calibration samples met: the report is
    // written either way, and it is what this test reads.
    const run = spawnSync('node', [CLI, 'shrink', model, '--target', 'sqnr>=40', '--refine'], {
      stdio: 'ignore',
    });
    assert.ok(run.status === 0 || run.status === 3, `shrink exit ${run.status}`);
    const r = JSON.parse(fs.readFileSync(path.join(tmp, 'bert.shrink.report.json'), 'utf8')) as Json;
    const s = shrinkFiguresOf(r);
    const raw = r.candidates as Json[];
    assert.ok(
      raw.some((c) => c.lowered),
      'backing off lowered some layer',
    );
    const label = (id: string) => r.precisionLabels[id] as string;
    const short = (id: string) => shortPrecisionLabel(label(id));
    s.candidates.forEach((c, i) => {
      const want = raw[i].lowered
        ? {
            kind: 'lowered',
            layer: raw[i].lowered.name,
            text: `lowered ${label(raw[i].lowered.from)} → ${label(raw[i].lowered.to)}`,
            short: `lowered ${short(raw[i].lowered.from)} → ${short(raw[i].lowered.to)}`,
          }
        : raw[i].raised
          ? {
              kind: 'raised',
              layer: raw[i].raised.name,
              text: `${label(raw[i].raised.from)} → ${label(raw[i].raised.to)}`,
              short: `${short(raw[i].raised.from)} → ${short(raw[i].raised.to)}`,
            }
          : { kind: 'start', text: 'start', short: 'start' };
      assert.deepEqual(candidateChange(s, c), want, `candidate ${c.step}`);
    });
    // The one written is the one the summary names; a lowered step that missed was undone.
    assert.equal(candidateOutcome(s, s.candidates[r.summary.chosenStep - 1]), 'written');
    const undone = s.candidates.find((c) => c.lowered && !c.met);
    assert.ok(undone, 'some lowered step missed the target');
    assert.equal(candidateOutcome(s, undone), 'misses, undone');
  });

  it('a fallback: the uniform configuration named by its label, then the steps lowered from it', () => {
    const fidelity = { cosine: 0.9999, sqnrDb: 41 };
    const s = shrinkFiguresOf({
      summary: { target: 'sqnr>=40', chosenStep: 3, fallback: 'uniform8' },
      precisionLabels: { int4: '4-bit (block 32)', int8: '8-bit (block 32)' },
      baselines: { uniform8: { bytes: 700, fidelity, meetsTarget: true } },
      candidates: [
        { step: 1, bytes: 720, fidelity: { cosine: 0.99, sqnrDb: 30 }, met: false },
        { step: 2, fallback: 'uniform8', bytes: 700, fidelity, met: true },
        {
          step: 3,
          lowered: { name: 'fc.weight', from: 'int8', to: 'int4' },
          bytes: 650,
          fidelity,
          met: true,
        },
        {
          step: 4,
          lowered: { name: 'head.weight', from: 'int8', to: 'int4' },
          bytes: 640,
          fidelity: { cosine: 0.99, sqnrDb: 35 },
          met: false,
        },
      ],
    });
    assert.equal(s.fallback, 'uniform8');
    assert.deepEqual(
      s.candidates.map((c) => [candidateChange(s, c).kind, changeText(s, c), candidateOutcome(s, c)]),
      [
        ['start', 'start', 'misses'],
        ['fallback', 'falls back to uniform 8-bit', 'meets'],
        ['lowered', 'fc.weight lowered 8-bit (block 32) → 4-bit (block 32)', 'written'],
        ['lowered', 'head.weight lowered 8-bit (block 32) → 4-bit (block 32)', 'misses, undone'],
      ],
    );
    assert.equal(candidateChange(s, s.candidates[1]).short, 'falls back to All 8-bit');
    assert.equal(candidateChange(s, s.candidates[2]).short, 'lowered 8b32 → 4b32');
  });
});

describe('shortBaselineLabel', () => {
  it('keeps what tells the baselines apart and drops what the side bar has no room for', () => {
    assert.equal(shortBaselineLabel('uniform 8-bit'), 'All 8-bit');
    assert.equal(shortBaselineLabel('uniform 4-bit (block 128)'), 'All 4-bit b128');
    assert.equal(shortBaselineLabel('uniform 2-bit (block 32)'), 'All 2-bit b32');
    assert.equal(shortBaselineLabel('uniform float16'), 'All float16');
    assert.equal(shortBaselineLabel('mixed'), 'mixed');
    assert.equal(shortPrecisionLabel('4-bit (block 128)'), '4b128');
    assert.equal(shortPrecisionLabel('2-bit (block 32)'), '2b32');
    assert.equal(shortPrecisionLabel('float16'), 'fp16');
    assert.equal(shortPrecisionLabel('float (unchanged)'), 'float');
    assert.equal(shortPrecisionLabel('8-bit'), '8-bit');
  });
});
