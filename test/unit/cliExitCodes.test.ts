// One exit-code contract for every transform (dist/cli.js): 0 done with fidelity pass or warn; 1 error with
// nothing written; 3 written but FAIL or not comparable (the message says the output was written). Outputs
// that cannot be written are refused before any work; onnxruntime's own log lines stay off stderr.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT, testModel } from '../testModels';
import { mlpModel, weightlessModel } from './cliFixtures';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-exitcodes-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fresh folder holding `name` made from `bytes`; returns the model's path. */
function modelIn(name: string, bytes: Uint8Array): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'm-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}
const listing = (file: string) => fs.readdirSync(path.dirname(file)).sort();
const report = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
/** onnxruntime's own coloured log lines ("[E:onnxruntime:, …]", "[W:onnxruntime:…"). */
const ORT_LOG = /\[[EWIV]:onnxruntime/;

/** The transforms that write a model, with the output names they choose. */
const WRITERS = [
  { name: 'quantize', args: ['--bits', '4'], out: 'int4' },
  { name: 'convert', args: ['--fp16'], out: 'fp16' },
  { name: 'prune', args: ['--method', 'magnitude', '--sparsity', '0.1'], out: 'sparse10' },
] as const;

describe('exit codes: 0 pass/warn, 1 nothing written, 3 written but FAIL or not comparable', () => {
  for (const w of WRITERS) {
    it(`${w.name}: 0 when it verifies, 3 (output kept) when the models cannot be compared, 1 with nothing to do`, () => {
      const good = modelIn('mlp.onnx', mlpModel());
      const ok = cli(w.name, good, ...w.args);
      assert.equal(ok.status, 0, ok.stderr);
      assert.doesNotMatch(ok.stderr, /FAIL/);
      assert.match(report(good.replace(/\.onnx$/, `.${w.out}.report.json`)).summary.status, /^(pass|warn)$/);

      const bad = modelIn('bad.onnx', mlpModel({ unrunnable: true }));
      const r = cli(w.name, bad, ...w.args);
      assert.equal(r.status, 3, r.stderr);
      const out = bad.replace(/\.onnx$/, `.${w.out}.onnx`);
      assert.ok(fs.existsSync(out), 'the output stays');
      const written = report(out.replace(/\.onnx$/, '.report.json'));
      assert.equal(written.summary.status, 'fail');
      assert.equal(written.verification.ok, false);
      assert.match(
        written.verification.error,
        /failed to (run|load)|does not run on synthesized inputs/,
        'the report says why',
      );
      assert.match(
        r.stderr,
        new RegExp(`big-shrink: FAIL: ${out}: the models could not be compared: .*the output was written`),
      );
      assert.doesNotMatch(r.stderr, ORT_LOG);

      const none = modelIn('relu.onnx', weightlessModel());
      const n = cli(w.name, none, ...w.args);
      assert.equal(n.status, 1, n.stderr);
      assert.match(n.stderr, new RegExp(`^big-shrink: error: ${none}: `, 'm'));
      assert.deepEqual(listing(none), ['relu.onnx'], 'nothing written');
    });
  }

  it('quantize: a fidelity FAIL (2-bit) exits 3 and says the output was written', () => {
    const model = modelIn('mlp.onnx', mlpModel());
    const r = cli('quantize', model, '--bits', '2', '--json');
    assert.equal(r.status, 3, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.summary.status, 'fail');
    assert.equal(json.verification.ok, true);
    assert.ok(json.verification.minCosine < 0.95, `cosine ${json.verification.minCosine}`);
    assert.match(
      r.stderr,
      /big-shrink: FAIL: .*mlp\.int2\.onnx: fidelity FAIL: the lowest output cosine is [\d.]+ .*the output was written/,
    );
    assert.deepEqual(listing(model), [
      'mlp.int2.onnx',
      'mlp.int2.report.json',
      'mlp.int2.report.md',
      'mlp.onnx',
    ]);
  });

  it('quantize: the weightless model says "no MatMul/Gemm weights to quantize"', () => {
    const r = cli('quantize', modelIn('relu.onnx', weightlessModel()), '--bits', '4');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no MatMul\/Gemm weights to quantize/);
  });

  it('prune: a fidelity FAIL (90% of the weights zeroed) exits 3', () => {
    const model = modelIn('mlp.onnx', mlpModel());
    const r = cli('prune', model, '--method', 'magnitude', '--sparsity', '0.9');
    assert.equal(r.status, 3, r.stderr);
    assert.match(
      r.stderr,
      /big-shrink: FAIL: .*mlp\.sparse90\.onnx: fidelity FAIL: .*the output was written/,
    );
    assert.ok(fs.existsSync(model.replace(/\.onnx$/, '.sparse90.report.json')));
  });

  it('verify: 0 on a pass, 3 on a FAIL or models that cannot be compared, 1 for a file that is no model', () => {
    const model = modelIn('mlp.onnx', mlpModel());
    assert.equal(
      cli('quantize', model, '--bits', '2', '--no-verify').status,
      0,
      '--no-verify: nothing to judge',
    );
    assert.equal(cli('quantize', model, '--bits', '4', '--no-verify').status, 0);
    const pass = cli('verify', model, model.replace(/\.onnx$/, '.int4.onnx'));
    assert.equal(pass.status, 0, pass.stderr);
    const fail = cli('verify', model, model.replace(/\.onnx$/, '.int2.onnx'));
    assert.equal(fail.status, 3, fail.stderr);
    assert.match(fail.stderr, /big-shrink: FAIL: .*fidelity FAIL/);
    const bad = modelIn('bad.onnx', mlpModel({ unrunnable: true }));
    const apart = cli('verify', bad, bad);
    assert.equal(apart.status, 3, apart.stderr);
    assert.match(
      apart.stderr,
      /the models could not be compared: (original failed to run|the original model does not run on synthesized inputs)/,
    );
    assert.doesNotMatch(apart.stderr, ORT_LOG);
    const notes = path.join(path.dirname(model), 'notes.onnx');
    fs.writeFileSync(notes, 'not a model\n');
    const text = cli('verify', model, notes);
    assert.equal(text.status, 1, text.stderr);
    assert.match(text.stderr, /notes\.onnx: not an ONNX model/);
  });

  it('sensitivity: 0 with a table, 1 with "no MatMul/Gemm weights to measure" (as quantize and shrink)', () => {
    const ok = cli('sensitivity', modelIn('mlp.onnx', mlpModel()), '--json');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).layers.length, 2);
    const none = modelIn('relu.onnx', weightlessModel());
    const measured = cli('sensitivity', none, '--json');
    assert.equal(measured.status, 1, measured.stderr);
    assert.match(measured.stderr, /^big-shrink: error: .*relu\.onnx: no MatMul\/Gemm weights to measure/m);
    assert.equal(measured.stdout, '', 'no empty table');
    const shrunk = cli('shrink', none, '--target', 'cosine>=0.99');
    assert.equal(shrunk.status, 1, shrunk.stderr);
    assert.match(shrunk.stderr, /no MatMul\/Gemm weights to shrink/);
    assert.deepEqual(listing(none), ['relu.onnx']);
  });

  it('shrink: 0 when the written model meets the target; 1 (nothing written) when no candidate does', () => {
    const model = modelIn('mlp.onnx', mlpModel());
    const met = cli('shrink', model, '--target', 'cosine>=0.99');
    assert.equal(met.status, 0, met.stderr);
    assert.ok(fs.existsSync(model.replace(/\.onnx$/, '.shrink.onnx')));
    const other = modelIn('mlp.onnx', mlpModel());
    const unmet = cli('shrink', other, '--target', 'sqnr>=300');
    assert.equal(unmet.status, 1, unmet.stderr);
    assert.deepEqual(listing(other), ['mlp.onnx']);
  });
});

describe('an output that cannot be written is refused before the work starts', () => {
  const blocker = path.join(tmp, 'a-file');
  fs.writeFileSync(blocker, 'not a folder');
  const underFile = path.join(blocker, 'out', 'model.onnx');
  const missing = path.join(tmp, 'no-such-folder', 'model.onnx');
  const cases: { name: string; args: (model: string, out: string) => string[]; work: RegExp }[] = [
    { name: 'quantize', args: (m, o) => ['quantize', m, '--bits', '4', '-o', o], work: /verifying|wrote/ },
    {
      name: 'quantize --method gptq',
      args: (m, o) => ['quantize', m, '--method', 'gptq', '-o', o],
      work: /calibrat|verifying|wrote/,
    },
    { name: 'convert', args: (m, o) => ['convert', m, '--fp16', '-o', o], work: /verifying|wrote/ },
    {
      name: 'prune',
      args: (m, o) => ['prune', m, '--method', 'nm', '-o', o],
      work: /pruning|verifying|wrote/,
    },
    {
      name: 'prune --save-mask',
      args: (m, o) => ['prune', m, '--method', 'nm', '--save-mask', o.replace(/\.onnx$/, '.safetensors')],
      work: /pruning|verifying|wrote/,
    },
    {
      name: 'shrink',
      args: (m, o) => ['shrink', m, '--target', 'cosine>=0.99', '-o', o],
      work: /measuring|candidate|uniform|verifying|wrote/,
    },
    { name: 'rewrite', args: (m, o) => ['rewrite', m, '-o', o], work: /wrote/ },
  ];
  for (const c of cases) {
    it(`${c.name}: under a regular file (ENOTDIR) and in a missing folder: exit 1 at once, nothing written`, () => {
      for (const [out, reason] of [
        [underFile, `cannot be written: ${blocker} is a file, not a folder`],
        [missing, `cannot be written: the folder ${path.dirname(missing)} does not exist`],
      ] as const) {
        const model = modelIn('mlp.onnx', mlpModel());
        const r = cli(...c.args(model, out));
        assert.equal(r.status, 1, `${out}: ${r.stderr}`);
        assert.ok(r.stderr.includes(reason), r.stderr);
        assert.doesNotMatch(r.stderr + r.stdout, c.work, 'no work was done first');
        assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
        assert.deepEqual(listing(model), ['mlp.onnx']);
      }
    });
  }
  it('nothing was created where the outputs would have gone', () => {
    assert.equal(fs.readFileSync(blocker, 'utf8'), 'not a folder');
    assert.ok(!fs.existsSync(path.dirname(missing)));
  });
});

describe("onnxruntime's own log lines do not reach the terminal", () => {
  it('a model onnxruntime fails to run (its Reshape cannot fit): our message, no [E:onnxruntime…]', () => {
    const bad = modelIn('bad.onnx', mlpModel({ unrunnable: true }));
    for (const args of [
      ['verify', bad, bad],
      ['sensitivity', bad],
    ]) {
      const r = cli(...args);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.doesNotMatch(r.stderr, ORT_LOG, r.stderr);
      assert.match(r.stderr, /^big-shrink: .*Reshape/m, 'the error still reaches the user as ours');
    }
  });

  it('verify of silero VAD on synthesized inputs: no [E:onnxruntime…] line', () => {
    const silero = testModel('silero_vad_legacy.onnx');
    const r = cli('verify', silero, silero);
    assert.doesNotMatch(r.stderr, ORT_LOG, r.stderr);
  });
});
