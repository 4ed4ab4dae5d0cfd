// The model editor's data-free sweeps over every weight of the benchmark model, on the worker pool as the
// editor runs them in the background, against the statistics of the same tensors on the same pool (the
// sweeps start only once the statistics are in, so they never delay opening). Prints its rows.
import * as path from 'node:path';
import { summarizeModel } from '../../src/core/inspect/summarizeModel';
import { isSweepable } from '../../src/core/sensitivity/sweepPoints';
import { openModel } from '../../src/runtime/openModel';
import { WorkerPool } from '../../src/runtime/workerPool';

const row = (what: string, value: string, target: string, ok: boolean | undefined) =>
  console.log(
    `${what.padEnd(46)} ${value.padStart(14)}   target ${target.padEnd(22)} ${ok === undefined ? '' : ok ? 'met' : 'MISSED'}`,
  );

export async function benchSweep(
  model: string,
  workerScript = path.join(__dirname, '..', '..', 'worker.js'),
) {
  const opened = openModel(model);
  const summary = summarizeModel(opened.index, opened.file);
  opened.close();
  const weights = summary.tensors.filter(isSweepable).map((t) => ({ id: t.id, bytes: t.bytes }));
  const mb = weights.reduce((s, t) => s + t.bytes, 0) / 1e6;
  const pool = new WorkerPool(workerScript);
  try {
    const timed = async (what: 'stats' | 'sweep', tasks = weights) => {
      const t0 = performance.now();
      let errors = 0;
      await pool.computeStats(model, 'bench', tasks, {
        bins: 64,
        what,
        urgent: what === 'sweep',
        onResult: (r) => (errors += r.error ? 1 : 0),
      });
      if (errors) throw new Error(`${errors} tensors failed to ${what}`);
      return (performance.now() - t0) / 1000;
    };
    await timed('stats'); // warm the page cache and the workers
    const stats = await timed('stats');
    const sweep = await timed('sweep');
    // What a user waits for: the sweep of the largest weight after selecting it.
    const largest = weights.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const one = await timed('sweep', [largest]);
    console.log(
      `\nmodel editor sweeps: ${weights.length} weights, ${mb.toFixed(0)} MB, ${pool.threads} threads`,
    );
    row(
      `select -> sweep of the largest (${(largest.bytes / 1e6).toFixed(0)} MB)`,
      `${(one * 1000).toFixed(0)} ms`,
      '≤ 1000 ms',
      one <= 1,
    );
    row('statistics of every weight (pool)', `${stats.toFixed(2)} s`, '', undefined);
    row('sweeps of every weight (pool, background)', `${sweep.toFixed(2)} s`, '', undefined);
    row('sweep throughput', `${(mb / sweep).toFixed(0)} MB/s`, '', undefined);
  } finally {
    pool.dispose();
  }
}
