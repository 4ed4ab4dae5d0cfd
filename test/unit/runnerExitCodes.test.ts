// The extension's runners read the CLI's exit code 3 as "written, with a verdict to show", not as a failure
// that removes the output.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseCliError, runShrink } from '../../src/extension/shrinkRunner';
import { REPO_ROOT } from '../testModels';
import { mlpModel } from './cliFixtures';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-runner3-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('runShrink and exit code 3', () => {
  it('a fidelity FAIL keeps the output and the report, with the CLI’s reason', async () => {
    const model = path.join(tmp, 'mlp.onnx');
    fs.writeFileSync(model, mlpModel());
    const out = path.join(tmp, 'mlp.int2.onnx');
    const r = await runShrink({ cli: CLI, args: ['quantize', model, '--bits', '2', '-o', out], output: out });
    assert.equal(r.exitCode, 3, r.stderr);
    assert.equal(r.status, 'done');
    assert.equal(r.reportJson, path.join(tmp, 'mlp.int2.report.json'));
    assert.deepEqual(r.removed, []);
    assert.equal(r.error?.file, out);
    assert.match(
      r.error!.reason,
      /^fidelity FAIL: the lowest output cosine is [\d.]+ .*the output was written/,
    );
    assert.ok(fs.existsSync(out));
  });

  it('parseCliError reads "big-shrink: FAIL: FILE: REASON"', () => {
    assert.deepEqual(
      parseCliError(
        'fidelity: fail; report: /m/a.int2.report.md\nbig-shrink: FAIL: /m/a.int2.onnx: fidelity FAIL: low\n',
        3,
      ),
      { file: '/m/a.int2.onnx', reason: 'fidelity FAIL: low' },
    );
  });
});
