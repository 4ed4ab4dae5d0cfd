// The statistics worker pool (dist/worker.js in real threads): indexing, streamed results equal to
// the in-thread computation, throttled progress, cancellation, and a model that cannot be opened.
// Run: node esbuild.js && node --test dist/test/unit/workerPool.test.js
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { tensorStatistics } from '../../src/core/inspect/tensorStatistics';
import { tensorSweep } from '../../src/core/sensitivity/tensorSweep';
import { RemoteError } from '../../src/protocol/messaging';
import type { TensorStatsResult } from '../../src/protocol/worker';
import { openModel } from '../../src/runtime/openModel';
import { CancelledError, WorkerPool, type StatsJobProgress } from '../../src/runtime/workerPool';

const WORKER = path.resolve(__dirname, '../../worker.js');
const MODELS = process.env.BIG_SHRINK_MODELS || path.resolve(__dirname, '../../../../shared/models');
const MODEL = path.join(MODELS, 'tiny_bert_random_extdata.onnx');

describe('WorkerPool', { skip: !fs.existsSync(MODEL) && `no ${MODEL}` }, () => {
  const pool = new WorkerPool(WORKER, { size: 2, batchBytes: 64 * 1024 });
  after(() => pool.dispose());

  it('indexes a model in a worker', async () => {
    const { report, elapsedMs } = await pool.index(MODEL, 'a');
    assert.ok(report.tensors.length >= 40, `${report.tensors.length} tensors`);
    assert.equal(report.file.externalFiles.length, 1);
    assert.ok(elapsedMs >= 0);
  });

  it('streams the same statistics as the in-thread computation, on both threads', async () => {
    const model = openModel(MODEL);
    try {
      const tasks = model.index.tensors.map((t) => ({ id: t.id, bytes: t.storedBytes }));
      const results: TensorStatsResult[] = [];
      const progress: StatsJobProgress[] = [];
      await pool.computeStats(MODEL, 'a', tasks, {
        bins: 32,
        onResult: (r) => results.push(r),
        onProgress: (p) => progress.push(p),
        progressIntervalMs: 0,
      });
      assert.equal(pool.threads, 2);
      assert.equal(results.length, tasks.length);
      assert.deepEqual(new Set(results.map((r) => r.id)), new Set(tasks.map((t) => t.id)));
      for (const r of results) {
        const expected = tensorStatistics(model.index, r.id, model.source, model.resolveExternal, {
          bins: 32,
        });
        assert.equal(r.error, undefined);
        assert.deepEqual(r.stats, expected.stats);
        assert.equal(r.hash, expected.hash);
      }
      const last = progress.at(-1)!;
      assert.equal(last.done, tasks.length);
      assert.equal(last.bytesDone, last.bytesTotal);
    } finally {
      model.close();
    }
  });

  it('reports progress at most once per interval', async () => {
    const model = openModel(MODEL);
    const tasks = model.index.tensors.map((t) => ({ id: t.id, bytes: t.storedBytes }));
    model.close();
    const progress: StatsJobProgress[] = [];
    await pool.computeStats(MODEL, 'b', tasks, {
      bins: 16,
      onResult: () => {},
      onProgress: (p) => progress.push(p),
    });
    // A fast job: only the final report (no intermediate one within the first second).
    assert.ok(progress.length <= 2, `got ${progress.length}`);
    assert.equal(progress.at(-1)!.done, tasks.length);
  });

  it('cancels a job: rejects with CancelledError, delivers nothing after, keeps working', async () => {
    const model = openModel(MODEL);
    const tasks = model.index.tensors.map((t) => ({ id: t.id, bytes: t.storedBytes }));
    model.close();
    const abort = new AbortController();
    let after = 0;
    let cancelled = false;
    const job = pool.computeStats(MODEL, 'c', [...tasks, ...tasks, ...tasks], {
      bins: 64,
      signal: abort.signal,
      onResult: () => {
        if (cancelled) after++;
      },
    });
    abort.abort();
    cancelled = true;
    await assert.rejects(job, CancelledError);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(after, 0);
    const again: TensorStatsResult[] = [];
    await pool.computeStats(MODEL, 'c', tasks, { bins: 8, onResult: (r) => again.push(r) });
    assert.equal(again.length, tasks.length);
  });

  it('sweeps in the workers (what: sweep) equal tensorSweep; an urgent job overtakes queued batches', async () => {
    const model = openModel(MODEL);
    try {
      const weights = model.index.tensors.filter((t) => t.dims.length === 2 && t.dtype === 1);
      const all = model.index.tensors.map((t) => ({ id: t.id, bytes: t.storedBytes }));
      // One thread, so the order is the queue's: statistics of every tensor queue up first (many small
      // batches of 8), then the urgent sweep, which must run right after the batch in progress.
      const single = new WorkerPool(WORKER, { size: 1, batchTensors: 8 });
      let statsDone = 0;
      let statsAtFirstSweep = -1;
      const sweeps: TensorStatsResult[] = [];
      try {
        const stats = single.computeStats(MODEL, 'd', all, { bins: 8, onResult: () => statsDone++ });
        await single.computeStats(
          MODEL,
          'd',
          weights.map((t) => ({ id: t.id, bytes: 1 })),
          {
            bins: 0,
            what: 'sweep',
            blockSize: 16,
            urgent: true,
            onResult: (r) => {
              if (sweeps.push(r) === 1) statsAtFirstSweep = statsDone;
            },
          },
        );
        await stats;
      } finally {
        single.dispose();
      }
      assert.ok(
        statsAtFirstSweep >= 0 && statsAtFirstSweep <= 8,
        `${statsAtFirstSweep} of ${all.length} statistics before the first sweep`,
      );
      assert.equal(sweeps.length, weights.length);
      for (const r of sweeps) {
        assert.equal(r.stats, undefined);
        const expected = tensorSweep(model.index, r.id, model.source, model.resolveExternal, {
          blockSize: 16,
        });
        assert.deepEqual(r.sweep, expected);
      }
    } finally {
      model.close();
    }
  });

  it('background batches wait behind statistics queued after them', async () => {
    const model = openModel(MODEL);
    const weights = model.index.tensors.filter((t) => t.dims.length === 2 && t.dtype === 1);
    model.close();
    const single = new WorkerPool(WORKER, { size: 1, batchTensors: 1 });
    try {
      let swept = 0;
      const background = single.computeStats(
        MODEL,
        'e',
        weights.map((t) => ({ id: t.id, bytes: 1 })),
        { bins: 0, what: 'sweep', background: true, onResult: () => swept++ },
      );
      // Queued after every sweep batch, yet run before all but the one in progress.
      await single.computeStats(MODEL, 'e', [{ id: weights[0].id, bytes: 1 }], {
        bins: 8,
        onResult: () => {},
      });
      assert.ok(swept <= 1, `${swept} of ${weights.length} background sweeps ran first`);
      await background;
      assert.equal(swept, weights.length);
    } finally {
      single.dispose();
    }
  });

  it('answers a file that is not a model with its reason', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pool-'));
    const bad = path.join(dir, 'bad.onnx');
    fs.writeFileSync(bad, 'not a model at all');
    await assert.rejects(
      pool.index(bad, 'bad'),
      (e: unknown) => e instanceof RemoteError && e.file.endsWith('bad.onnx') && e.reason.length > 0,
    );
  });
});
