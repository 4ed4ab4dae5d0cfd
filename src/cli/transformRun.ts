import * as fs from 'node:fs';
import * as path from 'node:path';
import { type DataSection, withDataMarkdown } from '../core/data/dataSection';
import { RecipeError } from '../core/data/inputRecipe';
import { taskMetricLines } from '../core/data/formatTaskMetrics';
import { ModelError } from '../core/errors';
import type { TensorSink } from '../core/quant/planQuantize';
import type { TransformPlan } from '../core/transform/transformPlan';
import type { LazyTensors } from '../core/write/lazyTensors';
import {
  fidelityStatus,
  type ReportFile,
  type TransformReport,
  type TransformSummary,
} from '../core/transform/transformReport';
import { planWrite, type WritePlan } from '../core/write/planWrite';
import { DataError } from '../runtime/data/rawSample';
import { samplesFor } from '../runtime/data/sampleFeeds';
import { describeFile, describeFilesInWorker } from '../runtime/describeFiles';
import { type OpenedModel, openModel } from '../runtime/openModel';
import { type SpillFile, openSpillFile } from '../runtime/spillFile';
import { readInputFiles, type VerifyOptions, type VerifyResult } from '../runtime/verifyModels';
import { VerifyCancelledError, verifyInWorker } from '../runtime/verifyInWorker';
import { checkWritable } from '../runtime/checkWritable';
import { writeFileAtomic } from '../runtime/writeFileAtomic';
import { writeModelAsync, type WriteResult } from '../runtime/writeModel';
import { type OptionSpec, type ParsedArgs, UsageError } from './args';
import { DATA_OPTIONS, dataOptionsOf } from './dataOptions';

/** Kept in step with main.ts's VERSION (the lead owns that file). */
export const TOOL_VERSION = '0.1.0';

/** The verification options every transform and `verify` accept. */
export const VERIFY_OPTIONS: OptionSpec = {
  dims: { type: 'string' },
  fill: { type: 'string' },
  inputs: { type: 'string' },
  ...DATA_OPTIONS,
};

/** What a transform adds to the common report: summary fields, and sections placed after the summary. */
export interface ReportExtras<R extends TransformReport> {
  summary: Omit<R['summary'], keyof TransformSummary>;
  sections: Omit<R, keyof TransformReport>;
}

/** What the report-finishing step sees: the model read, the model written and both measured. */
export interface FinishContext {
  model: OpenedModel;
  written: WriteResult;
  input: ReportFile[];
  output: ReportFile[];
  /** The verification of the written model (undefined with --no-verify). */
  verification?: VerifyResult;
}

/** One transform run: how to plan it, where the result goes, what to put in the report. */
export interface TransformRun<R extends TransformReport, P extends TransformPlan<R['tensors'][number]>> {
  transform: R['transform'];
  input: string;
  outPath: string;
  force: boolean;
  /** undefined: --no-verify. */
  verify?: VerifyOptions;
  /** The options as the report lists them. */
  options: Record<string, unknown>;
  /** New payloads the plan leaves to be made while the writer copies them (pruning streams its weights). */
  lazy?: LazyTensors;
  /** Plans the edits; new tensor bytes go through `sink`. */
  plan(model: OpenedModel, sink: TensorSink): P;
  /** Why nothing was done, when the plan changes nothing. */
  nothingToDo(plan: P): string;
  /** The file the plan's blockers are about (default: the input). */
  blockersAbout?: string;
  /** Verification progress (about once a second). */
  onProgress?(message: string): void;
  /**
   * Files written besides the model and its reports (prune's keep-masks): refused when they exist (unless
   * `force`), written by `afterWrite`, removed with the model when verification is cancelled.
   */
  extraOutputs?: string[];
  /** Checks run once no output is in the way, before the model is opened. */
  check?(): void;
  /** Async work on the opened model before planning (data-aware quantization's calibration). */
  prepare?(model: OpenedModel): Promise<void>;
  /**
   * The model the plan edits and the writer copies from, when not the input: the input with a structural
   * change already applied in memory (shrink's compaction choices). Verification still compares with the input.
   */
  stage?(model: OpenedModel): OpenedModel;
  /** Writes the extra outputs once the model is written. */
  afterWrite?(plan: P): void;
  /**
   * Measure the gzip size of the input and output files too. Compressing takes a while, so that step is
   * announced (`onProgress`) and timed (`measure`).
   */
  gzip?: boolean;
  /** The transform's own report fields (none for quantize and convert). */
  finish?(plan: P, context: FinishContext): Promise<ReportExtras<R>>;
  /** False: the report leaves out `spilledBytes` (prune reports have never had it). */
  reportSpill?: boolean;
  /** The Markdown report. */
  render(report: R): string;
}

/** Models whose weights total more than this spill new tensors to a temporary file while planning. */
const SPILL_ABOVE_BYTES = 1 << 30;

/**
 * Plans, writes the new model beside the input (atomically, never over an input or, without `force`, over
 * an existing file) and any extra outputs, verifies it in onnxruntime-node on a worker thread, measures the
 * files (size, sha256, optionally gzip; the inputs on another thread while this one plans) and writes the
 * report (JSON + Markdown). For a large model the new tensors are spilled to a temporary file in the output
 * folder as they are made and copied from there by the writer, so memory holds about one weight at a time.
 */
export async function runTransform<R extends TransformReport, P extends TransformPlan<R['tensors'][number]>>(
  run: TransformRun<R, P>,
): Promise<{ report: R; verification?: VerifyResult }> {
  const t0 = performance.now();
  const stem = run.outPath.replace(/\.onnx$/i, '');
  const reportJson = `${stem}.report.json`;
  const reportMd = `${stem}.report.md`;
  const extraOutputs = run.extraOutputs ?? [];
  for (const f of [reportJson, reportMd, ...extraOutputs]) {
    if (!run.force && fs.existsSync(f)) throw new ModelError(f, 'already exists (use --force to overwrite)');
  }
  // A folder that cannot be written is found before the work, not after it.
  checkWritable([run.outPath, reportJson, reportMd, ...extraOutputs]);
  run.check?.();
  const model = openModel(run.input);
  const timings: Record<string, number> = {};
  let spill: SpillFile | undefined;
  const stopMeasuring = new AbortController();
  // Once the output exists, a failure removes it: exit code 1 always means nothing was written.
  let writtenFiles: string[] | undefined;
  try {
    // A bad inputs folder, or data that cannot be used, is reported before anything is written.
    let data: DataSection | undefined;
    if (run.verify?.inputsDir) readInputFiles(run.verify.inputsDir, modelInputs(model));
    else if (run.verify?.data) {
      try {
        data = (
          await samplesFor(model.path, model.index, run.verify, (line) =>
            process.stderr.write(`big-shrink: ${line}\n`),
          )
        ).section;
      } catch (e) {
        if (e instanceof DataError) throw new ModelError(e.file, e.reason);
        if (e instanceof RecipeError)
          throw new ModelError(e.file, `is not a valid input recipe: ${e.problems.join('; ')}`);
        throw e;
      }
    }
    if (run.prepare) {
      const tPrepare = performance.now();
      await run.prepare(model);
      timings.prepare = performance.now() - tPrepare;
    }
    // The inputs are measured on another thread while this one plans.
    const inputFiles = [
      model.path,
      ...model.index.externalLocations.map((l) => path.join(path.dirname(model.path), l)),
    ];
    const inputFigures = describeFilesInWorker(inputFiles, { gzip: run.gzip, signal: stopMeasuring.signal });
    inputFigures.catch(() => undefined); // awaited below; a failed plan must not leave it unhandled
    const weightBytes = model.index.tensors.reduce((s, t) => s + t.storedBytes, 0);
    // BIG_SHRINK_SPILL=N forces the spill for tensors of N bytes or more (tests).
    const forced = process.env.BIG_SHRINK_SPILL;
    if (weightBytes > SPILL_ABOVE_BYTES || forced !== undefined) {
      if (!fs.existsSync(path.dirname(run.outPath)))
        throw new ModelError(run.outPath, `folder ${path.dirname(run.outPath)} does not exist`);
      spill = openSpillFile(run.outPath, forced !== undefined ? Number(forced) || 0 : undefined);
    }
    const tPlan = performance.now();
    const staged = run.stage ? run.stage(model) : model;
    const plan = run.plan(staged, spill ? spill.sink : (bytes) => bytes);
    timings.plan = performance.now() - tPlan;
    if (plan.blockers.length > 0)
      throw new ModelError(run.blockersAbout ?? run.input, `${plan.blockers.join('; ')}. No file written.`);
    if (plan.tensors.length === 0)
      throw new ModelError(run.input, `${run.nothingToDo(plan)} No file written.`);

    const tWrite = performance.now();
    const external = { location: `${path.basename(run.outPath)}.data`, threshold: 1024 };
    let writePlan: WritePlan;
    try {
      writePlan = planWrite(staged.index, staged.source, plan.edits, {
        externalData: staged.index.externalLocations.length > 0 ? external : undefined,
      });
    } catch (e) {
      // Over protobuf's 2 GiB limit: move the large tensors out.
      if (!/2 GiB/.test((e as Error).message)) throw e;
      writePlan = planWrite(staged.index, staged.source, plan.edits, { externalData: external });
    }
    const unspilled = spill ? spill.wrap(staged) : staged;
    const input = run.lazy
      ? { ...unspilled, resolveExternal: run.lazy.resolver(unspilled.resolveExternal) }
      : unspilled;
    const written = await writeModelAsync(writePlan, input, run.outPath, { force: run.force });
    const outputFiles = [written.modelPath, ...written.externalFiles.map((f) => f.path)];
    writtenFiles = [...outputFiles, ...extraOutputs, reportJson, reportMd];
    const spilledBytes = spill?.bytes;
    spill?.close();
    spill = undefined;
    run.afterWrite?.(plan);
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
        if (e instanceof VerifyCancelledError) {
          // Cancelled: leave nothing behind.
          for (const f of [...outputFiles, ...extraOutputs]) fs.rmSync(f, { force: true });
          writtenFiles = undefined;
          throw new ModelError(run.outPath, 'verification cancelled; the output was removed');
        }
        // The comparison could not be made (inputs that do not fit, a worker that died): the output
        // stays, and the report says why.
        verification = notCompared(model.path, written.modelPath, e);
      }
      timings.verify = performance.now() - tVerify;
    }

    if (run.gzip) run.onProgress?.('measuring the files (sha256, gzip)…');
    const tMeasure = performance.now();
    // All output files at once: zlib, when asked for, compresses on libuv's thread pool.
    // The writer hashed what it wrote: the outputs are read again only to compress them (or samples).
    const hashes = new Map<string, string | undefined>([
      [written.modelPath, written.modelSha256],
      ...written.externalFiles.map((f) => [f.path, f.sha256] as [string, string | undefined]),
    ]);
    const outFiles = await Promise.all(
      outputFiles.map((f) => describeFile(f, { gzip: run.gzip, sha256: hashes.get(f) })),
    );
    const inFiles = await inputFigures;
    const extras = run.finish
      ? await run.finish(plan, { model, written, input: inFiles, output: outFiles, verification })
      : { summary: {}, sections: {} };
    if (run.gzip) timings.measure = performance.now() - tMeasure;
    const before = inFiles.reduce((s, f) => s + f.bytes, 0);
    const after = outFiles.reduce((s, f) => s + f.bytes, 0);
    timings.total = performance.now() - t0;
    const assembled = {
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
        ...extras.summary,
      },
      data: verification?.data ?? data,
      ...extras.sections,
      opsetChanges: plan.opsetChanges,
      tensors: plan.tensors,
      nodes: plan.nodes,
      skipped: plan.skipped,
      warnings: plan.warnings,
      verification,
      timingsMs: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v * 10) / 10])),
      ...(spilledBytes !== undefined && run.reportSpill !== false ? { spilledBytes } : {}),
    };
    // The common fields in their order, and the extras: R's own fields (ReportExtras<R>).
    const report = assembled as unknown as R;
    writeFileAtomic(reportJson, JSON.stringify(report, null, 2) + '\n', { force: run.force });
    writeFileAtomic(reportMd, withDataMarkdown(run.render(report), report.data), { force: run.force });
    return { report, verification };
  } catch (e) {
    if (!writtenFiles) throw e;
    for (const f of writtenFiles) fs.rmSync(f, { force: true });
    const reason = e instanceof ModelError ? e.reason : (e as Error).message;
    throw new ModelError(
      e instanceof ModelError ? e.file : run.outPath,
      `${reason} (the output was removed)`,
    );
  } finally {
    stopMeasuring.abort();
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

/**
 * Verification options from --dims, --fill, --inputs and the data options (--data, --tokenizer, the split).
 * `--dims` takes `NAME=N` (a dim_param, or `INPUT:AXIS=N` / `INPUT.AXIS=N` for one axis of one input) and
 * `INPUT=AxB…` (a whole shape).
 */
export function verifyOptionsOf(args: ParsedArgs): VerifyOptions {
  const shapes: Record<string, number[]> = {};
  const pairs = (name: string): Record<string, number> | undefined => {
    const raw = args.options[name];
    if (raw === undefined) return undefined;
    const out: Record<string, number> = {};
    for (const part of String(raw).split(',')) {
      const eq = part.lastIndexOf('=');
      const text = part.slice(eq + 1);
      if (name === 'dims' && eq > 0 && /^\d+(x\d+)+$/.test(text)) {
        shapes[part.slice(0, eq)] = text.split('x').map(Number);
        continue;
      }
      const value = Number(text);
      if (eq <= 0 || !Number.isFinite(value))
        throw new UsageError(
          name === 'dims'
            ? '--dims takes NAME=N (a dim name, or INPUT:AXIS=N) or INPUT=AxB (a whole shape), comma-separated'
            : `--${name} takes NAME=NUMBER,...`,
        );
      out[part.slice(0, eq)] = value;
    }
    return out;
  };
  const inputs = args.options.inputs === undefined ? undefined : path.resolve(String(args.options.inputs));
  if (inputs !== undefined && !(fs.existsSync(inputs) && fs.statSync(inputs).isDirectory())) {
    throw new UsageError(`--inputs ${inputs} is not a folder`);
  }
  const dims = pairs('dims');
  const fill = pairs('fill');
  if (inputs !== undefined && args.options.data !== undefined)
    throw new UsageError('--inputs DIR and --data: give one (--data DIR reads a folder of .npy files too)');
  return {
    dims,
    ...(Object.keys(shapes).length ? { shapes } : {}),
    fill,
    inputsDir: inputs,
    data: dataOptionsOf(args),
  };
}

/** The verification figures, one line per output and per model. */
export function printVerification(v: VerifyResult, out: (line: string) => void): void {
  if (!v.ok) out(`verification FAILED: ${v.error}`);
  if (v.data)
    out(
      v.data.source === 'synthetic'
        ? '  inputs: synthesized (no --data): the verdict rests on synthetic inputs'
        : `  inputs: ${v.data.evaluation} evaluation sample${v.data.evaluation === 1 ? '' : 's'} of ${v.data.paths.join(', ')}`,
    );
  if (v.metrics) for (const line of taskMetricLines(v.metrics)) out(`  ${line}`);
  if (v.synthesisNote) out(`  synthesized sizes: ${v.synthesisNote}`);
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
  report: TransformReport,
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

/** A comparison that could not be made: `ok` false with the reason, as verifyModels reports a failed one. */
function notCompared(original: string, candidate: string, e: unknown): VerifyResult {
  const size = (f: string) => {
    try {
      return fs.statSync(f).size;
    } catch {
      return NaN;
    }
  };
  const run = (f: string) => ({ path: f, bytes: size(f), loadMs: NaN, medianMs: NaN });
  const reason = e instanceof ModelError ? `${e.file}: ${e.reason}` : (e as Error).message;
  return {
    ok: false,
    error: `the models could not be compared: ${reason}`,
    inputs: [],
    outputs: [],
    original: run(original),
    candidate: run(candidate),
    minCosine: NaN,
  };
}

/**
 * The exit code of a command whose output was written (the contract of every transform): 0 when the
 * fidelity verdict is pass or warn (or there was no verification), 3 when it is FAIL or the models could
 * not be compared (or `missed` gives a reason of the command's own, as shrink's target); then one line on
 * stderr says why and that the output was written.
 */
export function transformExitCode(
  report: TransformReport,
  verification: VerifyResult | undefined,
  missed?: string,
): number {
  const why = missed ?? failReason(report.summary.status, verification);
  if (why === undefined) return 0;
  const md = report.output.files[0].path.replace(/\.onnx$/i, '.report.md');
  process.stderr.write(
    `big-shrink: FAIL: ${report.output.files[0].path}: ${why}; the output was written (report: ${md})\n`,
  );
  return 3;
}

/** Why a verdict is FAIL, in words (undefined when it is pass, warn or unverified). */
export function failReason(
  status: TransformSummary['status'],
  v: VerifyResult | undefined,
): string | undefined {
  if (status !== 'fail' || !v) return undefined;
  if (!v.ok) {
    // onnxruntime's messages may span lines: the reason stays one line.
    const error = (v.error ?? 'unknown reason').replace(/\s+/g, ' ').trim();
    return error.startsWith('the models could not be compared')
      ? error
      : `the models could not be compared: ${error}`;
  }
  if (v.minCosine < 0.95)
    return `fidelity FAIL: the lowest output cosine is ${v.minCosine} (FAIL below 0.95)`;
  return 'fidelity FAIL (the report says which figure)';
}
