import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelError } from '../core/errors';
import {
  measureSensitivity,
  SensitivityCancelledError,
  type SensitivityReport,
} from '../runtime/sensitivity';
import { intOption, type ParsedArgs, parseArgs, UsageError } from './args';

export const sensitivityUsage = `big-shrink sensitivity MODEL [--bits 2|4|8] [--block N] [--inputs DIR] [--dims NAME=V,...]
                      [--fill INPUT=V,...] [--json]
  Per-layer sensitivity: quantizes one MatMul/Gemm weight at a time (MatMulNBits, round-to-nearest, as
  quantize does), runs each candidate in onnxruntime-node on the same inputs as the original and ranks the
  layers by the output SQNR they cost (most sensitive first). Also a data-free sweep per weight: weight
  SQNR at 2/3/4/8 bits and at 25/50/75% magnitude sparsity. Candidates are built in memory (external data
  is brought inline: models up to 2 GiB). Progress on stderr; Ctrl+C cancels.
  --bits N         bits of the measured quantization (default 4)
  --block N        block size along K: 16, 32 (default), 64, 128 or 256
  --inputs DIR     .npy files named after the inputs (others are synthesized with a fixed seed)
  --dims, --fill   synthesized inputs: symbolic dim values, constant inputs`;

/** `big-shrink sensitivity`: returns the exit code. */
export async function sensitivityCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, {
    bits: { type: 'number' },
    block: { type: 'number' },
    inputs: { type: 'string' },
    dims: { type: 'string' },
    fill: { type: 'string' },
    json: { type: 'flag' },
  });
  if (args.positionals.length !== 1) throw new UsageError('sensitivity takes one MODEL');
  const bits = args.options.bits ?? 4;
  if (bits !== 2 && bits !== 4 && bits !== 8) throw new UsageError('--bits takes 2, 4 or 8');
  const blockSize = intOption(args, 'block', 32, 16, 256);
  if ((blockSize & (blockSize - 1)) !== 0)
    throw new UsageError('--block takes a power of two from 16 to 256');
  const inputsDir = args.options.inputs === undefined ? undefined : path.resolve(String(args.options.inputs));
  if (inputsDir !== undefined && !(fs.existsSync(inputsDir) && fs.statSync(inputsDir).isDirectory()))
    throw new UsageError(`--inputs ${inputsDir} is not a folder`);
  const model = args.positionals[0];

  const controller = new AbortController();
  const onInt = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('cancelling after the current layer (Ctrl+C again to quit now)…\n');
    controller.abort();
  };
  process.on('SIGINT', onInt);
  const started = Date.now();
  let lastLine = 0;
  let report: SensitivityReport;
  try {
    report = await measureSensitivity(
      model,
      { bits, blockSize, inputsDir, dims: pairs(args, 'dims'), fill: pairs(args, 'fill') },
      {
        signal: controller.signal,
        onProgress(done, total, layer) {
          const now = Date.now();
          if (done !== total && done !== 0 && now - lastLine < 1000) return;
          lastLine = now;
          const at = layer ? ` (${layer})` : '';
          const secs = ((now - started) / 1000).toFixed(1);
          process.stderr.write(`sensitivity: ${done}/${total} layers${at}, ${secs} s\n`);
        },
      },
    );
  } catch (e) {
    if (e instanceof SensitivityCancelledError) throw new ModelError(model, 'sensitivity run cancelled');
    throw e;
  } finally {
    process.off('SIGINT', onInt);
  }
  if (args.options.json) out(JSON.stringify(report, null, 2));
  else printSensitivity(report, out);
  return 0;
}

/** The ranked table: one row per weight, most sensitive first. */
export function printSensitivity(r: SensitivityReport, out: (line: string) => void): void {
  out(`${r.model}: ${r.layers.length} layers, each alone at ${r.bits}-bit (block ${r.blockSize})`);
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
  out('out SQNR/cosine: worst model output with only that weight quantized; w SQNR: that weight at the');
  out('measured bits; 2b…8b, sp25…sp75: data-free weight SQNR (dB) per bit width and magnitude sparsity.');
  for (const l of r.layers) if (l.error) out(`${l.name}: ${l.error}`);
  out(`original ${r.timings.originalMs} ms, total ${(r.timings.totalMs / 1000).toFixed(1)} s`);
}

function pairs(args: ParsedArgs, name: string): Record<string, number> | undefined {
  const raw = args.options[name];
  if (raw === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const part of String(raw).split(',')) {
    const eq = part.lastIndexOf('=');
    const value = Number(part.slice(eq + 1));
    if (eq <= 0 || !Number.isFinite(value)) throw new UsageError(`--${name} takes NAME=NUMBER,...`);
    out[part.slice(0, eq)] = value;
  }
  return out;
}
