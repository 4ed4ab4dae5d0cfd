import { ModelError } from '../core/errors';
import {
  defaultSensitivityWorkers,
  measureSensitivity,
  SensitivityCancelledError,
  type SensitivityReport,
} from '../runtime/sensitivity';
import { intOption, parseArgs, UsageError } from './args';
import { VERIFY_OPTIONS, verifyOptionsOf, whileInterruptible } from './transformRun';

export const sensitivityUsage = `big-shrink sensitivity MODEL [--bits 2|4|8] [--block N] [--sparsity F] [--workers N] [--layers REGEX]
                      [--inputs DIR] [--dims NAME=V,...] [--fill INPUT=V,...] [--json]
  Per-layer sensitivity: quantizes one MatMul/Gemm weight at a time (MatMulNBits, round-to-nearest, as
  quantize does), runs each candidate in onnxruntime-node on the same inputs as the original and ranks the
  layers by the output SQNR they cost (most sensitive first). Also a data-free sweep per weight: weight
  SQNR at 2/3/4/8 bits and at 25/50/75% magnitude sparsity. Candidates hold only the changed weight as new
  bytes (onnxruntime reads the rest from the original's external data, so models past 2 GiB work) and are
  measured on two worker threads at once (one onnxruntime thread each; one on big models). Progress on
  stderr; Ctrl+C cancels. Exit 1 when no MatMul/Gemm weight is there to measure.
  --bits N         bits of the measured quantization (default 4)
  --block N        block size along K: 16, 32 (default), 64, 128 or 256
  --sparsity F     measure magnitude pruning of each layer to F (0 < F < 1, as prune does) instead
  --workers N      threads measuring candidates at once (default 2; 1 when a second onnxruntime session of
                   the model would pass 2 × its largest weight + 1 GiB)
  --layers REGEX   measure only the weights whose name or node name matches (e.g. "layers\\.1\\.mlp")
  --inputs DIR     .npy files named after the inputs (others are synthesized with a fixed seed)
  --dims, --fill   synthesized inputs: symbolic dim values, constant inputs
  --data PATH      the model's real inputs (file or folder; repeat as INPUT=PATH); calibration uses one
                   part, the verdict the other (--calibration N, --evaluation N, --split F, --tokenizer FILE,
                   --resample: see big-shrink help data). Default: MODEL.inputs.json beside the model`;

/** `big-shrink sensitivity`: returns the exit code. */
export async function sensitivityCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, {
    bits: { type: 'number' },
    block: { type: 'number' },
    sparsity: { type: 'number' },
    workers: { type: 'number' },
    layers: { type: 'string' },
    ...VERIFY_OPTIONS,
    json: { type: 'flag' },
  });
  if (args.positionals.length !== 1) throw new UsageError('sensitivity takes one MODEL');
  const bits = args.options.bits ?? 4;
  if (bits !== 2 && bits !== 4 && bits !== 8) throw new UsageError('--bits takes 2, 4 or 8');
  const blockSize = intOption(args, 'block', 32, 16, 256);
  if ((blockSize & (blockSize - 1)) !== 0)
    throw new UsageError('--block takes a power of two from 16 to 256');
  const sparsity = args.options.sparsity as number | undefined;
  if (sparsity !== undefined && !(typeof sparsity === 'number' && sparsity > 0 && sparsity < 1))
    throw new UsageError('--sparsity takes a fraction between 0 and 1, e.g. 0.5');
  if (sparsity !== undefined && args.options.bits !== undefined)
    throw new UsageError('--sparsity and --bits measure different changes: give one');
  const workers =
    args.options.workers === undefined
      ? undefined
      : intOption(args, 'workers', defaultSensitivityWorkers(), 1, 64);
  const model = args.positionals[0];
  let layers: RegExp | undefined;
  if (args.options.layers !== undefined) {
    try {
      layers = new RegExp(String(args.options.layers));
    } catch (e) {
      throw new UsageError(`--layers takes a regular expression: ${(e as Error).message}`);
    }
  }

  const started = Date.now();
  let lastLine = 0;
  let report: SensitivityReport;
  try {
    report = await whileInterruptible((signal) =>
      measureSensitivity(
        model,
        { bits, blockSize, sparsity, workers, layers, ...verifyOptionsOf(args) },
        {
          signal,
          onProgress(done, total, layer) {
            const now = Date.now();
            if (done !== total && done !== 0 && now - lastLine < 1000) return;
            lastLine = now;
            const at = layer ? ` (${layer})` : '';
            const secs = ((now - started) / 1000).toFixed(1);
            process.stderr.write(`sensitivity: ${done}/${total} layers${at}, ${secs} s\n`);
          },
        },
      ),
    );
  } catch (e) {
    if (e instanceof SensitivityCancelledError) throw new ModelError(model, 'sensitivity run cancelled');
    throw e;
  }
  // As quantize and shrink: a model with nothing to measure is an error, not an empty table.
  if (report.layers.length === 0) {
    const why = report.skipped.length
      ? `; left out: ${report.skipped
          .slice(0, 5)
          .map((s) => `${s.name} (${s.reason})`)
          .join(', ')}`
      : '';
    throw new ModelError(
      model,
      `no MatMul/Gemm weights to measure: no MatMul or Gemm reads a constant 2-D float weight${why}`,
    );
  }
  if (args.options.json) out(JSON.stringify(report, null, 2));
  else printSensitivity(report, out);
  // Measured, but no layer could be compared: the table holds only errors.
  const failed = report.layers.filter((l) => l.error);
  if (failed.length === report.layers.length) {
    process.stderr.write(
      `big-shrink: FAIL: ${model}: the models could not be compared: no layer's candidate ran (${failed[0].name}: ${failed[0].error})\n`,
    );
    return 3;
  }
  return 0;
}

/** The ranked table: one row per weight, most sensitive first. */
export function printSensitivity(r: SensitivityReport, out: (line: string) => void): void {
  out(`${r.model}: ${r.layers.length} layers, each alone at ${r.change} (${r.workers} workers)`);
  if (r.workersNote) out(r.workersNote);
  out(`inputs: ${r.inputs.join('; ')}${r.inlined ? ' (external data inlined in memory)' : ''}`);
  const head = [
    '#',
    'name',
    'op',
    'params',
    'out SQNR',
    'cosine',
    'w SQNR',
    '2b',
    '3b',
    '4b',
    '8b',
    'sp25',
    'sp50',
    'sp75',
  ];
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : x > 0 ? 'inf' : '-');
  const rows = r.layers.map((l, i) => [
    String(i + 1),
    l.name,
    l.op,
    l.params.toLocaleString('en-US'),
    l.error ? 'error' : f(l.outputSqnrDb),
    l.error ? '-' : l.cosine.toFixed(6),
    f(l.weightSqnrDb),
    f(l.sweep.bits[2]),
    f(l.sweep.bits[3]),
    f(l.sweep.bits[4]),
    f(l.sweep.bits[8]),
    f(l.sweep.sparsity[25]),
    f(l.sweep.sparsity[50]),
    f(l.sweep.sparsity[75]),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 1 || i === 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  out('');
  out(line(head));
  out(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) out(line(row));
  out('');
  out(`out SQNR/cosine: worst model output with only that weight at ${r.change}; w SQNR: that weight so`);
  out('changed; 2b…8b, sp25…sp75: data-free weight SQNR (dB) per bit width and magnitude sparsity.');
  for (const l of r.layers) if (l.error) out(`${l.name}: ${l.error}`);
  out(`original ${r.timings.originalMs} ms, total ${(r.timings.totalMs / 1000).toFixed(1)} s`);
}
