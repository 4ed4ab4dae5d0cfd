// The extension's sensitivity runner in plain Node: a run returns the CLI's JSON with per-layer progress;
// a cancel after the first progress line kills the child (no process left, no file written); a model
// onnxruntime cannot load becomes { file, reason }.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runSensitivity } from '../../src/extension/sensitivityRunner';
import { TEST_MODELS } from '../testModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = TEST_MODELS;
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-sens-runner-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function copy(name: string, as: string): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'm-'));
  const model = path.join(dir, as);
  fs.copyFileSync(path.join(MODELS, name), model);
  return model;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('runSensitivity', () => {
  it('returns the report of big-shrink sensitivity --json with progress per layer', async () => {
    const model = copy('tiny_bert_random_inline.onnx', 'bert.onnx');
    const progress: [number, number][] = [];
    const r = await runSensitivity(CLI, model, {
      bits: 8,
      blockSize: 64,
      onProgress: (done, total) => progress.push([done, total]),
    });
    assert.equal(r.status, 'done', JSON.stringify(r.error));
    const report = JSON.parse(r.json!) as { bits: number; blockSize: number; layers: unknown[] };
    assert.equal(report.bits, 8);
    assert.equal(report.blockSize, 64);
    assert.ok(report.layers.length >= 4);
    assert.deepEqual(progress[0], [0, report.layers.length]);
    assert.deepEqual(progress.at(-1), [report.layers.length, report.layers.length]);
    assert.deepEqual(fs.readdirSync(path.dirname(model)), ['bert.onnx'], 'the CLI writes no file');
  });

  it('a cancel during the run kills the child and its group', async () => {
    const model = copy('ortgenai_tiny_random_gpt2_fp32_past.onnx', 'gpt2.onnx');
    const abort = new AbortController();
    let cancelledAt: [number, number] | undefined;
    const r = await runSensitivity(CLI, model, {
      bits: 4,
      blockSize: 32,
      signal: abort.signal,
      onProgress: (done, total) => {
        if (cancelledAt) return;
        cancelledAt = [done, total];
        abort.abort();
      },
    });
    assert.equal(r.status, 'cancelled');
    assert.ok(cancelledAt && cancelledAt[0] < cancelledAt[1], `cancelled at ${cancelledAt}`);
    assert.equal(r.json, undefined);
    assert.ok(r.pid !== undefined && !alive(r.pid), 'the child is gone');
    assert.deepEqual(fs.readdirSync(path.dirname(model)), ['gpt2.onnx']);
  });

  it('a model onnxruntime cannot load: failed, with the file and the reason', async () => {
    const model = copy('onnx-backend/pytorch-converted/test_Linear/model.onnx', 'linear.onnx');
    const r = await runSensitivity(CLI, model, { bits: 4, blockSize: 32 });
    assert.equal(r.status, 'failed');
    assert.equal(r.exitCode, 1);
    assert.equal(r.error?.file, model);
    assert.match(r.error?.reason ?? '', /onnxruntime cannot load it/);
  });
});
