// The statistics worker pool (dist/worker.js in real threads): indexing, streamed results equal to
// the in-thread computation, throttled progress, cancellation, and a model that cannot be opened.
// Run: node esbuild.js && node --test dist/test/unit/workerPool.test.js
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { tensorStatistics } from '../../src/core/inspect/tensorStatistics';
import { RemoteError } from '../../src/protocol/messaging';
import type { TensorStatsResult } from '../../src/protocol/worker';
import { openModel } from '../../src/runtime/openModel';
import { CancelledError, WorkerPool, type StatsJobProgress } from '../../src/runtime/workerPool';

const WORKER = path.resolve(__dirname, '../../worker.js');
const SHARED = process.env.BIG_SHRINK_SHARED || path.resolve(__dirname, '../../../../shared');
const MODEL = path.join(SHARED, 'models', 'tiny_bert_random_extdata.onnx');

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
