import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelError } from '../core/errors';
import type { QuantizePlan, TensorSink } from '../core/quant/planQuantize';
import {
  fidelityStatus,
  type QuantizeReport,
  type ReportFile,
  renderQuantizeMarkdown,
} from '../core/quant/quantizeReport';
import { planWrite, type WritePlan } from '../core/write/planWrite';
import { hashFile, hashFilesInWorker } from '../runtime/hashFiles';
import { type OpenedModel, openModel } from '../runtime/openModel';
import { type SpillFile, openSpillFile } from '../runtime/spillFile';
import { readInputFiles, type VerifyOptions, type VerifyResult } from '../runtime/verifyModels';
import { VerifyCancelledError, verifyInWorker } from '../runtime/verifyInWorker';
import { writeModel } from '../runtime/writeModel';
import { type OptionSpec, type ParsedArgs, UsageError } from './args';

/** Kept in step with main.ts's VERSION (the lead owns that file). */
export const TOOL_VERSION = '0.1.0';

/** The verification options every transform and `verify` accept. */
export const VERIFY_OPTIONS: OptionSpec = {
  dims: { type: 'string' },
  fill: { type: 'string' },
  inputs: { type: 'string' },
};

/** One transform run: how to plan it, where the result goes, what to put in the report. */
export interface TransformRun {
  transform: QuantizeReport['transform'];
  input: string;
  outPath: string;
  force: boolean;
  /** undefined: --no-verify. */
  verify?: VerifyOptions;
  /** The options as the report lists them. */
  options: Record<string, unknown>;
  /** Plans the edits; new tensor bytes go through `sink`. */
  plan(model: OpenedModel, sink: TensorSink): QuantizePlan;
  /** Why nothing was done, when the plan changes nothing. */
  nothingToDo(plan: QuantizePlan): string;
  /** Verification progress (about once a second). */
  onProgress?(message: string): void;
}

/** Models whose weights total more than this spill new tensors to a temporary file while planning. */
const SPILL_ABOVE_BYTES = 1 << 30;

/**
 * Plans, writes the new model beside the input (atomically, never over an input or, without `force`, over
 * an existing file), verifies it in onnxruntime-node on a worker thread, and writes the report (JSON +
 * Markdown). For a large model the new tensors are spilled to a temporary file in the output folder as
 * they are made and copied from there by the writer, so memory holds about one weight at a time.
 */
export async function runTransform(
  run: TransformRun,
): Promise<{ report: QuantizeReport; verification?: VerifyResult }> {
  const t0 = performance.now();
  const stem = run.outPath.replace(/\.onnx$/i, '');
  const reportJson = `${stem}.report.json`;
  const reportMd = `${stem}.report.md`;
  for (const f of [reportJson, reportMd]) {
    if (!run.force && fs.existsSync(f)) throw new ModelError(f, 'already exists (use --force to overwrite)');
  }
  const model = openModel(run.input);
  const timings: Record<string, number> = {};
  let spill: SpillFile | undefined;
  try {
    // A bad inputs folder is reported before anything is written.
    if (run.verify?.inputsDir) readInputFiles(run.verify.inputsDir, modelInputs(model));
    // The inputs are hashed on another thread while this one plans.
    const inputFiles = [
      model.path,
      ...model.index.externalLocations.map((l) => path.join(path.dirname(model.path), l)),
    ];
    const inputDigests = hashFilesInWorker(inputFiles);
    inputDigests.catch(() => undefined); // awaited below; a failed plan must not leave it unhandled
    const weightBytes = model.index.tensors.reduce((s, t) => s + t.storedBytes, 0);
    // BIG_SHRINK_SPILL=N forces the spill for tensors of N bytes or more (tests).
    const forced = process.env.BIG_SHRINK_SPILL;
    if (weightBytes > SPILL_ABOVE_BYTES || forced !== undefined) {
      if (!fs.existsSync(path.dirname(run.outPath)))
        throw new ModelError(run.outPath, `folder ${path.dirname(run.outPath)} does not exist`);
      spill = openSpillFile(run.outPath, forced !== undefined ? Number(forced) || 0 : undefined);
    }
    const tPlan = performance.now();
    const plan = run.plan(model, spill ? spill.sink : (bytes) => bytes);
    timings.plan = performance.now() - tPlan;
    if (plan.blockers.length > 0)
      throw new ModelError(run.input, `${plan.blockers.join('; ')}. No file written.`);
    if (plan.tensors.length === 0)
      throw new ModelError(run.input, `${run.nothingToDo(plan)} No file written.`);

    const tWrite = performance.now();
    const external = { location: `${path.basename(run.outPath)}.data`, threshold: 1024 };
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
    const input = spill ? spill.wrap(model) : model;
    const written = writeModel(writePlan, input, run.outPath, { force: run.force });
    const spilledBytes = spill?.bytes;
    spill?.close();
    spill = undefined;
    timings.write = performance.now() - tWrite;

    let verification: VerifyResult | undefined;
    if (run.verify) {
      const tVerify = performance.now();
      try {
        verification = await whileInterruptible((signal) =>
          verifyInWorker(model.path, written.modelPath, run.verify!, {
            signal,
            onProgress: run.onProgress ? (p) => run.onProgress!(p.message) : undefined,
          }),
        );
      } catch (e) {
        if (!(e instanceof VerifyCancelledError)) throw e;
        // Cancelled: leave nothing behind.
        for (const f of [written.modelPath, ...written.externalFiles.map((x) => x.path)])
          fs.rmSync(f, { force: true });
        throw new ModelError(run.outPath, 'verification cancelled; the output was removed');
      }
      timings.verify = performance.now() - tVerify;
    }
    const inFiles: ReportFile[] = await inputDigests;
    const outFiles: ReportFile[] = [written.modelPath, ...written.externalFiles.map((f) => f.path)].map(
      hashFile,
    );
    const before = inFiles.reduce((s, f) => s + f.bytes, 0);
    const after = outFiles.reduce((s, f) => s + f.bytes, 0);
    timings.total = performance.now() - t0;
    const report: QuantizeReport = {
      tool: { name: 'big-shrink', version: TOOL_VERSION },
      transform: run.transform,
      createdAt: new Date().toISOString(),
      input: { files: inFiles },
      output: { files: outFiles },
      options: { ...run.options, externalData: written.externalFiles.length > 0 },
      summary: {
        bytesBefore: before,
        bytesAfter: after,
        ratio: after / before,
        tensors: plan.tensors.length,
        nodes: plan.nodes.length,
        status: fidelityStatus(verification),
      },
      opsetChanges: plan.opsetChanges,
      tensors: plan.tensors,
      nodes: plan.nodes,
      skipped: plan.skipped,
      warnings: plan.warnings,
      verification,
      timingsMs: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v * 10) / 10])),
      ...(spilledBytes !== undefined ? { spilledBytes } : {}),
    };
    writeAtomic(reportJson, JSON.stringify(report, null, 2) + '\n', run.force);
    writeAtomic(reportMd, renderQuantizeMarkdown(report), run.force);
    return { report, verification };
  } finally {
    spill?.close();
    model.close();
  }
}

/**
 * Runs `job` with an AbortSignal that Ctrl+C (SIGINT) fires; a second Ctrl+C exits at once. The handler
 * is removed when the job settles.
 */
export async function whileInterruptible<T>(job: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onInt = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('cancelling after the current step (Ctrl+C again to quit now)…\n');
    controller.abort();
  };
  process.on('SIGINT', onInt);
  try {
    return await job(controller.signal);
  } finally {
    process.off('SIGINT', onInt);
  }
}

/** The main graph's inputs a caller feeds (initializers listed as inputs are not among them). */
export function modelInputs(model: OpenedModel): string[] {
  const main = model.index.graphs[0];
  const initializers = new Set(main.tensorIds.map((id) => model.index.tensors[id].name));
  return main.inputs.map((i) => i.name).filter((n) => !initializers.has(n));
}

/** Verification options from --dims, --fill and --inputs. */
export function verifyOptionsOf(args: ParsedArgs): VerifyOptions {
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
  const inputs = args.options.inputs === undefined ? undefined : path.resolve(String(args.options.inputs));
  if (inputs !== undefined && !(fs.existsSync(inputs) && fs.statSync(inputs).isDirectory())) {
    throw new UsageError(`--inputs ${inputs} is not a folder`);
  }
  return { dims: pairs('dims'), fill: pairs('fill'), inputsDir: inputs };
}

/** The verification figures, one line per output and per model. */
export function printVerification(v: VerifyResult, out: (line: string) => void): void {
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

/** The closing lines of a transform for people. */
export function printTransform(
  report: QuantizeReport,
  what: string,
  verification: VerifyResult | undefined,
  out: (line: string) => void,
): void {
  const s = report.summary;
  out(`wrote ${report.output.files.map((f) => `${f.path} (${f.bytes} bytes)`).join(', ')}`);
  out(`${what}; ${s.bytesBefore} → ${s.bytesAfter} bytes (${s.ratio.toFixed(3)}×)`);
  for (const w of report.warnings) out(`warning: ${w}`);
  for (const c of report.opsetChanges) out(`changed: ${c}`);
  if (verification) printVerification(verification, out);
  const md = report.output.files[0].path.replace(/\.onnx$/i, '.report.md');
  out(`fidelity: ${s.status}; report: ${md}`);
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
