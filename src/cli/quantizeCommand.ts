import * as path from 'node:path';
import { ModelError } from '../core/errors';
import { planQdq } from '../core/quant/planQdq';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  planQuantize,
  type QuantizeOptions,
  type QuantizePlan,
} from '../core/quant/planQuantize';
import { QUANT_METHODS, type QuantMethod } from '../core/quant/dataAwareQuantize';
import { type QuantizeReport, renderQuantizeMarkdown } from '../core/quant/quantizeReport';
import { stayedFloat } from '../core/quant/stayedFloat';
import type { LmHeadPrecision } from '../core/quant/lmHead';
import { DataAwareCancelledError, type DataAwarePlan, planDataAware } from '../runtime/planDataAware';
import { quantizeAlongside } from '../runtime/quantizeAlongside';
import { verifyInWorker } from '../runtime/verifyInWorker';
import { fidelityStatus } from '../core/transform/transformReport';
import { openModel } from '../runtime/openModel';
import { dataAwareSection } from './dataAwareReport';
import { intOption, parseArgs, regexOption, UsageError } from './args';
import {
  failReason,
  printTransform,
  printVerification,
  runTransform,
  VERIFY_OPTIONS,
  verifyOptionsOf,
  whileInterruptible,
  transformExitCode,
} from './transformRun';

export const quantizeUsage = `big-shrink quantize MODEL --bits 2|4|8 [--format nbits|qdq] [--block N] [--sym] [--ops MatMul,Gemm,Conv]
                   [--exclude REGEX] [--only REGEX] [--min-elements N] [--accuracy-level 0|1|2|3|4] [-o OUT] [--force] [--json]
                   [--inputs DIR] [--dims NAME=V,...] [--fill INPUT=V,...] [--no-verify]
                   [--method rtn|search|gptq] [--calibration-batches N] [--embedding 4|8] [--lm-head 2|4|8|float]
  Weight-only quantization. --format nbits (default): com.microsoft::MatMulNBits for MatMul and Gemm with
  constant 2-D float weights, bit-identical to ONNX Runtime's round-to-nearest; writes MODEL.int4.onnx
  (int2/int8 likewise). --format qdq: standard DequantizeLinear in front of the original MatMul, Gemm and
  Conv (default ops), 4-bit int4/uint4 blocked along the reduction axis (raises the opset to 21, IR to 10)
  or 8-bit int8 per output channel (opset 13); writes MODEL.int4.qdq.onnx. Beside MODEL unless -o, plus
  .report.json and .report.md, then both models are compared in onnxruntime-node.
  --block N        block size along K (Conv: input channels): 16, 32 (default), 64, 128 or 256
  --sym            symmetric (no zero points); default asymmetric with zero points
  --exclude REGEX  weights (or nodes reading them) whose name matches stay in float
  --only REGEX     quantize only the weights (or nodes reading them) whose name matches; the rest stay float
  --inputs DIR     verification inputs: .npy files named after the model's inputs
  --dims, --fill   synthesized verification inputs: symbolic dim values, constant inputs
  --data PATH      the model's real inputs (file or folder; repeat as INPUT=PATH); calibration uses one
                   part, the verdict the other (--calibration N, --evaluation N, --split F, --tokenizer FILE,
                   --resample: see big-shrink help data). Default: MODEL.inputs.json beside the model
  --method M       how codes are chosen (--format nbits): rtn (default, round-to-nearest, as ORT), search
                   (per-block clipping that minimizes the layer's output error on calibration activations)
                   or gptq (GPTQ error compensation along K); the report gives the gain over rtn
  --calibration-batches N  synthesized calibration batches (default 16, seeds apart from verification's);
                   with --inputs DIR the calibration runs on those inputs instead
  --embedding B    also quantize token embeddings (Gather of a float [V, H] table) to B = 4 or 8 bits:
                   com.microsoft::GatherBlockQuantized, blocks of --block along H (--format nbits); a table
                   also read by a tied LM head stays float, stored once
  --lm-head P      a language model's head (the MatMul/Gemm making the logits: a graph output named
                   *logits*, or as many outputs as the token embedding has rows) at 2, 4 or 8 bits or left
                   float; default 8 when --bits is 2 or 4 (a 4-bit head can make an LM repeat itself)
  --accuracy-level MatMulNBits' accuracy_level (default 4: activations quantized to int8 per block inside
                   the kernel, ONNX Runtime's fast CPU path; 0 keeps float activations)`;

export const verifyUsage = `big-shrink verify ORIGINAL CANDIDATE [--json] [--inputs DIR] [--dims NAME=V,...] [--fill INPUT=V,...]
  Runs both models in onnxruntime-node on the same inputs: per output cosine, SQNR, max abs error, top-1
  agreement; sizes, load time (after a warm-up load of each) and median latency. Exit 3 when the verdict is
  FAIL or the models cannot be compared (either fails to load or run), 1 when a file is no ONNX model.
  --inputs DIR     .npy files named after the inputs (input_ids.npy; other inputs are synthesized)
  --dims, --fill   synthesized inputs (fixed seed): symbolic dim values, constant inputs
  --data PATH      the model's real inputs (file or folder; repeat as INPUT=PATH); calibration uses one
                   part, the verdict the other (--calibration N, --evaluation N, --split F, --tokenizer FILE,
                   --resample: see big-shrink help data). Default: MODEL.inputs.json beside the model`;

/** `big-shrink quantize`: returns the exit code. */
export async function quantizeCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, {
    bits: { type: 'number' },
    format: { type: 'string' },
    block: { type: 'number' },
    sym: { type: 'flag' },
    ops: { type: 'string' },
    exclude: { type: 'string' },
    only: { type: 'string' },
    embedding: { type: 'number' },
    'lm-head': { type: 'string' },
    'min-elements': { type: 'number' },
    'accuracy-level': { type: 'number' },
    output: { type: 'string', alias: '-o' },
    force: { type: 'flag' },
    json: { type: 'flag' },
    ...VERIFY_OPTIONS,
    'no-verify': { type: 'flag' },
    method: { type: 'string' },
    'calibration-batches': { type: 'number' },
  });
  if (args.positionals.length !== 1) throw new UsageError('quantize takes one MODEL');
  const bits = args.options.bits ?? 4;
  if (bits !== 2 && bits !== 4 && bits !== 8) throw new UsageError('--bits takes 2, 4 or 8');
  const format = (args.options.format as string | undefined) ?? 'nbits';
  if (format !== 'nbits' && format !== 'qdq') throw new UsageError('--format takes nbits or qdq');
  if (format === 'qdq' && bits === 2)
    throw new UsageError('--format qdq takes --bits 4 or 8 (2-bit needs --format nbits)');
  const method = (args.options.method as string | undefined) ?? 'rtn';
  if (!QUANT_METHODS.includes(method as QuantMethod))
    throw new UsageError(`--method takes ${QUANT_METHODS.join(', ')}`);
  if (method !== 'rtn' && format !== 'nbits')
    throw new UsageError('--method search|gptq writes MatMulNBits: use it with --format nbits');
  const batches = intOption(args, 'calibration-batches', 16, 1, 1024);
  const blockSize = intOption(args, 'block', 32, 16, 256);
  if ((blockSize & (blockSize - 1)) !== 0)
    throw new UsageError('--block takes a power of two from 16 to 256');
  const exclude = regexOption(args, 'exclude');
  const only = regexOption(args, 'only');
  const embeddingArg = args.options.embedding as number | undefined;
  if (embeddingArg !== undefined && embeddingArg !== 4 && embeddingArg !== 8)
    throw new UsageError('--embedding takes 4 or 8 (bits of the token embedding)');
  if (embeddingArg !== undefined && format === 'qdq')
    throw new UsageError('--embedding needs --format nbits (GatherBlockQuantized is an ONNX Runtime op)');
  const embedding = embeddingArg as 4 | 8 | undefined;
  const lmHead = lmHeadOption(args.options['lm-head'] as string | undefined, bits, format);
  const ops = String(args.options.ops ?? (format === 'qdq' ? 'MatMul,Gemm,Conv' : 'MatMul,Gemm'))
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
    only,
    minElements: intOption(args, 'min-elements', 0, 0, Number.MAX_SAFE_INTEGER),
    ...(embedding ? { embedding } : {}),
    ...(lmHead !== undefined ? { lmHead } : {}),
  };
  const verifyOptions = verifyOptionsOf(args);

  const input = args.positionals[0];
  const outPath = path.resolve(
    (args.options.output as string | undefined) ??
      path.join(
        path.dirname(input),
        `${path.basename(input).replace(/\.onnx$/i, '')}.int${bits}${format === 'qdq' ? '.qdq' : ''}.onnx`,
      ),
  );
  const force = Boolean(args.options.force);
  const what = format === 'qdq' ? 'DequantizeLinear' : 'MatMulNBits';
  const progress = args.options.json ? undefined : (m: string) => process.stderr.write(`${m}\n`);
  let dataAware: DataAwarePlan | undefined;
  const { report, verification } = await runTransform<QuantizeReport, QuantizePlan>({
    transform: 'quantize',
    input,
    outPath,
    force,
    verify: args.options['no-verify'] ? undefined : verifyOptions,
    options: {
      format,
      bits,
      blockSize,
      symmetric: options.symmetric,
      // DequantizeLinear has no accuracy level (ORT's DQ→MatMulNBits fusion picks its own).
      ...(format === 'nbits' ? { accuracyLevel: options.accuracyLevel } : {}),
      ops: ops.join(','),
      exclude: exclude?.source ?? '',
      ...(only ? { only: only.source } : {}),
      minElements: options.minElements,
      ...(embedding ? { embedding } : {}),
      ...(lmHead !== undefined ? { lmHead } : {}),
      method,
      ...(method !== 'rtn' ? { calibrationBatches: verifyOptions.inputsDir ? 1 : batches } : {}),
    },
    prepare:
      method === 'rtn'
        ? undefined
        : async (model) => {
            try {
              dataAware = await whileInterruptible((signal) =>
                planDataAware(
                  model,
                  options,
                  method as QuantMethod,
                  { ...verifyOptions, batches },
                  { signal, onProgress: progress },
                ),
              );
            } catch (e) {
              if (e instanceof DataAwareCancelledError)
                throw new ModelError(input, 'quantization cancelled during calibration; nothing written');
              throw e;
            }
          },
    plan: (model, sink) => {
      if (format === 'qdq') return planQdq(model.index, model.source, model.resolveExternal, options, sink);
      // Round-to-nearest on both cores: a worker quantizes a share of the weights while this thread plans.
      const alongside = method === 'rtn' ? quantizeAlongside(model, options) : undefined;
      let plan: QuantizePlan;
      try {
        plan = planQuantize(
          model.index,
          model.source,
          model.resolveExternal,
          options,
          sink,
          alongside?.hooks ?? { quantizeWeight: dataAware?.quantizer },
        );
      } finally {
        alongside?.dispose();
      }
      for (const row of plan.tensors) {
        const layer = dataAware?.rows.find((l) => l.name === row.name);
        if (layer) Object.assign(row, { method: layer.kept, layerGainDb: layer.gainDb });
      }
      return plan;
    },
    finish: async (plan, { model, verification, written }) => ({
      summary: {},
      sections: {
        ...(dataAware
          ? {
              dataAware: await dataAwareSection(
                model,
                options,
                method as QuantMethod,
                dataAware,
                verification,
                verifyOptions,
                written,
              ),
            }
          : {}),
        stayedFloat: stayedFloat(model.index, plan, what),
      },
    }),
    nothingToDo: (plan) => {
      const why = plan.skipped.length
        ? `; left in float: ${plan.skipped
            .slice(0, 5)
            .map((s) => `${s.name} (${s.reason})`)
            .join(', ')}`
        : '';
      return `no ${ops.join('/')} weights to quantize: no ${ops.join(' or ')} node reads a constant ${format === 'qdq' ? '' : '2-D '}float weight${why}.`;
    },
    onProgress: progress,
    render: renderQuantizeMarkdown,
  });
  if (args.options.json) out(JSON.stringify(report, null, 2));
  else {
    const s = report.summary;
    const layout = format === 'qdq' && bits === 8 ? 'per channel' : `block ${blockSize}`;
    printTransform(
      report,
      `${s.tensors} weights → ${what} ${bits}-bit (${layout}${options.symmetric ? ', symmetric' : ''}), ${s.nodes} nodes`,
      verification,
      out,
    );
    if (report.stayedFloat?.tensors) out(report.stayedFloat.summary);
    const d = report.dataAware;
    if (d) {
      out(
        `${d.method}: mean layer gain over rtn ${d.meanLayerGainDb} dB on the calibration` +
          (d.outputGainDb === undefined
            ? ''
            : `; worst output SQNR over ${d.outputSeeds} batches ${d.rtnOutputSqnrDb} dB (rtn) → ${d.outputSqnrDb} dB (${d.outputGainDb} dB)`),
      );
    }
  }
  return transformExitCode(report, verification);
}

/** `big-shrink verify`: returns the exit code. */
export async function verifyCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, { json: { type: 'flag' }, ...VERIFY_OPTIONS });
  if (args.positionals.length !== 2) throw new UsageError('verify takes ORIGINAL and CANDIDATE');
  const [a, b] = args.positionals;
  // A file that is no model is an error (exit 1), named plainly, before onnxruntime tries it.
  for (const f of [a, b]) openModel(f).close();
  const options = verifyOptionsOf(args);
  const result = await whileInterruptible((signal) =>
    verifyInWorker(path.resolve(a), path.resolve(b), options, {
      signal,
      onProgress: args.options.json ? undefined : (p) => process.stderr.write(`${p.message}\n`),
    }),
  );
  for (const k of result.data?.skipped ?? [])
    process.stderr.write(`big-shrink: skipped ${k.path}: ${k.reason}\n`);
  if (args.options.json) out(JSON.stringify(result, null, 2));
  else printVerification(result, out);
  const why = failReason(fidelityStatus(result), result);
  if (why === undefined) return 0;
  process.stderr.write(`big-shrink: FAIL: ${b}: ${why}\n`);
  return 3;
}

/**
 * `--lm-head`: the head's precision, by default 8 bits under a 2- or 4-bit MatMulNBits quantization
 * (LM_HEAD_REASON); undefined when the head is quantized like the rest.
 */
function lmHeadOption(text: string | undefined, bits: number, format: string): LmHeadPrecision | undefined {
  if (text === undefined) return format === 'nbits' && bits < 8 ? 8 : undefined;
  if (format !== 'nbits') throw new UsageError('--lm-head goes with --format nbits');
  if (text === 'float') return 'float';
  const b = Number(text);
  if (b !== 2 && b !== 4 && b !== 8) throw new UsageError('--lm-head takes 2, 4, 8 or float');
  return b === bits ? undefined : b;
}
