// The runners' shared helper in plain Node: a run answers the CLI's --json parsed, with its progress
// lines; a failure names the file and the reason; text that is not JSON fails; a cancel kills the child.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ActivationsReport } from '../../src/cli/activationsCommand';
import { runCliJson } from '../../src/extension/runCliJson';
import { REPO_ROOT, testModel } from '../testModels';
import { dataOnlyUnitFixture } from './compactFixtures';
import { tempDir } from './dataTestKit';

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

describe('runCliJson', () => {
  const dir = tempDir('runclijson');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const model = path.join(dir, 'mlp.onnx');
  fs.writeFileSync(model, dataOnlyUnitFixture());

  it('answers the parsed JSON and passes on the progress lines', async () => {
    const progress: [number, number, string][] = [];
    const r = await runCliJson<ActivationsReport>(CLI, ['activations', model, '--json'], {
      cwd: dir,
      progress: /^activations: (\d+)\/(\d+) runs/,
      onProgress: (done, total, line) => progress.push([done, total, line]),
    });
    assert.equal(r.status, 'done', JSON.stringify(r.error));
    assert.equal(r.exitCode, 0);
    assert.equal(r.value!.model, model);
    assert.deepEqual(JSON.parse(r.json!), r.value);
    assert.ok(progress.length >= 1);
    const [done, total] = progress.at(-1)!;
    assert.equal(done, total, 'the last progress line is the end');
    assert.ok(done >= 1);
  });

  it('fails with the file and the reason on a non-zero exit, and when the answer is not JSON', async () => {
    const junk = path.join(dir, 'junk.onnx');
    fs.writeFileSync(junk, 'not a model');
    const bad = await runCliJson(CLI, ['activations', junk, '--json'], { cwd: dir });
    assert.equal(bad.status, 'failed');
    assert.equal(bad.exitCode, 1);
    assert.equal(bad.error?.file, junk);
    assert.ok(bad.error!.reason.length > 0);
    assert.equal(bad.value, undefined);
    const usage = await runCliJson(CLI, ['activations', '--json'], { cwd: dir });
    assert.equal(usage.exitCode, 2);
    assert.match(usage.error!.reason, /activations takes one MODEL/);
    const text = await runCliJson(CLI, ['inspect', BERT], { cwd: dir });
    assert.equal(text.status, 'failed');
    assert.equal(text.exitCode, 0);
    assert.match(text.error!.reason, /answered no JSON/);
  });

  it('a cancel kills the child; an aborted signal starts nothing', async () => {
    const abort = new AbortController();
    const running = runCliJson(CLI, ['activations', BERT, '--json', '--samples', '100000'], {
      cwd: dir,
      signal: abort.signal,
    });
    setTimeout(() => abort.abort(), 200);
    const r = await running;
    assert.equal(r.status, 'cancelled');
    assert.equal(r.value, undefined);
    assert.ok(r.pid === undefined || !alive(r.pid), 'the child is gone');
    const never = await runCliJson(CLI, ['activations', model, '--json'], { cwd: dir, signal: abort.signal });
    assert.equal(never.status, 'cancelled');
    assert.equal(never.pid, undefined);
  });
});
