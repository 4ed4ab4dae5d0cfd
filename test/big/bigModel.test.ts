// The `big` suite: a ~2.8 GB random-weight decoder (scripts/make-llm-model.js: fp32, external data, GQA,
// KV-cache inputs, vocab 151936 × hidden 2048 like Qwen-1.5B's embedding) is made in the system temp folder
// and run through sensitivity, shrink and GPTQ quantize by the CLI, each in a child measured by
// /usr/bin/time (Debian package `time`): its peak RSS must stay within one onnxruntime session of the
// original (measured the same way) + 2 × the largest weight + 1 GiB, and what it writes must load and run in
// onnxruntime-node. Heavy: minutes on two cores; it prints each step's time and peak memory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SESSION_LOAD_PEAK } from '../../src/runtime/sensitivity';
import { REPO_ROOT } from '../testModels';

const GIB = 2 ** 30;
const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const MAKER = path.join(REPO_ROOT, 'scripts', 'make-llm-model.js');
const TIME = '/usr/bin/time';
const SHAPE = ['--hidden', '2048', '--layers', '2', '--vocab', '151936', '--dtype', 'fp32'];

/** Runs `node args…` under /usr/bin/time; its exit status, output, seconds and peak RSS in bytes. */
function measured(args: string[], cwd: string) {
  const t0 = Date.now();
  // The CLI runs as a program, as `big-shrink` does (its launcher sets glibc's memory settings).
  const command = args[0] === CLI ? args : [process.execPath, ...args];
  const r = spawnSync(TIME, ['-f', 'BIG_SHRINK_MAXRSS_KB=%M', ...command], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const kb = /BIG_SHRINK_MAXRSS_KB=(\d+)/.exec(r.stderr ?? '');
  assert.ok(kb, `no peak RSS from ${TIME}: ${r.stderr}`);
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    seconds: (Date.now() - t0) / 1000,
    peak: Number(kb[1]) * 1024,
  };
}

/** A child script: loads a model in onnxruntime-node, runs one 16-token window with an empty past. */
const RUNNER = `
process.env.ORT_DISABLE_TELEMETRY ??= '1';
const ort = require(${JSON.stringify(require.resolve('onnxruntime-node'))});
(async () => {
  const [file, kvHeads, headSize] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
  const s = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  const S = 16;
  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from({ length: S }, (_, i) => BigInt(i * 9001 % 151936)), [1, S]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
  };
  for (const name of s.inputNames)
    if (name.startsWith('past_key_values.'))
      feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headSize]);
  const out = await s.run(feeds);
  const logits = out.logits;
  let finite = 0;
  for (const v of logits.data) if (Number.isFinite(v)) finite++;
  console.log(JSON.stringify({ dims: logits.dims, finite, count: logits.data.length }));
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

describe('big model (~2.8 GB, external data) in bounded memory', { timeout: 40 * 60_000 }, () => {
  let dir = '';
  let model = '';
  let shape: { kvHeads: number; headSize: number; largestWeightBytes: number; bytes: number };
  let base = 0;
  const bound = () => base + 2 * shape.largestWeightBytes + GIB;
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const report = (step: string, r: { seconds: number; peak: number }) =>
    console.log(
      `big: ${step}: ${r.seconds.toFixed(1)} s, peak RSS ${mb(r.peak)} (bound ${mb(bound())} = session of the original ${mb(base)} + 2 × largest weight ${mb(shape.largestWeightBytes)} + 1 GiB)`,
    );

  /** The written model loads and runs in onnxruntime-node: logits [1, 16, vocab], all finite. */
  function assertRuns(file: string) {
    const r = spawnSync(
      process.execPath,
      [path.join(dir, 'run.js'), file, String(shape.kvHeads), String(shape.headSize)],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, `${file} does not run in onnxruntime-node: ${r.stderr}`);
    const got = JSON.parse(r.stdout) as { dims: number[]; finite: number; count: number };
    assert.deepEqual(got.dims, [1, 16, 151936]);
    assert.equal(got.finite, got.count, 'logits are not all finite');
  }

  before(() => {
    assert.ok(fs.existsSync(TIME), `${TIME} is missing: install the Debian package "time"`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-big-'));
    model = path.join(dir, 'decoder.onnx');
    fs.writeFileSync(path.join(dir, 'run.js'), RUNNER);
    const dry = spawnSync(process.execPath, [MAKER, model, ...SHAPE, '--dry-run'], { encoding: 'utf8' });
    assert.equal(dry.status, 0, dry.stderr);
    shape = JSON.parse(dry.stdout);
    const t0 = Date.now();
    const made = spawnSync(process.execPath, [MAKER, model, ...SHAPE], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    console.log(`big: made the model in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${made.stdout.trim()}`);
    assert.ok(shape.bytes > 2.5e9, `the model is ${shape.bytes} bytes, past 2 GiB expected`);
    const original = measured(
      [path.join(dir, 'run.js'), model, String(shape.kvHeads), String(shape.headSize)],
      dir,
    );
    assert.equal(original.status, 0, original.stderr);
    base = original.peak;
    report('onnxruntime alone: one session of the original, one window', original);
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sensitivity of two layers chosen by --layers, past 2 GiB, one candidate at a time', () => {
    const r = measured(
      [CLI, 'sensitivity', model, '--layers', 'layers\\.1\\.(attn\\.o_proj|mlp\\.down_proj)', '--json'],
      dir,
    );
    report('sensitivity --layers (2 layers)', r);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      layers: { name: string; outputSqnrDb: number; error?: string }[];
      workers: number;
      workersNote?: string;
    };
    assert.deepEqual(out.layers.map((l) => l.name).sort(), [
      'model.layers.1.attn.o_proj.weight',
      'model.layers.1.mlp.down_proj.weight',
    ]);
    for (const l of out.layers) {
      assert.equal(l.error, undefined, l.error);
      assert.ok(Number.isFinite(l.outputSqnrDb) && l.outputSqnrDb > 5, `${l.name}: ${l.outputSqnrDb} dB`);
    }
    // Two candidates at once only when a second session, at its loading peak, fits the bound
    // (2 × the largest weight + 1 GiB): not for this model.
    const second = SESSION_LOAD_PEAK * shape.bytes <= 2 * shape.largestWeightBytes + GIB;
    assert.equal(second, false);
    assert.equal(out.workers, second ? Math.min(2, os.availableParallelism()) : 1);
    if (!second) assert.match(out.workersNote ?? '', /one candidate at a time/);
    assert.ok(r.peak <= bound(), `peak RSS ${mb(r.peak)} over the bound ${mb(bound())}`);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('.big-shrink-candidate-')),
      [],
      'a candidate file was left behind',
    );
  });

  it('shrink --precisions int4,int8 writes a model that runs, within the bound', () => {
    const out = path.join(dir, 'decoder.shrink.onnx');
    const r = measured(
      [
        CLI,
        'shrink',
        model,
        '--target',
        'cosine>=0.99',
        '--precisions',
        'int4,int8',
        '--layers',
        'layers\\.1\\.attn\\.(q|o)_proj',
        '-o',
        out,
        '--json',
      ],
      dir,
    );
    report('shrink --precisions int4,int8 (2 layers)', r);
    assert.ok(r.status === 0 || r.status === 3, `exit ${r.status}: ${r.stderr}`);
    assert.ok(fs.existsSync(out));
    const rep = JSON.parse(fs.readFileSync(path.join(dir, 'decoder.shrink.report.json'), 'utf8'));
    // Past 1 GiB the layer losses are estimated from one calibration pass, not one session per layer.
    assert.equal(rep.summary.losses, 'estimated');
    const choices = (rep.layers as { choice: string }[]).map((l) => l.choice);
    assert.equal(choices.length, 2);
    for (const c of choices) assert.ok(['int4', 'int8'].includes(c), c);
    assertRuns(out);
    assert.ok(r.peak <= bound(), `peak RSS ${mb(r.peak)} over the bound ${mb(bound())}`);
  });

  it('quantize --method gptq writes a model that runs, within the bound', () => {
    const out = path.join(dir, 'decoder.gptq.onnx');
    const r = measured(
      [
        CLI,
        'quantize',
        model,
        '--bits',
        '4',
        '--method',
        'gptq',
        // Two layers (GPTQ on the 151936-wide head would take long here); the others stay float.
        '--exclude',
        '^(?!.*layers[./]1[./]attn[./](k|o)_proj)',
        '-o',
        out,
        '--json',
      ],
      dir,
    );
    report('quantize --method gptq (2 layers)', r);
    assert.ok(r.status === 0 || r.status === 3, `exit ${r.status}: ${r.stderr}`);
    const rep = JSON.parse(fs.readFileSync(path.join(dir, 'decoder.gptq.report.json'), 'utf8'));
    const rows = rep.dataAware?.layers as { name: string; sqnrDb: number }[];
    assert.equal(rep.dataAware.method, 'gptq');
    assert.deepEqual(rows.map((l) => l.name).sort(), [
      'model.layers.1.attn.k_proj.weight',
      'model.layers.1.attn.o_proj.weight',
    ]);
    for (const l of rows) assert.ok(Number.isFinite(l.sqnrDb), `${l.name}: ${l.sqnrDb}`);
    assertRuns(out);
    assert.ok(r.peak <= bound(), `peak RSS ${mb(r.peak)} over the bound ${mb(bound())}`);
  });
});
