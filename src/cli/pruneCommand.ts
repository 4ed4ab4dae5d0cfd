import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, ModelError } from '../core/errors';
import type { ModelIndex } from '../core/onnx/modelIndex';
import { DEFAULT_PRUNE_OPTIONS, planPrune, type PrunePlan, type PruneOptions } from '../core/prune/planPrune';
import {
  gzipNote,
  renderPruneMarkdown,
  type PruneReport,
  runtimeMemoryNote,
} from '../core/prune/pruneReport';
import { OPTIONAL_KINDS, type OptionalKind } from '../core/prune/pruneTargets';
import type { DataAwarePruneSection } from '../core/prune/pruneReport';
import { planPruneInt4 } from '../core/prune/planPruneInt4';
import { LazyTensors } from '../core/write/lazyTensors';
import { encodeSafetensors, type KeepMask, parseSafetensors } from '../core/prune/safetensors';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  type QuantizedTensorRow,
  type QuantizeOptions,
} from '../core/quant/planQuantize';
import { rawByteLength } from '../core/tensor/dataType';
import type { ReportFile } from '../core/transform/transformReport';
import { describeFile } from '../runtime/describeFiles';
import { openModel } from '../runtime/openModel';
import type { VerifyOptions, VerifyResult } from '../runtime/verifyModels';
import { writeFileAtomic } from '../runtime/writeFileAtomic';
import type { CalibrationOptions } from '../runtime/captureActivations';
import { DataAwareCancelledError } from '../runtime/planDataAware';
import { type DataAwarePrunePlan, planDataAwarePrune } from '../runtime/planDataAwarePrune';
import type { DataAwarePruneMethod } from '../core/prune/dataAwarePrune';
import type { TensorInfo } from '../core/onnx/modelIndex';
import { selectTargets } from '../core/prune/pruneTargets';
import { intOption, parseArgs, regexOption, UsageError } from './args';
import {
  printVerification,
  runTransform,
  VERIFY_OPTIONS,
  transformExitCode,
  verifyOptionsOf,
  whileInterruptible,
} from './transformRun';

/** The --method choices. */
const METHODS = ['magnitude', 'nm', 'channel', 'wanda', 'sparsegpt'] as const;

export const pruneUsage = `big-shrink prune MODEL --method magnitude|nm|channel|wanda|sparsegpt [--sparsity 0.5] [--scope layer|global]
                [--n 2 --m 4] [--calibration-batches N] [--keep-first-last] [--include bias,norm,embedding,constant] [--exclude REGEX]
                [--storage dense|sparse|int4] [--block N] [--sym] [--save-mask F.safetensors] [--mask F.safetensors] [-o OUT] [--force]
                [--json] [--inputs DIR] [--dims NAME=V,...] [--fill INPUT=V,...] [--no-verify] [--data PATH]
  Zeroes weights of MatMul/Gemm/Conv/attention/recurrent layers (biases, norms, embeddings and fixed
  constants only with --include), compares both models in onnxruntime-node, writes .report.json/.md.
  --method magnitude  the smallest |w|: --sparsity per weight (--scope layer, default) or one threshold
                      across all weights (--scope global); writes MODEL.sparse50.onnx
  --method nm         keep the --n largest of every --m weights along the reduction axis (2:4 default,
                      4:8 …); writes MODEL.2of4.onnx
  --method channel    zero the --sparsity fraction of output channels with the smallest L2 norm (indices in
                      the report); writes MODEL.channels50.onnx
  --method wanda      data-aware: runs the model on calibration inputs and, per output unit of each MatMul/
                      Gemm weight, zeroes the --sparsity share with the smallest |w|·‖x‖ (x: the input channel
                      the weight multiplies); with --n 2 --m 4 N:M by the same score (sparsity 1 - N/M);
                      writes MODEL.wanda50.onnx or MODEL.wanda2of4.onnx
  --method sparsegpt  data-aware: SparseGPT, the mask chosen on XᵀX of the calibration activations and the
                      kept weights updated to rebuild each layer's output; unstructured or --n/--m as wanda;
                      writes MODEL.sparsegpt50.onnx or MODEL.sparsegpt2of4.onnx. With wanda and sparsegpt,
                      weights that are not MatMul/Gemm weights (Conv, recurrent, …) or whose activation
                      could not be collected get magnitude pruning (N:M by magnitude with --n/--m), listed
                      in the report; calibration on the --data calibration samples, else synthesized
                      batches (--calibration-batches N, default 16, seeds apart from the verification's)
  --keep-first-last   leave the first and the last layer dense
  --storage sparse    store pruned initializers as sparse_initializer where that is smaller (values + int64
                      indices); adds .sparseinit to the name. ONNX Runtime densifies them at load.
  --storage int4      then quantize the pruned MatMul/Gemm weights to 4-bit MatMulNBits as \`quantize\` does
                      (pruned zeros stay exactly 0; --block 16…256, default 32, and --sym as there); other
                      pruned weights (Conv, …) stay dense; adds .int4 to the name
  --save-mask F       write the keep-masks (uint8, 1 = kept, named like the weights) as safetensors
  --mask F            apply saved keep-masks instead (--method not needed); writes MODEL.masked.onnx`;

/** `big-shrink prune`: returns the exit code. */
export async function pruneCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, {
    method: { type: 'string' },
    sparsity: { type: 'number' },
    scope: { type: 'string' },
    n: { type: 'number' },
    m: { type: 'number' },
    'calibration-batches': { type: 'number' },
    'keep-first-last': { type: 'flag' },
    include: { type: 'string' },
    exclude: { type: 'string' },
    storage: { type: 'string' },
    block: { type: 'number' },
    sym: { type: 'flag' },
    'save-mask': { type: 'string' },
    mask: { type: 'string' },
    output: { type: 'string', alias: '-o' },
    force: { type: 'flag' },
    json: { type: 'flag' },
    ...VERIFY_OPTIONS,
    'no-verify': { type: 'flag' },
  });
  if (args.positionals.length !== 1) throw new UsageError('prune takes one MODEL');
  const o = args.options;
  const maskFile = o.mask === undefined ? undefined : path.resolve(String(o.mask));
  const method = o.method as string | undefined;
  if (maskFile) {
    for (const k of ['method', 'sparsity', 'scope', 'n', 'm', 'keep-first-last', 'include', 'exclude'])
      if (o[k] !== undefined) throw new UsageError(`--mask decides what to prune: --${k} does not apply`);
  } else if (!METHODS.includes(method as (typeof METHODS)[number])) {
    throw new UsageError(`--method takes ${METHODS.join(', ')} (or give --mask)`);
  }
  const dataAware = method === 'wanda' || method === 'sparsegpt';
  // wanda and sparsegpt take N:M when --n or --m is given.
  const semiStructured = dataAware && (o.n !== undefined || o.m !== undefined);
  const sparsity = (o.sparsity as number | undefined) ?? 0.5;
  if (!(sparsity >= 0 && sparsity <= 1)) throw new UsageError('--sparsity takes a fraction from 0 to 1');
  if ((method === 'nm' || semiStructured) && o.sparsity !== undefined)
    throw new UsageError(
      `--method ${method} with --n/--m: the sparsity is 1 - N/M (give --sparsity or --n/--m)`,
    );
  if (method !== 'nm' && !dataAware && (o.n !== undefined || o.m !== undefined))
    throw new UsageError('--n and --m go with --method nm, wanda or sparsegpt');
  if (!dataAware && o['calibration-batches'] !== undefined)
    throw new UsageError('--calibration-batches goes with --method wanda or sparsegpt');
  const batches = intOption(args, 'calibration-batches', 16, 1, 1024);
  const n = intOption(args, 'n', 2, 1, 254);
  const m = intOption(args, 'm', 4, 2, 255);
  if (n >= m) throw new UsageError('--n must be smaller than --m');
  const scope = (o.scope as string | undefined) ?? 'layer';
  if (scope !== 'layer' && scope !== 'global') throw new UsageError('--scope takes layer or global');
  if (scope === 'global' && method !== 'magnitude')
    throw new UsageError(
      '--scope global goes with --method magnitude (N:M, channels, wanda and sparsegpt are per layer)',
    );
  const storage = (o.storage as string | undefined) ?? 'dense';
  if (storage !== 'dense' && storage !== 'sparse' && storage !== 'int4')
    throw new UsageError('--storage takes dense, sparse or int4');
  if (storage !== 'int4' && (o.block !== undefined || o.sym !== undefined))
    throw new UsageError('--block and --sym go with --storage int4');
  const blockSize = intOption(args, 'block', DEFAULT_QUANTIZE_OPTIONS.blockSize, 16, 256);
  if ((blockSize & (blockSize - 1)) !== 0)
    throw new UsageError('--block takes a power of two from 16 to 256');
  const quantize: QuantizeOptions | undefined =
    storage === 'int4'
      ? { ...DEFAULT_QUANTIZE_OPTIONS, bits: 4, blockSize, symmetric: Boolean(o.sym) }
      : undefined;
  const include = String(o.include ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as OptionalKind[];
  for (const k of include)
    if (!OPTIONAL_KINDS.includes(k))
      throw new UsageError(`--include: unknown kind ${k} (${OPTIONAL_KINDS.join(', ')})`);
  const exclude = regexOption(args, 'exclude');
  const verifyOptions = verifyOptionsOf(args);
  const verify = o['no-verify'] ? undefined : verifyOptions;
  const input = args.positionals[0];
  const label = (x: number) => String(+(x * 100).toFixed(1));
  const suffix = maskFile
    ? 'masked'
    : method === 'nm'
      ? `${n}of${m}`
      : method === 'channel'
        ? `channels${label(sparsity)}`
        : dataAware
          ? `${method}${semiStructured ? `${n}of${m}` : label(sparsity)}`
          : `sparse${label(sparsity)}`;
  const outPath = path.resolve(
    (o.output as string | undefined) ??
      path.join(
        path.dirname(input),
        `${path.basename(input).replace(/\.onnx$/i, '')}.${suffix}${STORAGE_SUFFIX[storage]}.onnx`,
      ),
  );
  const saveMask = o['save-mask'] === undefined ? undefined : path.resolve(String(o['save-mask']));
  const options: PruneOptions = {
    ...DEFAULT_PRUNE_OPTIONS,
    method: (method ?? 'magnitude') as PruneOptions['method'],
    sparsity: semiStructured ? 1 - n / m : sparsity,
    semiStructured,
    scope,
    n,
    m,
    keepFirstLast: Boolean(o['keep-first-last']),
    include,
    exclude,
    storage,
    masks: maskFile ? readMasks(maskFile) : undefined,
    keepMasks: saveMask !== undefined,
  };
  const int4Options = quantize ? { blockSize, symmetric: quantize.symmetric } : {};
  const reportOptions: Record<string, unknown> = maskFile
    ? { mask: maskFile, storage, ...int4Options, saveMask: saveMask ?? '' }
    : {
        method,
        ...(method === 'nm' || semiStructured ? { n, m } : { sparsity }),
        ...(method === 'magnitude' ? { scope } : {}),
        ...(dataAware ? { calibrationBatches: verifyOptions.inputsDir ? 1 : batches } : {}),
        keepFirstLast: options.keepFirstLast,
        include: include.join(','),
        exclude: exclude?.source ?? '',
        storage,
        ...int4Options,
        saveMask: saveMask ?? '',
      };
  const progress = o.json ? undefined : (message: string) => process.stderr.write(`${message}\n`);
  const { report, verification } = await runPrune({
    input,
    outPath,
    saveMask,
    maskFile,
    force: Boolean(o.force),
    verify,
    options,
    quantize,
    reportOptions,
    onProgress: progress,
    ...(dataAware ? { calibration: { ...verifyOptions, batches } } : {}),
  });
  if (o.json) out(JSON.stringify(report, null, 2));
  else printPrune(report, verification, out);
  return transformExitCode(report, verification);
}

function readMasks(file: string): KeepMask[] {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new ModelError(
      file,
      (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message,
    );
  }
  try {
    return parseSafetensors(bytes).masks;
  } catch (e) {
    if (e instanceof FormatError) throw new ModelError(file, e.message);
    throw e;
  }
}

interface PruneRun {
  input: string;
  outPath: string;
  saveMask?: string;
  maskFile?: string;
  force: boolean;
  verify?: VerifyOptions;
  options: PruneOptions;
  /** --storage int4: how the pruned MatMul/Gemm weights are quantized afterwards. */
  quantize?: QuantizeOptions;
  reportOptions: Record<string, unknown>;
  onProgress?(message: string): void;
  /** --method wanda|sparsegpt: the calibration inputs (synthesized batches, --inputs or --data samples). */
  calibration?: CalibrationOptions;
}

/**
 * Prunes through the transform pipeline (transformRun.ts): writes the pruned model and the keep-masks beside
 * the input without overwriting anything unless `force`, verifies it in onnxruntime-node on a worker thread,
 * measures the files (size, sha256, gzip) and writes the report (JSON + Markdown).
 */
export function runPrune(run: PruneRun): Promise<{ report: PruneReport; verification?: VerifyResult }> {
  const saveMask = run.saveMask;
  const quantize = run.quantize;
  const o = run.options;
  let dataAware: DataAwarePrunePlan | undefined;
  // Layers whose method lost to magnitude held out are not in `layers`: planPrune prunes them by magnitude.
  const decided = (t: TensorInfo) => {
    const l = dataAware?.layers.get(t.id);
    return l && l.method !== 'magnitude' ? { values: l.values, keep: l.keep, method: l.method } : undefined;
  };
  // Dense weights are pruned as the writer reaches them: one weight in memory at a time.
  const lazy = new LazyTensors();
  return runTransform<PruneReport, PrunePlan & { quantized?: QuantizedTensorRow[] }>({
    transform: 'prune',
    input: run.input,
    outPath: run.outPath,
    force: run.force,
    verify: run.verify,
    options: run.reportOptions,
    extraOutputs: saveMask ? [saveMask] : [],
    lazy,
    check: () => {
      if (saveMask && saveMask === run.maskFile)
        throw new ModelError(saveMask, 'refusing to overwrite the mask being applied');
    },
    plan: (model, sink) => {
      run.onProgress?.('pruning…');
      try {
        const { index, source, resolveExternal } = model;
        return quantize
          ? planPruneInt4(index, source, resolveExternal, run.options, quantize, sink, lazy, decided)
          : planPrune(index, source, resolveExternal, run.options, sink, { lazy, decided });
      } catch (e) {
        if (e instanceof RangeError || e instanceof FormatError) throw new ModelError(run.input, e.message);
        throw e;
      }
    },
    prepare:
      (o.method === 'wanda' || o.method === 'sparsegpt') && run.calibration
        ? async (model) => {
            const method = o.method as DataAwarePruneMethod;
            const { targets } = selectTargets(model.index, {
              include: o.include,
              keepFirstLast: o.keepFirstLast,
              exclude: o.exclude,
              needsLayout: Boolean(o.semiStructured),
              nmN: o.semiStructured ? o.n : undefined,
            });
            const rule = o.semiStructured
              ? { sparsity: o.sparsity, n: o.n, m: o.m }
              : { sparsity: o.sparsity };
            try {
              dataAware = await whileInterruptible((signal) =>
                planDataAwarePrune(
                  model,
                  targets.map((x) => x.tensor),
                  method,
                  rule,
                  run.calibration!,
                  { signal, onProgress: run.onProgress },
                ),
              );
            } catch (e) {
              if (e instanceof DataAwareCancelledError)
                throw new ModelError(run.input, 'pruning cancelled during calibration; nothing written');
              throw e;
            }
          }
        : undefined,
    blockersAbout: run.maskFile,
    nothingToDo: (plan) => {
      const why = plan.skipped.length
        ? `; left alone: ${plan.skipped
            .slice(0, 5)
            .map((s) => `${s.name} (${s.reason})`)
            .join(', ')}`
        : '';
      return `nothing to prune: no weight qualifies${why}.`;
    },
    afterWrite: (plan) => {
      if (!saveMask) return;
      const metadata = { format: 'big-shrink keep-mask (1 = keep)', model: path.basename(run.input) };
      writeFileAtomic(saveMask, encodeSafetensors(plan.masks, metadata), { force: run.force });
    },
    gzip: true,
    finish: async (plan, { model, written, input, output }) => {
      const [saved, applied] = await Promise.all(
        [saveMask, run.maskFile].map((f) => (f ? describeFile(f) : undefined)),
      );
      const outModel = openModel(written.modelPath);
      const runtimeBytesAfter = runtimeBytes(outModel.index);
      outModel.close();
      const sum = (files: ReportFile[], key: 'bytes' | 'gzipBytes') =>
        files.reduce((s, f) => s + (f[key] ?? 0), 0);
      const ps = plan.summary;
      return {
        summary: {
          sparsityBefore: ps.weights ? ps.zerosBefore / ps.weights : 0,
          sparsityAfter: ps.achieved,
          weights: ps.weights,
          ...(ps.target !== undefined ? { target: ps.target } : {}),
          ...(ps.threshold !== undefined ? { threshold: ps.threshold } : {}),
        },
        sections: {
          sizes: {
            inputBytes: sum(input, 'bytes'),
            inputGzipBytes: sum(input, 'gzipBytes'),
            outputBytes: sum(output, 'bytes'),
            outputGzipBytes: sum(output, 'gzipBytes'),
            ...gzipSampling([...input, ...output]),
            prunedDenseBytes: plan.tensors.reduce((s, t) => s + t.denseBytes, 0),
            prunedSparseBytes: plan.tensors.reduce((s, t) => s + t.sparseBytes, 0),
            prunedStoredBytes: plan.tensors.reduce((s, t) => s + t.afterBytes, 0),
            runtimeBytesBefore: runtimeBytes(model.index),
            runtimeBytesAfter,
            ...(plan.quantized
              ? {
                  quantizedDenseBytes: plan.quantized.reduce((s, t) => s + t.beforeBytes, 0),
                  quantizedBytes: plan.quantized.reduce((s, t) => s + t.afterBytes, 0),
                }
              : {}),
          },
          ...(saved || applied
            ? { masks: { ...(saved ? { saved } : {}), ...(applied ? { applied } : {}) } }
            : {}),
          ...(plan.quantized ? { quantized: plan.quantized } : {}),
          ...(dataAware
            ? { dataAware: dataAwareSection(dataAware, o.method as DataAwarePruneMethod, run) }
            : {}),
        },
      };
    },
    reportSpill: false,
    onProgress: run.onProgress,
    render: renderPruneMarkdown,
  });
}

/** The report's data-aware section: the calibration, the layers pruned on data and the fallbacks. */
function dataAwareSection(
  d: DataAwarePrunePlan,
  method: DataAwarePruneMethod,
  run: PruneRun,
): DataAwarePruneSection {
  const gains = d.rows.map((r) => r.gainDb).filter(Number.isFinite);
  return {
    method,
    calibration: d.calibration,
    calibrationSource: d.calibration.startsWith('none')
      ? 'none'
      : run.calibration?.inputsDir
        ? 'inputs'
        : /^\d+ calibration samples? of /.test(d.calibration)
          ? 'files'
          : 'synthesized',
    layers: d.rows,
    fallback: d.fallback,
    meanLayerGainDb: Math.round((gains.reduce((s, g) => s + g, 0) / Math.max(1, gains.length)) * 1000) / 1000,
  };
}

/** Whether some gzip sizes are estimates, and the smallest share of a file that was compressed. */
function gzipSampling(files: ReportFile[]): { gzipEstimated?: boolean; gzipSampledFraction?: number } {
  const sampled = files.filter((f) => f.gzipEstimated);
  if (sampled.length === 0) return {};
  return {
    gzipEstimated: true,
    gzipSampledFraction: Math.min(...sampled.map((f) => f.gzipSampledFraction!)),
  };
}

/** What --storage adds to the output's name. */
const STORAGE_SUFFIX: Record<PruneOptions['storage'], string> = {
  dense: '',
  sparse: '.sparseinit',
  int4: '.int4',
};

/** Bytes of every tensor once loaded: what ONNX Runtime holds (sparse initializers are densified). */
function runtimeBytes(index: ModelIndex): number {
  return index.tensors.reduce((s, t) => s + rawByteLength(t.dtype, t.count), 0);
}

function printPrune(
  r: PruneReport,
  verification: VerifyResult | undefined,
  out: (line: string) => void,
): void {
  const s = r.summary;
  const z = r.sizes;
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  out(`wrote ${r.output.files.map((f) => `${f.path} (${f.bytes} bytes)`).join(', ')}`);
  if (r.masks?.saved) out(`wrote ${r.masks.saved.path} (${r.masks.saved.bytes} bytes of keep-masks)`);
  out(
    `${s.tensors} weights pruned: sparsity ${pct(s.sparsityBefore)} → ${pct(s.sparsityAfter)}` +
      (s.target !== undefined ? ` (target ${pct(s.target)})` : ''),
  );
  out(
    `size: ${z.inputBytes} → ${z.outputBytes} bytes on disk, gzip ${z.inputGzipBytes} → ${z.outputGzipBytes} bytes${gzipNote(z)}; ` +
      `pruned weights ${z.prunedDenseBytes} bytes dense, ${z.prunedSparseBytes} as sparse, ${z.prunedStoredBytes} written`,
  );
  out(
    `runtime memory for weights and constants: ${z.runtimeBytesBefore} → ${z.runtimeBytesAfter} bytes (${runtimeMemoryNote(z)})`,
  );
  if (z.quantizedBytes !== undefined)
    out(
      `4-bit: ${r.quantized?.length ?? 0} pruned weights → MatMulNBits, ${z.quantizedDenseBytes} → ${z.quantizedBytes} bytes (codes + scales + zero points, also in memory); ${s.nodes} nodes rewritten`,
    );
  const d = r.dataAware;
  if (d)
    out(
      `${d.method}: ${d.layers.filter((l) => l.method !== 'magnitude').length} weights pruned on ${d.calibrationSource === 'synthesized' ? 'synthesized calibration inputs' : d.calibrationSource === 'none' ? 'data (none qualified)' : 'calibration data'}, mean layer gain over magnitude ${d.meanLayerGainDb} dB; ` +
        `${d.fallback.length} fell back to magnitude${
          d.fallback.length
            ? ` (${d.fallback
                .slice(0, 3)
                .map((f) => f.name)
                .join(', ')}${d.fallback.length > 3 ? ', …' : ''})`
            : ''
        }`,
    );
  for (const w of r.warnings) out(`warning: ${w}`);
  if (verification) printVerification(verification, out);
  out(`fidelity: ${s.status}; report: ${r.output.files[0].path.replace(/\.onnx$/i, '.report.md')}`);
}
