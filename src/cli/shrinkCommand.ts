import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelError } from '../core/errors';
import { DEFAULT_QUANTIZE_OPTIONS, type QuantizePlan } from '../core/quant/planQuantize';
import { planMixed, type Precision } from '../core/shrink/planMixed';
import {
  type Baseline,
  layerReason,
  renderShrinkMarkdown,
  type ShrinkReport,
} from '../core/shrink/shrinkReport';
import { type Candidate, type Evaluation, type LayerLoss, searchShrink } from '../core/shrink/shrinkSearch';
import {
  fidelityOf,
  meetsTarget,
  parseTarget,
  type ShrinkTarget,
  targetValue,
} from '../core/shrink/shrinkTarget';
import { openCandidateRunner } from '../runtime/candidateRunner';
import { openModel } from '../runtime/openModel';
import {
  measureSensitivity,
  SensitivityCancelledError,
  type SensitivityReport,
} from '../runtime/sensitivity';
import type { VerifyOptions } from '../runtime/verifyModels';
import { parseArgs, UsageError } from './args';
import {
  printTransform,
  runTransform,
  VERIFY_OPTIONS,
  verifyOptionsOf,
  whileInterruptible,
} from './transformRun';

export const shrinkUsage = `big-shrink shrink MODEL --target "cosine>=X" | "sqnr>=DB" | "top1>=X" [--max-bytes N] [-o OUT] [--force]
                 [--json] [--inputs DIR] [--dims NAME=V,...] [--fill INPUT=V,...]
  Goal-driven mixed precision: the smallest model whose worst output still meets the target. Measures each
  MatMul/Gemm layer's output loss alone at 4 and 8 bits (as sensitivity does), starts with every layer at
  4-bit (MatMulNBits, block 32) and, while the model misses the target, raises the most sensitive layer
  (4-bit → 8-bit → float) and runs it again (in memory). The first configuration that meets the target is
  written (MODEL.shrink.onnx beside MODEL unless -o) and verified; the report (.report.json/.md) gives each
  layer's choice and why, the candidates tried, and uniform 8-bit and 4-bit figures for comparison.
  Exit 1 when only the original model meets the target, or nothing fits --max-bytes: no file is written.
  --target         cosine>=X and top1>=X (2-D class-score outputs) in (0, 1]; sqnr>=DB in dB
  --max-bytes N    fail instead of growing the model beyond N bytes`;

/** `big-shrink shrink`: returns the exit code. */
export async function shrinkCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, {
    target: { type: 'string' },
    'max-bytes': { type: 'number' },
    output: { type: 'string', alias: '-o' },
    force: { type: 'flag' },
    json: { type: 'flag' },
    ...VERIFY_OPTIONS,
  });
  if (args.positionals.length !== 1) throw new UsageError('shrink takes one MODEL');
  if (args.options.target === undefined) throw new UsageError('shrink needs --target, e.g. "cosine>=0.999"');
  const target = parseTarget(String(args.options.target));
  if (typeof target === 'string') throw new UsageError(target);
  const maxBytes = args.options['max-bytes'] as number | undefined;
  if (maxBytes !== undefined && !(Number.isInteger(maxBytes) && maxBytes > 0))
    throw new UsageError('--max-bytes takes a whole number of bytes above 0');
  const verify = verifyOptionsOf(args);
  const input = path.resolve(args.positionals[0]);
  if (!fs.existsSync(input)) throw new ModelError(input, 'no such file');
  const outPath = path.resolve(
    (args.options.output as string | undefined) ??
      path.join(path.dirname(input), `${path.basename(input).replace(/\.onnx$/i, '')}.shrink.onnx`),
  );
  const force = Boolean(args.options.force);
  // Refuse before the search rather than after it.
  const stem = outPath.replace(/\.onnx$/i, '');
  for (const f of [outPath, `${stem}.report.json`, `${stem}.report.md`]) {
    if (!force && fs.existsSync(f)) throw new ModelError(f, 'already exists (use --force to overwrite)');
  }
  const log = args.options.json ? () => undefined : (m: string) => process.stderr.write(`${m}\n`);

  const search = await whileInterruptible((signal) =>
    findConfiguration(input, target, verify, maxBytes, log, signal),
  );
  const base = DEFAULT_QUANTIZE_OPTIONS;
  const { report, verification } = await runTransform<ShrinkReport, QuantizePlan>({
    transform: 'shrink',
    input,
    outPath,
    force,
    verify,
    options: {
      target: target.text,
      ...(maxBytes === undefined ? {} : { maxBytes }),
      precisions: '4-bit, 8-bit (MatMulNBits, block 32, asymmetric), float',
      ops: base.ops.join(','),
    },
    plan: (model, sink) =>
      planMixed(model.index, model.source, model.resolveExternal, search.choices, base, sink),
    nothingToDo: () => 'every layer stays in float.',
    onProgress: args.options.json ? undefined : log,
    finish: async () => {
      const counts: Record<Precision, number> = { int4: 0, int8: 0, float: 0 };
      for (const p of search.choices.values()) counts[p]++;
      return {
        summary: {
          target: target.text,
          achieved:
            search.candidates.at(-1)?.fidelity && targetValue(search.candidates.at(-1)!.fidelity!, target),
          layers: counts,
          uniform8Bytes: search.uniform8.bytes,
          uniform4Bytes: search.uniform4.bytes,
        },
        sections: {
          layers: search.layers.map((l) => {
            const choice = search.choices.get(l.name)!;
            return {
              name: l.name,
              op: l.op,
              params: l.params,
              choice,
              int4: l.int4,
              int8: l.int8,
              why: layerReason(choice, l, search.raisedAt.get(l.name)),
            };
          }),
          candidates: search.candidates,
          baselines: { uniform4: search.uniform4, uniform8: search.uniform8 },
        },
      };
    },
    render: renderShrinkMarkdown,
  });
  const met = verification?.ok === true && meetsTarget(fidelityOf(verification.outputs), target);
  if (args.options.json) out(JSON.stringify(report, null, 2));
  else {
    const c = report.summary.layers;
    out(
      `target ${target.text}: ${search.candidates.length} candidates tried; ` +
        `${c.int4} layers at 4-bit, ${c.int8} at 8-bit, ${c.float} in float`,
    );
    out(
      `uniform 4-bit ${search.uniform4.bytes} bytes, uniform 8-bit ${search.uniform8.bytes} bytes, shrink ${report.summary.bytesAfter} bytes`,
    );
    printTransform(report, `mixed precision for ${target.text}`, verification, out);
  }
  if (!met) {
    process.stderr.write(
      `big-shrink: error: ${outPath}: the written model does not verify to ${target.text}\n`,
    );
    return 1;
  }
  return 0;
}

interface Found {
  layers: LayerLoss[];
  choices: Map<string, Precision>;
  raisedAt: Map<string, number>;
  candidates: Candidate[];
  uniform4: Baseline;
  uniform8: Baseline;
}

/** Measures the sensitivities, runs the uniform baselines and searches; throws when no file should be written. */
async function findConfiguration(
  input: string,
  target: ShrinkTarget,
  verify: VerifyOptions,
  maxBytes: number | undefined,
  log: (m: string) => void,
  signal: AbortSignal,
): Promise<Found> {
  const measured: SensitivityReport[] = [];
  for (const bits of [4, 8] as const) {
    log(`measuring each layer alone at ${bits}-bit…`);
    try {
      measured.push(await measureSensitivity(input, { bits, blockSize: 32, ...verify }, { signal }));
    } catch (e) {
      if (e instanceof SensitivityCancelledError) throw new ModelError(input, 'shrink cancelled');
      throw e;
    }
  }
  const [at4, at8] = measured;
  const loss = (r: SensitivityReport, name: string) => {
    const l = r.layers.find((x) => x.name === name);
    return l && !l.error ? { sqnrDb: l.outputSqnrDb, cosine: l.cosine } : undefined;
  };
  // Most sensitive at 4-bit first (sensitivity's order), as the report lists them.
  const layers: LayerLoss[] = at4.layers.map((l) => ({
    name: l.name,
    op: l.op,
    params: l.params,
    int4: loss(at4, l.name),
    int8: loss(at8, l.name),
  }));
  if (layers.length === 0)
    throw new ModelError(
      input,
      'nothing to shrink: no MatMul/Gemm reads a constant 2-D float weight. No file written.',
    );

  const model = openModel(input);
  try {
    const runner = await openCandidateRunner(model, verify);
    const evaluate = async (choices: ReadonlyMap<string, Precision>): Promise<Evaluation> => {
      if (signal.aborted) throw new ModelError(input, 'shrink cancelled');
      const plan = planMixed(
        model.index,
        model.source,
        model.resolveExternal,
        choices,
        DEFAULT_QUANTIZE_OPTIONS,
      );
      if (plan.blockers.length) return { bytes: NaN, error: plan.blockers.join('; ') };
      const run = await runner.run(plan.edits);
      return {
        bytes: run.bytes,
        fidelity: run.error ? undefined : fidelityOf(run.outputs),
        error: run.error,
      };
    };
    const uniform = async (p: Precision): Promise<Baseline> => {
      const e = await evaluate(new Map(layers.map((l) => [l.name, p])));
      return { ...e, meetsTarget: !e.error && !!e.fidelity && meetsTarget(e.fidelity, target) };
    };
    const uniform4 = await uniform('int4');
    const uniform8 = await uniform('int8');
    if (target.metric === 'top1' && uniform4.fidelity && uniform4.fidelity.top1 === undefined)
      throw new ModelError(
        input,
        'has no [batch, classes] float output, so top1 cannot be measured: use a cosine or sqnr target',
      );
    log(`uniform 4-bit: ${uniform4.bytes} bytes; uniform 8-bit: ${uniform8.bytes} bytes`);
    const result = await searchShrink(layers, target, evaluate, {
      maxBytes,
      onStep: (c) =>
        log(
          `candidate ${c.step}${c.raised ? ` (${c.raised.name} ${c.raised.from}→${c.raised.to})` : ''}: ` +
            `${c.bytes} bytes, ${target.metric} ${c.fidelity ? targetValue(c.fidelity, target) : c.error}` +
            `${c.met ? ' — meets the target' : ''}`,
        ),
    });
    if (!result.met) throw new ModelError(input, `${result.failure}. No file written.`);
    return { layers, ...result, uniform4, uniform8 };
  } finally {
    model.close();
  }
}
