import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { ModelError } from '../../src/core/errors';
import { VerifyCancelledError, verifyInWorker, type VerifyProgress } from '../../src/runtime/verifyInWorker';
import { verifyModels } from '../../src/runtime/verifyModels';
import { TEST_MODELS } from '../testModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = TEST_MODELS;
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-vworker-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const bert = path.join(MODELS, 'tiny_bert_random_inline.onnx');
const pitch = path.join(MODELS, 'basic_pitch_nmp.onnx');
/** basic_pitch on a batch of 16 clips: about a second per run on this CPU, so a job lasts several seconds. */
const slow = { dims: { unk__749: 16 }, runs: 5 };

describe('verifyInWorker', () => {
  it('gives the same figures as verifyModels in this thread, for two different models', async () => {
    // A 4-bit copy: its outputs differ from the original's, so a worker that compared a model with itself
    // (SQNR Infinity) or swapped the two (the SQNR's signal is the original's) gives other figures.
    const candidate = path.join(tmp, 'bert.int4.onnx');
    const q = spawnSync(
      process.execPath,
      [CLI, 'quantize', bert, '--bits', '4', '--no-verify', '-o', candidate],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(q.status, 0, q.stderr);
    const here = await verifyModels(bert, candidate, { runs: 1 });
    assert.ok(here.ok, here.error);
    assert.ok(
      here.outputs.every((o) => Number.isFinite(o.sqnrDb) && o.cosine < 1),
      `the models differ: ${JSON.stringify(here.outputs)}`,
    );
    const there = await verifyInWorker(bert, candidate, { runs: 1 });
    assert.equal(there.ok, true);
    assert.deepEqual(there.outputs, here.outputs);
    assert.deepEqual(there.inputs, here.inputs);
    assert.equal(there.minCosine, here.minCosine);
    assert.deepEqual([there.original.path, there.candidate.path], [bert, candidate]);
    assert.deepEqual(
      [there.original.bytes, there.candidate.bytes],
      [here.original.bytes, here.candidate.bytes],
    );
  });

  it('reports progress about once per interval, with the step it is on', async () => {
    const seen: VerifyProgress[] = [];
    const r = await verifyInWorker(
      pitch,
      pitch,
      { ...slow, runs: 2 },
      { onProgress: (p) => seen.push(p), progressIntervalMs: 250 },
    );
    assert.ok(r.ok, r.error);
    assert.ok(seen.length >= 4, `${seen.length} progress reports`);
    assert.ok(
      seen.some((p) => /running the (original|candidate) \d\/3/.test(p.phase)),
      seen.map((p) => p.phase).join(),
    );
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].elapsedMs > seen[i - 1].elapsedMs);
  });

  it('cancels between steps: rejects with VerifyCancelledError and this process carries on', async () => {
    const controller = new AbortController();
    const t0 = performance.now();
    let abortedAt = 0;
    const job = verifyInWorker(pitch, pitch, slow, {
      signal: controller.signal,
      progressIntervalMs: 100,
      onProgress: (p) => {
        if (!abortedAt && /running the original 2/.test(p.phase)) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    });
    await assert.rejects(job, VerifyCancelledError);
    const total = performance.now() - t0;
    // The full job is 12 runs and 2 loads; a cancel waits for at most the run in flight.
    assert.ok(abortedAt > 0, 'reached the second run');
    assert.ok(
      performance.now() - abortedAt < 0.5 * total + 3000,
      `stopped ${performance.now() - abortedAt} ms after the abort`,
    );
    // An already-aborted signal never starts a worker.
    await assert.rejects(
      verifyInWorker(pitch, pitch, slow, { signal: AbortSignal.abort() }),
      VerifyCancelledError,
    );
  });

  it('an input problem comes back as a ModelError naming the file', async () => {
    const dir = path.join(tmp, 'in');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'input_ids.npy'), 'not numpy');
    await assert.rejects(
      verifyInWorker(bert, bert, { inputsDir: dir, runs: 1 }),
      (e: unknown) =>
        e instanceof ModelError && /input_ids\.npy$/.test(e.file) && /not a \.npy file/.test(e.reason),
    );
  });
});

describe('transforms: Ctrl+C during verification leaves nothing behind; spilled tensors write the same bytes', () => {
  it('SIGINT while verifying removes the written model and writes no report', async () => {
    const input = path.join(tmp, 'pitch.onnx');
    fs.copyFileSync(pitch, input);
    const output = path.join(tmp, 'pitch.int8.qdq.onnx');
    const child = spawn(
      process.execPath,
      [CLI, 'quantize', input, '--format', 'qdq', '--bits', '8', '--dims', 'unk__749=16'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const poll = setInterval(() => {
        if (/verifying: running/.test(stderr) || (fs.existsSync(output) && stderr.includes('verifying'))) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 50);
      child.on('exit', (c) => {
        clearInterval(poll);
        resolve(c);
      });
    });
    assert.equal(code, 1, stderr);
    assert.match(stderr, /verification cancelled; the output was removed/);
    assert.deepEqual(
      fs.readdirSync(tmp).filter((f) => f.startsWith('pitch.')),
      ['pitch.onnx'],
    );
  });

  it('BIG_SHRINK_SPILL: the spilled run writes byte-identical files and leaves no spill file', () => {
    const dir = path.join(tmp, 'spill');
    fs.mkdirSync(dir);
    for (const file of [
      'tiny_bert_random_extdata.onnx',
      'tiny_bert_random_extdata.onnx.data',
      'dtln_model_2.onnx',
    ]) {
      fs.copyFileSync(path.join(MODELS, file), path.join(dir, file));
    }
    const runs: [string, string[]][] = [
      ['tiny_bert_random_extdata.onnx', ['quantize', '--bits', '4']],
      ['dtln_model_2.onnx', ['quantize', '--format', 'qdq', '--bits', '4']],
      ['dtln_model_2.onnx', ['convert', '--fp16']],
    ];
    for (const [file, [command, ...args]] of runs) {
      const outs = ['plain', 'spilled'].map((mode) => {
        // The same output name in two folders: the model records its external data file's name.
        fs.mkdirSync(path.join(dir, mode), { recursive: true });
        const out = path.join(dir, mode, 'out.onnx');
        const r = spawnSync(
          process.execPath,
          [CLI, command, path.join(dir, file), ...args, '-o', out, '--force', '--no-verify'],
          {
            encoding: 'utf8',
            env: { ...process.env, ...(mode === 'spilled' ? { BIG_SHRINK_SPILL: '0' } : {}) },
          },
        );
        assert.equal(r.status, 0, r.stderr);
        const report = JSON.parse(fs.readFileSync(out.replace(/\.onnx$/, '.report.json'), 'utf8'));
        if (mode === 'spilled') assert.ok(report.spilledBytes > 1000, `spilled ${report.spilledBytes} bytes`);
        else assert.equal(report.spilledBytes, undefined);
        const data = fs.existsSync(`${out}.data`) ? fs.readFileSync(`${out}.data`) : undefined;
        return { model: fs.readFileSync(out), data };
      });
      assert.ok(outs[0].model.equals(outs[1].model), `${file} ${command}: model files differ`);
      assert.equal(
        Boolean(outs[0].data && outs[1].data && outs[0].data.equals(outs[1].data)),
        Boolean(outs[0].data),
      );
      assert.deepEqual(
        fs.readdirSync(path.join(dir, 'spilled')).filter((f) => f.includes('.spill-')),
        [],
      );
    }
  });
});
