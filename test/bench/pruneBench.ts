// Prune benchmark, called by the bench runner (test/bench/bench.ts): global 50% magnitude pruning of the
// benchmark model by `big-shrink prune` against the numpy implementation of the same selection, run in the
// same process tree — figures and ratios, not a test; then magnitude, Wanda and SparseGPT side by side on
// held-out data (pruneMethodsBench.ts).
// Run alone: bundle this file with esbuild (onnxruntime-node external) and call benchPrune('.bench/bench400.onnx').
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { rawByteLength } from '../../src/core/tensor/dataType';
import { openModel } from '../../src/runtime/openModel';
import { absoluteRow, row, speedupRows } from './benchRows';
import { benchPruneMethods } from './pruneMethodsBench';
import { timedRun } from './timedRun';

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'dist/cli.js');
const python = '/usr/bin/python3';
const baseline = path.join(root, 'test/bench/baseline_prune.py');

/** What `big-shrink prune --json` prints that the benchmark reads. */
interface PruneJson {
  tensors: { name: string; storage: string }[];
  summary: { weights: number; sparsityAfter: number; threshold?: number };
  timingsMs: Record<string, number>;
}

/** What baseline_prune.py prints. */
interface BaselineJson {
  seconds: number;
  loadSeconds: number;
  selectSeconds: number;
  zeroSeconds: number;
  threshold: number;
  weights: number;
  zeros: number;
}

/** The model's files (model + external data) and its largest tensor in bytes. */
function describe(modelPath: string): { files: string[]; largestTensorBytes: number } {
  const model = openModel(modelPath);
  try {
    return {
      files: [modelPath, ...model.index.externalLocations.map((l) => path.join(path.dirname(modelPath), l))],
      largestTensorBytes: Math.max(...model.index.tensors.map((t) => rawByteLength(t.dtype, t.count))),
    };
  } finally {
    model.close();
  }
}

/** Read the files once, so both sides start from the page cache. */
function warm(files: string[]): void {
  const buf = Buffer.allocUnsafe(8 << 20);
  for (const f of files) {
    const fd = fs.openSync(f, 'r');
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    fs.closeSync(fd);
  }
}

/**
 * Global 50% magnitude pruning of `modelPath` (dense storage, no verification): the time of
 * `big-shrink prune` against the numpy baseline (load, np.partition threshold, zero) on the same weights,
 * whether both chose the same threshold and zero count, and the peak RSS against 2 × the largest tensor
 * + 300 MB; then the same pruning stored as 4-bit MatMulNBits (`--storage int4`), its time and peak RSS
 * against the same bound. CPU seconds and the machine's load are printed with the times: on a shared
 * machine the wall-clock ratio follows the CPU each side needs.
 */
export async function benchPrune(modelPath: string): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-pbench-'));
  try {
    const out = path.join(work, 'bench.sparse50.onnx');
    console.log(
      `\nglobal 50% magnitude pruning (dense storage, no verification) of ${path.basename(modelPath)}\n`,
    );
    console.log(
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} on ${os.cpus().length} CPUs`,
    );
    const { files, largestTensorBytes } = describe(modelPath);
    warm(files);
    const args = [cli, 'prune', modelPath, '--method', 'magnitude', '--scope', 'global', '--sparsity', '0.5'];
    const ours = await timedRun('node', [...args, '--no-verify', '-o', out, '--force', '--json']);
    const report = JSON.parse(ours.stdout) as PruneJson;
    // The baseline prunes the weights the CLI pruned, in its order (ties at the threshold go in reading order).
    const names = path.join(work, 'names.json');
    fs.writeFileSync(names, JSON.stringify(report.tensors.map((t) => t.name)));
    fs.rmSync(out, { force: true });
    const base = await timedRun(python, [baseline, modelPath, '--sparsity', '0.5', '--names', names]);
    const b = JSON.parse(base.stdout.trim().split('\n').at(-1)!) as BaselineJson;

    const t = report.timingsMs;
    const planSeconds = (t.plan ?? 0) / 1000;
    row('big-shrink prune --scope global 50% (wall)', `${ours.seconds.toFixed(2)} s`, '', undefined);
    row('  of which planning (read + select)', `${planSeconds.toFixed(2)} s`, '', undefined);
    row(
      '  of which read + zero + write (streamed)',
      `${((t.write ?? 0) / 1000).toFixed(2)} s`,
      '',
      undefined,
    );
    row('  of which measuring (sha256, gzip)', `${((t.measure ?? 0) / 1000).toFixed(2)} s`, '', undefined);
    row('  CPU time (user + system, all threads)', `${ours.cpuSeconds.toFixed(2)} s`, '', undefined);
    row('numpy baseline (whole process)', `${base.seconds.toFixed(2)} s`, '', undefined);
    row('  of which load + np.partition + zero', `${b.seconds.toFixed(2)} s`, '', undefined);
    row('  CPU time of the python process (incl. import)', `${base.cpuSeconds.toFixed(2)} s`, '', undefined);
    row(
      '  of which load / select / zero',
      `${b.loadSeconds.toFixed(1)}/${b.selectSeconds.toFixed(1)}/${b.zeroSeconds.toFixed(1)} s`,
      '',
      undefined,
    );
    // One rule for every ratio: whole process against whole process (the parts above are figures only).
    for (const line of speedupRows('prune speed-up over the baseline', base, ours, 3)) console.log(line);

    // The same selection: threshold and number of zeros (k = round(0.5 × N), ties in reading order).
    const zeros = Math.round(report.summary.sparsityAfter * report.summary.weights);
    const same =
      b.weights === report.summary.weights &&
      b.zeros === zeros &&
      report.summary.threshold !== undefined &&
      Math.fround(b.threshold) === Math.fround(report.summary.threshold);
    row(
      `same threshold and zeros (${(b.weights / 1e6).toFixed(1)} M weights)`,
      same ? `${(zeros / 1e6).toFixed(2)} M same` : 'DIFFERENT',
      'identical',
      same,
    );
    if (!same)
      console.log(
        `  big-shrink: threshold ${report.summary.threshold}, ${zeros} zeros of ${report.summary.weights}; ` +
          `numpy: threshold ${b.threshold}, ${b.zeros} zeros of ${b.weights}`,
      );

    const bound = (2 * largestTensorBytes) / 2 ** 20 + 300;
    console.log(absoluteRow('prune peak RSS', ours.peakRssMb, 'MB', { atMost: bound }));
    row('numpy baseline peak RSS', `${base.peakRssMb.toFixed(0)} MB`, '', undefined);

    // Pruned then 4-bit (--storage int4): streamed like the dense run, so the same memory bound holds.
    const out4 = path.join(work, 'bench.sparse50.int4.onnx');
    const int4 = await timedRun('node', [...args, '--storage', 'int4', '--no-verify', '-o', out4, '--json']);
    const quantized = (JSON.parse(int4.stdout) as PruneJson).tensors.filter(
      (t) => t.storage === 'MatMulNBits',
    ).length;
    row('prune --storage int4 (wall)', `${int4.seconds.toFixed(2)} s`, '', undefined);
    row('  CPU time (user + system, all threads)', `${int4.cpuSeconds.toFixed(2)} s`, '', undefined);
    row(
      `  weights pruned and quantized`,
      `${quantized} of ${report.tensors.length}`,
      'all',
      quantized === report.tensors.length,
    );
    console.log(absoluteRow('prune --storage int4 peak RSS', int4.peakRssMb, 'MB', { atMost: bound }));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  await benchPruneMethods();
}
