import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { diffModels } from '../../src/core/diff/diffModels';
import { openModel } from '../../src/runtime/openModel';
import { REPO_ROOT, testModel } from '../testModels';
import { quantizeFile } from './quantizeFiles';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const BERT = testModel('tiny_bert_random_inline.onnx');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'diff', ...args], { encoding: 'utf8' });

test('diff --json prints what diffModels finds, exit 0 whether or not the models differ', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-diffcli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'bert.int4.onnx');
  quantizeFile(BERT, out, 'nbits');
  const r = run(BERT, out, '--json');
  assert.equal(r.status, 0, r.stderr);
  const printed = JSON.parse(r.stdout);
  const a = openModel(BERT);
  const b = openModel(out);
  try {
    const expected = diffModels(
      { ...a, file: { ...a.file, path: BERT } },
      { ...b, file: { ...b.file, path: out } },
    );
    assert.deepEqual(printed, JSON.parse(JSON.stringify(expected)));
  } finally {
    a.close();
    b.close();
  }
  // The contract's fields, on every row.
  for (const row of printed.tensors) {
    for (const k of ['name', 'status', 'dtypeA', 'dtypeB', 'dimsA', 'dimsB', 'bytesA', 'bytesB'])
      assert.ok(k in row, k);
    for (const k of ['weightSqnrDb', 'maxAbsError', 'sparsityA', 'sparsityB']) assert.ok(k in row, k);
  }
  for (const k of ['identical', 'tensors', 'nodes', 'opsets', 'irVersion', 'metadata'])
    assert.ok(k in printed, k);
  assert.equal(printed.identical, false);

  const same = run(BERT, BERT);
  assert.equal(same.status, 0);
  assert.match(same.stdout, /identical/);
  const table = run(BERT, out);
  assert.equal(table.status, 0);
  assert.match(table.stdout, /changed +\S+ -> \S+_Q4/);

  const bins = JSON.parse(run(BERT, out, '--json', '--bins', '8', '--histograms', 'pooler.weight').stdout);
  const withHist = bins.tensors.filter((x: { histogramA?: unknown }) => x.histogramA);
  assert.deepEqual(
    withHist.map((x: { name: string }) => x.name),
    ['pooler.weight'],
  );
  assert.equal(withHist[0].histogramB.counts.length, 8);
});

test('diff names an unreadable model (exit 1) and refuses bad usage (exit 2)', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-diffcli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const junk = path.join(dir, 'junk.onnx');
  fs.writeFileSync(junk, 'not a model at all');
  const bad = run(BERT, junk);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /junk\.onnx/);
  const missing = run(path.join(dir, 'missing.onnx'), BERT);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /missing\.onnx: no such file/);
  assert.equal(run(BERT).status, 2);
  assert.equal(run(BERT, BERT, '--frobnicate').status, 2);
  const help = run('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /big-shrink diff A B/);
});
