// Load times compare like with like: each model is loaded once untimed before either timed load.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { verifyModels } from '../../src/runtime/verifyModels';
import { mlpModel } from './cliFixtures';
import { quantizeFile } from './quantizeFiles';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-warmup-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('verifyModels load timing', () => {
  it('loads the original and the candidate for warm-up before the first timed load', async () => {
    const original = path.join(tmp, 'mlp.onnx');
    const candidate = path.join(tmp, 'mlp.int4.onnx');
    fs.writeFileSync(original, mlpModel());
    quantizeFile(original, candidate, 'nbits', { bits: 4 });
    const phases: string[] = [];
    const r = await verifyModels(original, candidate, { runs: 1 }, { onPhase: (p) => phases.push(p) });
    assert.ok(r.ok, r.error);
    const at = (phase: string) => {
      const i = phases.indexOf(phase);
      assert.ok(i >= 0, `phase "${phase}" in ${JSON.stringify(phases)}`);
      return i;
    };
    const warmOriginal = at('warming up: loading the original');
    const warmCandidate = at('warming up: loading the candidate');
    const timedOriginal = at('loading the original');
    const timedCandidate = at('loading the candidate');
    assert.ok(warmOriginal < timedOriginal && warmCandidate < timedOriginal, JSON.stringify(phases));
    assert.ok(timedOriginal < timedCandidate, JSON.stringify(phases));
    // Every load is announced: two warm-ups and two timed loads, no more.
    assert.equal(phases.filter((p) => /loading the/.test(p)).length, 4, JSON.stringify(phases));
    assert.ok(r.original.loadMs > 0 && r.candidate.loadMs > 0);
  });

  it('a candidate that does not load is found at its warm-up, with the reason', async () => {
    const original = path.join(tmp, 'ok.onnx');
    const broken = path.join(tmp, 'broken.onnx');
    fs.writeFileSync(original, mlpModel());
    // Valid protobuf, but onnxruntime refuses it (no graph).
    fs.writeFileSync(broken, new Uint8Array([0x08, 0x08]));
    const phases: string[] = [];
    const r = await verifyModels(original, broken, { runs: 1 }, { onPhase: (p) => phases.push(p) });
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /^candidate failed to load: /);
    assert.equal(phases.at(-1), 'warming up: loading the candidate');
  });
});
