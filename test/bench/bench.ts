// `npm run bench`: figures against absolute targets, and speed-ups of one whole process over another (ours
// against a baseline, both timed by timedRun) — not a test. Rows follow benchRows.ts.
// Generates the transformer-like benchmark model (≥400 MB of float32 weights in external data) under .bench/,
// then times `big-shrink inspect --json` against the onnx + numpy baseline, the index alone, and peak RSS.
// BENCH_BIG=1 adds the ≥2.5 GB external-data model for the RSS bound (needs ~3 GB of disk and a few minutes).
// BENCH_ONLY=inspect,quantize,prune,sensitivity,sweep,dataaware,graph,compact,shrinkobjective (comma-separated) runs
// only those benches;
// BENCH_ONLY=llm (not in the default set: about an hour) runs the ~1.1 B-parameter decoder bench (llmBench.ts).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openModel } from '../../src/runtime/openModel';
import { absoluteRow, row, speedupRows } from './benchRows';
import { benchCompact } from './compactBench';
import { benchDataAware } from './dataAwareBench';
import { benchGraph } from './graphBench';
import { benchLlm } from './llmBench';
import { benchPrune } from './pruneBench';
import { benchQuantize } from './quantBench';
import { benchSensitivity } from './sensitivityBench';
import { benchShrinkObjective } from './shrinkObjectiveBench';
import { benchStats } from './statsBench';
import { benchSweep } from './sweepBench';
import { timedRun } from './timedRun';

const root = path.resolve(__dirname, '../../..');
const benchDir = path.join(root, '.bench');
const cli = path.join(root, 'dist/cli.js');
const python = '/usr/bin/python3';

interface Made {
  path: string;
  bytes: number;
  largestTensorBytes: number;
}

function makeModel(name: string, targetMb: number): Made {
  const out = path.join(benchDir, name);
  const meta = `${out}.json`;
  if (fs.existsSync(meta) && fs.existsSync(out)) return JSON.parse(fs.readFileSync(meta, 'utf8')) as Made;
  fs.mkdirSync(benchDir, { recursive: true });
  console.log(`generating ${name} (${targetMb} MB of weights) …`);
  const line = execFileSync(
    python,
    [path.join(root, 'test/bench/make_bench_model.py'), '--out', out, '--target-mb', String(targetMb)],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    },
  );
  const made = JSON.parse(line.trim().split('\n').at(-1)!) as Made;
  fs.writeFileSync(meta, JSON.stringify(made));
  return made;
}

/** bench.ts reads none of the inspect output it times: a small stdout cap. */
const timed = (cmd: string, args: string[]) => timedRun(cmd, args, 1 << 16);

/** The benches BENCH_ONLY names (all when unset). */
const only = new Set(
  (
    process.env.BENCH_ONLY ??
    'inspect,quantize,prune,sensitivity,sweep,dataaware,graph,compact,shrinkobjective'
  )
    .split(',')
    .map((s) => s.trim()),
);

async function main(): Promise<void> {
  // The graph and llm benches make their own models: they need no 400 MB model.
  if (only.has('graph')) await benchGraph();
  if (only.has('llm')) await benchLlm();
  if (only.has('shrinkobjective')) await benchShrinkObjective();
  if ([...only].every((p) => p === 'graph' || p === 'llm' || p === 'shrinkobjective')) return;
  const made = makeModel('bench400.onnx', 400);
  const mb = made.bytes / 1e6;
  console.log(
    `\nbenchmark model: ${made.path} — ${mb.toFixed(0)} MB incl. external data, largest tensor ${(made.largestTensorBytes / 1e6).toFixed(1)} MB\n`,
  );
  if (only.has('inspect')) await benchInspect(made, mb);
  if (only.has('quantize')) await benchQuantize(made.path);
  if (only.has('prune')) await benchPrune(made.path);
  if (only.has('sensitivity')) await benchSensitivity();
  if (only.has('sweep')) await benchSweep(made.path);
  if (only.has('dataaware')) await benchDataAware();
  if (only.has('compact')) await benchCompact();
}

/** inspect --json against the onnx + numpy baseline, the index alone, computeStats in memory, peak RSS. */
async function benchInspect(made: Made, mb: number): Promise<void> {
  const t0 = performance.now();
  const opened = openModel(made.path);
  const indexMs = performance.now() - t0;
  opened.close();

  // Warm the page cache once so both sides read from memory.
  await timed('node', [cli, 'inspect', made.path, '--json']);
  const ours = await timed('node', [cli, 'inspect', made.path, '--json']);
  const base = await timed(python, [path.join(root, 'test/bench/baseline_inspect.py'), made.path]);
  const throughput = mb / ours.seconds;
  console.log(absoluteRow('index alone (overview, in process)', indexMs, 'ms', { atMost: 100 }, 1));
  row('big-shrink inspect --json (whole process)', `${ours.seconds.toFixed(2)} s`, '', undefined);
  row('onnx + numpy baseline (whole process)', `${base.seconds.toFixed(2)} s`, '', undefined);
  for (const line of speedupRows('speed-up over the baseline', base, ours, 10)) console.log(line);
  console.log(absoluteRow('inspect throughput', throughput, 'MB/s', { atLeast: 600 }));
  row('inspect peak RSS', `${ours.peakRssMb.toFixed(0)} MB`, '', undefined);
  const stats = benchStats();
  row('computeStats, one thread, float32', `${stats.mbPerSec.toFixed(0)} MB/s`, '', undefined);
  row('computeStats with 2:4 / zero channels', `${stats.mbPerSecWithLayout.toFixed(0)} MB/s`, '', undefined);

  if (process.env.BENCH_BIG === '1') {
    const big = makeModel('bench2600.onnx', 2600);
    const run = await timed('node', [cli, 'inspect', big.path, '--json']);
    const bound = (2 * big.largestTensorBytes) / 2 ** 20 + 300;
    row(`inspect ${(big.bytes / 1e9).toFixed(2)} GB model`, `${run.seconds.toFixed(1)} s`, '', undefined);
    console.log(absoluteRow('  peak RSS', run.peakRssMb, 'MB', { atMost: bound }));
  } else {
    console.log('\n(set BENCH_BIG=1 for the ≥2.5 GB peak-RSS run)');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
