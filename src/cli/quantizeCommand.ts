import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelError } from '../core/errors';
import { DEFAULT_QUANTIZE_OPTIONS, planQuantize, type QuantizeOptions } from '../core/quant/planQuantize';
import {
  fidelityStatus,
  type QuantizeReport,
  type ReportFile,
  renderQuantizeMarkdown,
} from '../core/quant/quantizeReport';
import { planWrite, type WritePlan } from '../core/write/planWrite';
import { openModel } from '../runtime/openModel';
import { type VerifyOptions, type VerifyResult, verifyModels } from '../runtime/verifyModels';
import { writeModel } from '../runtime/writeModel';
import { intOption, type ParsedArgs, parseArgs, UsageError } from './args';

/** Kept in step with main.ts's VERSION (the lead owns that file). */
const TOOL_VERSION = '0.1.0';

export const quantizeUsage = `big-shrink quantize MODEL --bits 2|4|8 [--format nbits|qdq] [--block N] [--sym] [--ops MatMul,Gemm]
                   [--exclude REGEX] [--min-elements N] [--accuracy-level 0|1|2|3|4] [-o OUT] [--force] [--json]
                   [--dims NAME=V,...] [--fill INPUT=V,...] [--no-verify]
  Weight-only quantization to com.microsoft::MatMulNBits (MatMul and Gemm with constant 2-D float weights),
  bit-identical to ONNX Runtime's round-to-nearest. Writes MODEL.int4.onnx (int2/int8 likewise) beside
  MODEL unless -o, plus .report.json and .report.md, then compares both models in onnxruntime-node.
  --block N        block size along K: 16, 32 (default), 64, 128 or 256
  --sym            symmetric (no zero points); default asymmetric with packed zero points
  --dims, --fill   synthesized verification inputs: symbolic dim values, constant inputs`;

export const verifyUsage = `big-shrink verify ORIGINAL CANDIDATE [--json] [--dims NAME=V,...] [--fill INPUT=V,...]
  Runs both models in onnxruntime-node on the same fixed-seed inputs: per output cosine, SQNR, max abs
  error, top-1 agreement; sizes, load time and median latency. Exit 1 when either fails to load or run.`;

/** `big-shrink quantize`: returns the exit code. */
export async function quantizeCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const t0 = performance.now();
  const args = parseArgs(argv, {
    bits: { type: 'number' },
    format: { type: 'string' },
    block: { type: 'number' },
    sym: { type: 'flag' },
    ops: { type: 'string' },
    exclude: { type: 'string' },
    'min-elements': { type: 'number' },
    'accuracy-level': { type: 'number' },
    output: { type: 'string', alias: '-o' },
    force: { type: 'flag' },
    json: { type: 'flag' },
    dims: { type: 'string' },
    fill: { type: 'string' },
    'no-verify': { type: 'flag' },
  });
  if (args.positionals.length !== 1) throw new UsageError('quantize takes one MODEL');
  const bits = args.options.bits ?? 4;
  if (bits !== 2 && bits !== 4 && bits !== 8) throw new UsageError('--bits takes 2, 4 or 8');
  const format = (args.options.format as string | undefined) ?? 'nbits';
  if (format !== 'nbits' && format !== 'qdq') throw new UsageError('--format takes nbits or qdq');
  if (format === 'qdq')
    throw new UsageError('--format qdq (DequantizeLinear) is not available yet: use nbits');
  const blockSize = intOption(args, 'block', 32, 16, 256);
  if ((blockSize & (blockSize - 1)) !== 0)
    throw new UsageError('--block takes a power of two from 16 to 256');
  let exclude: RegExp | undefined;
  if (args.options.exclude !== undefined) {
    try {
      exclude = new RegExp(String(args.options.exclude));
    } catch (e) {
      throw new UsageError(`--exclude: ${(e as Error).message}`);
    }
  }
  const ops = String(args.options.ops ?? 'MatMul,Gemm')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const known = new Set(['MatMul', 'Gemm', 'Conv']);
  for (const op of ops)
    if (!known.has(op)) throw new UsageError(`--ops: unknown op ${op} (MatMul, Gemm, Conv)`);
  const options: QuantizeOptions = {
    ...DEFAULT_QUANTIZE_OPTIONS,
    bits,
    blockSize,
    symmetric: Boolean(args.options.sym),
    accuracyLevel: intOption(args, 'accuracy-level', 4, 0, 4),
    ops,
    exclude,
    minElements: intOption(args, 'min-elements', 0, 0, Number.MAX_SAFE_INTEGER),
  };
  const verifyOptions = verifyOptionsOf(args);

  const input = args.positionals[0];
  const outPath = path.resolve(
    (args.options.output as string | undefined) ??
      path.join(path.dirname(input), `${path.basename(input).replace(/\.onnx$/i, '')}.int${bits}.onnx`),
  );
  const stem = outPath.replace(/\.onnx$/i, '');
  const reportJson = `${stem}.report.json`;
  const reportMd = `${stem}.report.md`;
  const force = Boolean(args.options.force);
  for (const f of [reportJson, reportMd]) {
    if (!force && fs.existsSync(f)) throw new ModelError(f, 'already exists (use --force to overwrite)');
  }

  const model = openModel(input);
  const timings: Record<string, number> = {};
  let verification: VerifyResult | undefined;
  let report: QuantizeReport;
  try {
    const tPlan = performance.now();
    const plan = planQuantize(model.index, model.source, model.resolveExternal, options);
    timings.plan = performance.now() - tPlan;
    if (plan.nodes.length === 0) {
      const why = plan.skipped.length
        ? `; left in float: ${plan.skipped
            .slice(0, 5)
            .map((s) => `${s.name} (${s.reason})`)
            .join(', ')}`
        : '';
      throw new ModelError(
        input,
        `nothing to quantize: no ${ops.join('/')} node reads a constant 2-D float weight${why}. No file written.`,
      );
    }
    const tWrite = performance.now();
    const extName = `${path.basename(outPath)}.data`;
    const external = { location: extName, threshold: 1024 };
    let writePlan: WritePlan;
    try {
      writePlan = planWrite(model.index, model.source, plan.edits, {
        externalData: model.index.externalLocations.length > 0 ? external : undefined,
      });
    } catch (e) {
      // Over protobuf's 2 GiB limit: move the large tensors out.
      if (!/2 GiB/.test((e as Error).message)) throw e;
      writePlan = planWrite(model.index, model.source, plan.edits, { externalData: external });
    }
    const written = writeModel(writePlan, model, outPath, { force });
    timings.write = performance.now() - tWrite;

    if (!args.options['no-verify']) {
      const tVerify = performance.now();
      verification = await verifyModels(model.path, written.modelPath, verifyOptions);
      timings.verify = performance.now() - tVerify;
    }
    const inputFiles = [
      model.path,
      ...model.index.externalLocations.map((l) => path.join(path.dirname(model.path), l)),
    ];
    const outputFiles = [written.modelPath, ...written.externalFiles.map((f) => f.path)];
    const filesOf = (list: string[]) => list.map(describeFile);
    const inFiles = filesOf(inputFiles);
    const outFiles = filesOf(outputFiles);
    const before = inFiles.reduce((s, f) => s + f.bytes, 0);
    const after = outFiles.reduce((s, f) => s + f.bytes, 0);
    timings.total = performance.now() - t0;
    report = {
      tool: { name: 'big-shrink', version: TOOL_VERSION },
      transform: 'quantize',
      createdAt: new Date().toISOString(),
      input: { files: inFiles },
      output: { files: outFiles },
      options: {
        format,
        bits,
        blockSize,
        symmetric: options.symmetric,
        accuracyLevel: options.accuracyLevel,
        ops: ops.join(','),
        exclude: exclude?.source ?? '',
        minElements: options.minElements,
        externalData: written.externalFiles.length > 0,
      },
      summary: {
        bytesBefore: before,
        bytesAfter: after,
        ratio: after / before,
        tensors: plan.tensors.length,
        nodes: plan.nodes.length,
        status: fidelityStatus(verification),
      },
      opsetChanges: plan.edits.some((e) => e.kind === 'setOpset') ? ['com.microsoft 1'] : [],
      tensors: plan.tensors,
      nodes: plan.nodes,
      skipped: plan.skipped,
      warnings: plan.warnings,
      verification,
      timingsMs: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v * 10) / 10])),
    };
    writeAtomic(reportJson, JSON.stringify(report, null, 2) + '\n', force);
    writeAtomic(reportMd, renderQuantizeMarkdown(report), force);
  } finally {
    model.close();
  }

  if (args.options.json) out(JSON.stringify(report, null, 2));
  else {
    const s = report.summary;
    out(`wrote ${report.output.files.map((f) => `${f.path} (${f.bytes} bytes)`).join(', ')}`);
    out(
      `${s.tensors} weights → MatMulNBits ${bits}-bit (block ${blockSize}${options.symmetric ? ', symmetric' : ''}), ${s.nodes} nodes; ` +
        `${s.bytesBefore} → ${s.bytesAfter} bytes (${s.ratio.toFixed(3)}×)`,
    );
    for (const w of report.warnings) out(`warning: ${w}`);
    if (verification) printVerification(verification, out);
    out(`fidelity: ${s.status}; report: ${reportMd}`);
  }
  return verification && !verification.ok ? 1 : 0;
}

/** `big-shrink verify`: returns the exit code. */
export async function verifyCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, {
    json: { type: 'flag' },
    dims: { type: 'string' },
    fill: { type: 'string' },
  });
  if (args.positionals.length !== 2) throw new UsageError('verify takes ORIGINAL and CANDIDATE');
  const [a, b] = args.positionals;
  for (const f of [a, b]) if (!fs.existsSync(f)) throw new ModelError(f, 'no such file');
  const result = await verifyModels(path.resolve(a), path.resolve(b), verifyOptionsOf(args));
  if (args.options.json) out(JSON.stringify(result, null, 2));
  else printVerification(result, out);
  return result.ok ? 0 : 1;
}

function printVerification(v: VerifyResult, out: (line: string) => void): void {
  if (!v.ok) out(`verification FAILED: ${v.error}`);
  for (const o of v.outputs) {
    out(
      `  ${o.name}: cosine ${o.cosine}, SQNR ${o.sqnrDb} dB, max abs error ${o.maxAbsError}` +
        (o.top1Agreement === undefined ? '' : `, top-1 agreement ${o.top1Agreement}`),
    );
  }
  const row = (label: string, r: VerifyResult['original']) =>
    `  ${label}: ${r.bytes} bytes, load ${r.loadMs} ms, median ${r.medianMs} ms${r.error ? ` (${r.error})` : ''}`;
  out(row('original ', v.original));
  out(row('candidate', v.candidate));
}

function verifyOptionsOf(args: ParsedArgs): VerifyOptions {
  const pairs = (name: string): Record<string, number> | undefined => {
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
  };
  return { dims: pairs('dims'), fill: pairs('fill') };
}

function describeFile(file: string): ReportFile {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return { path: file, bytes: fs.statSync(file).size, sha256: hash.digest('hex') };
}

/** Temp file + rename, so a report is either whole or absent. */
function writeAtomic(file: string, text: string, force: boolean): void {
  if (!force && fs.existsSync(file)) throw new ModelError(file, 'already exists (use --force to overwrite)');
  const temp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    fs.writeFileSync(temp, text, { flag: 'wx' });
    fs.renameSync(temp, file);
  } catch (e) {
    fs.rmSync(temp, { force: true });
    throw new ModelError(file, `could not write: ${(e as Error).message}`);
  }
}
