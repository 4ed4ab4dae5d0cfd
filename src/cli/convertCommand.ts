import * as path from 'node:path';
import { DEFAULT_FP16_OPTIONS, planFp16 } from '../core/quant/planFp16';
import type { QuantizePlan } from '../core/quant/planQuantize';
import { type QuantizeReport, renderQuantizeMarkdown } from '../core/quant/quantizeReport';
import { intOption, parseArgs, regexOption, UsageError } from './args';
import {
  printTransform,
  runTransform,
  VERIFY_OPTIONS,
  transformExitCode,
  verifyOptionsOf,
} from './transformRun';

export const convertUsage = `big-shrink convert MODEL --fp16 [--exclude REGEX] [--min-elements N] [-o OUT] [--force] [--json]
                  [--inputs DIR] [--dims NAME=V,...] [--fill INPUT=V,...] [--no-verify] [--data PATH]
  Stores float32 weights as float16, each followed by a Cast to float32 under its original name (ONNX
  Runtime folds the Cast at load), so the model's inputs, outputs and opset are unchanged. Writes
  MODEL.fp16.onnx beside MODEL unless -o, plus .report.json and .report.md, then compares both models in
  onnxruntime-node. Weights beyond float16's range and tensors under --min-elements (64) stay float32.`;

/** `big-shrink convert`: returns the exit code. */
export async function convertCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, {
    fp16: { type: 'flag' },
    exclude: { type: 'string' },
    'min-elements': { type: 'number' },
    output: { type: 'string', alias: '-o' },
    force: { type: 'flag' },
    json: { type: 'flag' },
    ...VERIFY_OPTIONS,
    'no-verify': { type: 'flag' },
  });
  if (args.positionals.length !== 1) throw new UsageError('convert takes one MODEL');
  if (!args.options.fp16) throw new UsageError('convert needs a target type: --fp16');
  const exclude = regexOption(args, 'exclude');
  const options = {
    ...DEFAULT_FP16_OPTIONS,
    exclude,
    minElements: intOption(
      args,
      'min-elements',
      DEFAULT_FP16_OPTIONS.minElements,
      0,
      Number.MAX_SAFE_INTEGER,
    ),
  };
  const verify = args.options['no-verify'] ? undefined : verifyOptionsOf(args);
  const input = args.positionals[0];
  const outPath = path.resolve(
    (args.options.output as string | undefined) ??
      path.join(path.dirname(input), `${path.basename(input).replace(/\.onnx$/i, '')}.fp16.onnx`),
  );
  const { report, verification } = await runTransform<QuantizeReport, QuantizePlan>({
    transform: 'convert',
    input,
    outPath,
    force: Boolean(args.options.force),
    verify,
    options: { to: 'float16', exclude: exclude?.source ?? '', minElements: options.minElements },
    plan: (model, sink) => planFp16(model.index, model.source, model.resolveExternal, options, sink),
    nothingToDo: (plan) =>
      `nothing to convert: no float32 weight${
        plan.skipped.length
          ? ` qualifies (${plan.skipped
              .slice(0, 5)
              .map((s) => `${s.name}: ${s.reason}`)
              .join('; ')})`
          : ' (the model holds none)'
      }.`,
    onProgress: args.options.json ? undefined : (m) => process.stderr.write(`${m}\n`),
    render: renderQuantizeMarkdown,
  });
  if (args.options.json) out(JSON.stringify(report, null, 2));
  else printTransform(report, `${report.summary.tensors} weights → float16 + Cast`, verification, out);
  return transformExitCode(report, verification);
}
