// ONNX Runtime's Linux build writes `.ses` and `mat-debug-<pid>.log` into the temp folder unless its
// telemetry is off: a verification through the CLI (sessions on a worker thread) must leave the temp
// folder it was given empty.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { testModel, REPO_ROOT } from '../testModels';

test('verify leaves nothing in the temp folder (ORT telemetry off)', (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-ort-tmp-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
  delete env.ORT_DISABLE_TELEMETRY;
  const model = testModel('tiny_bert_random_inline.onnx');
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'cli.js'), 'verify', model, model], {
    env,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(tmp), [], 'files left in the temp folder');
});
