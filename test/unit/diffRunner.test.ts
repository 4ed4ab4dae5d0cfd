// The extension's diff runner in plain Node: a run returns big-shrink diff --json with histograms of the
// tensors that differ; an unreadable model becomes { file, reason }; a cancel kills the child.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { ModelDiff } from '../../src/core/diff/modelDiff';
import { runDiff } from '../../src/extension/diffRunner';
import { REPO_ROOT, testModel } from '../testModels';
import { quantizeFile } from './quantizeFiles';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const BERT = testModel('tiny_bert_random_inline.onnx');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('runDiff returns the comparison with both histograms of every tensor that differs', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-diffrun-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'bert.int4.onnx');
  quantizeFile(BERT, out, 'nbits');
  const progress: number[][] = [];
  const r = await runDiff(CLI, BERT, out, { bins: 16, onProgress: (d, n) => progress.push([d, n]) });
  assert.equal(r.status, 'done', JSON.stringify(r.error));
  const diff = JSON.parse(r.json!) as ModelDiff;
  assert.equal(progress.at(-1)?.[0], diff.tensors.length);
  for (const row of diff.tensors) {
    assert.equal(row.histogramA !== undefined, row.status !== 'same' && row.status !== 'added', row.name);
    assert.equal(row.histogramB !== undefined, row.status !== 'same' && row.status !== 'removed', row.name);
    if (row.histogramA && row.histogramB) {
      assert.equal(row.histogramA.counts.length, 16);
      assert.deepEqual([row.histogramA.min, row.histogramA.max], [row.histogramB.min, row.histogramB.max]);
    }
  }
  assert.deepEqual(fs.readdirSync(dir), ['bert.int4.onnx'], 'the CLI writes no file');
});

test('runDiff: an unreadable model fails naming the file; a cancel kills the child', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-diffrun-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const junk = path.join(dir, 'junk.onnx');
  fs.writeFileSync(junk, 'not a model');
  const bad = await runDiff(CLI, BERT, junk, { bins: 0 });
  assert.equal(bad.status, 'failed');
  assert.equal(bad.exitCode, 1);
  assert.equal(bad.error?.file, junk);

  const abort = new AbortController();
  const running = runDiff(CLI, BERT, BERT, { bins: 64, signal: abort.signal });
  setImmediate(() => abort.abort());
  const r = await running;
  assert.equal(r.status, 'cancelled');
  assert.equal(r.json, undefined);
  assert.ok(r.pid === undefined || !alive(r.pid), 'the child is gone');
});
