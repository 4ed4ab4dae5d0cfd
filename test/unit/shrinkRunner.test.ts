// The extension's CLI runner in plain Node: a run writes the model and both reports; a CLI error becomes
// { file, reason } and leaves nothing; a cancel at any point (planning, writing, verifying) kills the
// child's process group and leaves the folder exactly as it was.
// The ~100 MB model takes about a second to plan and a second to verify, which leaves each phase
// wide enough to cancel in.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { outputFiles, parseCliError, runShrink } from '../../src/extension/shrinkRunner';
import { TEST_MODELS } from '../testModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = TEST_MODELS;
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-runner-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const listing = (dir: string) => fs.readdirSync(dir).sort();
const quantizeArgs = (model: string, out: string) => ['quantize', model, '--bits', '4', '-o', out];

describe('runShrink', () => {
  let big = '';
  before(() => {
    // ~100 MB of MatMul/Gemm weights: about a second of planning and a second of verification.
    big = path.join(tmp, 'big', 'bench.onnx');
    fs.mkdirSync(path.dirname(big));
    execFileSync('node', [path.join(REPO, 'scripts', 'make-sample-model.js'), big, '--megabytes', '100'], {
      stdio: 'ignore',
    });
  });

  it('runs the CLI in a child process and finds the model and both reports', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'ok-'));
    const model = path.join(dir, 'bert.onnx');
    fs.copyFileSync(path.join(MODELS, 'tiny_bert_random_inline.onnx'), model);
    const out = path.join(dir, 'bert.int4.onnx');
    const lines: string[] = [];
    const r = await runShrink(
      { cli: CLI, args: quantizeArgs(model, out), output: out },
      { onProgress: (l) => lines.push(l) },
    );
    assert.equal(r.status, 'done', r.stderr);
    assert.equal(r.exitCode, 0);
    assert.equal(r.reportJson, outputFiles(out).reportJson);
    assert.deepEqual(listing(dir), [
      'bert.int4.onnx',
      'bert.int4.report.json',
      'bert.int4.report.md',
      'bert.onnx',
    ]);
    assert.ok(
      lines.some((l) => l.startsWith('wrote ')),
      lines.join('\n'),
    );
    const report = JSON.parse(fs.readFileSync(r.reportJson!, 'utf8'));
    assert.equal(report.summary.tensors, 14);
  });

  it('turns a CLI error into the file and the reason, and leaves nothing', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'bad-'));
    const model = path.join(dir, 'notes.onnx');
    fs.writeFileSync(model, 'not a model\n');
    const out = path.join(dir, 'notes.int4.onnx');
    const r = await runShrink({ cli: CLI, args: quantizeArgs(model, out), output: out });
    assert.equal(r.status, 'failed');
    assert.equal(r.exitCode, 1);
    assert.equal(r.error?.file, model);
    assert.ok(r.error!.reason.length > 0);
    assert.deepEqual(listing(dir), ['notes.onnx']);
  });

  it('reports a model with nothing to quantize by name, and writes nothing', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'none-'));
    const model = path.join(dir, 'bert.onnx');
    fs.copyFileSync(path.join(MODELS, 'tiny_bert_random_inline.onnx'), model);
    const out = path.join(dir, 'bert.int4.onnx');
    const r = await runShrink({
      cli: CLI,
      args: [...quantizeArgs(model, out), '--exclude', '.'],
      output: out,
    });
    assert.equal(r.status, 'failed');
    assert.equal(r.error?.file, model);
    assert.match(r.error!.reason, /no MatMul\/Gemm weights to quantize/);
    assert.deepEqual(listing(dir), ['bert.onnx']);
  });

  for (const when of ['planning', 'a file appears', 'verifying'] as const) {
    it(`cancelled while ${when}: kills the child and leaves the folder as it was`, async () => {
      const dir = path.dirname(big);
      const was = listing(dir);
      const out = path.join(dir, 'bench.int4.onnx');
      const controller = new AbortController();
      const t0 = Date.now();
      const run = runShrink(
        { cli: CLI, args: quantizeArgs(big, out), output: out },
        { signal: controller.signal },
      );
      let seen: string[] = [];
      if (when === 'planning') {
        await new Promise((r) => setTimeout(r, 300));
      } else {
        // Cancel the moment the run has put a file beside the model that stays until the run moves it (a
        // temp file or the output), or once the output model is in place (ONNX Runtime is comparing it
        // with the original). The writability probe (`….tmp-PID-probe…`) is left out: the CLI removes it
        // at once, so a cancel that saw only the probe may find nothing left to remove.
        const ready = (files: string[]) =>
          when === 'verifying'
            ? files.includes('bench.int4.onnx')
            : files.some((f) => !/\.tmp-\d+-probe/.test(f));
        while (Date.now() - t0 < 30000) {
          seen = listing(dir).filter((f) => !was.includes(f));
          if (ready(seen)) break;
          await new Promise((r) => setTimeout(r, 5));
        }
        assert.ok(ready(seen), `the run wrote ${seen.join(', ') || 'nothing'}`);
      }
      controller.abort();
      const r = await run;
      assert.equal(r.status, 'cancelled', r.stderr);
      assert.deepEqual(listing(dir), was, `left behind after cancelling (${seen.join(', ')})`);
      if (when !== 'planning') assert.ok(r.removed.length > 0, 'it removed what it saw');
    });
  }
});

describe('parseCliError', () => {
  it('splits "big-shrink: error: FILE: REASON"', () => {
    assert.deepEqual(parseCliError('big-shrink: error: /m/a.onnx: nothing to quantize: no MatMul\n', 1), {
      file: '/m/a.onnx',
      reason: 'nothing to quantize: no MatMul',
    });
    assert.deepEqual(
      parseCliError('verifying: load (2 s)\nbig-shrink: error: C:\\m\\a.onnx: truncated\n', 1),
      {
        file: 'C:\\m\\a.onnx',
        reason: 'truncated',
      },
    );
  });

  it('keeps a reason without a file, and a usage error', () => {
    assert.deepEqual(parseCliError('big-shrink: error: out of memory\n', 1), {
      file: '',
      reason: 'out of memory',
    });
    assert.deepEqual(parseCliError('big-shrink: --bits takes 2, 4 or 8\n\nusage: …\n', 2), {
      file: '',
      reason: '--bits takes 2, 4 or 8',
    });
    assert.equal(parseCliError('', 134).reason, 'the command line exited with code 134');
  });
});
