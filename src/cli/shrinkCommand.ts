import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LmHeadPrecision } from '../core/quant/lmHead';
import { ModelError } from '../core/errors';
import { DEFAULT_QUANTIZE_OPTIONS, type QuantizePlan } from '../core/quant/planQuantize';
import { planMixed } from '../core/shrink/planMixed';
import {
  countPrecisions,
  type Precision,
  PRECISION_LABELS,
  PRECISIONS,
  parsePrecisions,
} from '../core/shrink/precisions';
import { layerReason, lossText, renderShrinkMarkdown, type ShrinkReport } from '../core/shrink/shrinkReport';
import { countChoices, type Loss } from '../core/shrink/shrinkSearch';
import { choiceLabel, parseStructures, type Structure } from '../core/shrink/shrinkChoices';
import {
  findStructuredIn,
  structuredLayerRows,
  structuredPlan,
  structuredReason,
  type StructuredFound,
} from './shrinkStructured';
import {
  fidelityOf,
  meetsTarget,
  parseTarget,
  type ShrinkTarget,
  targetValue,
} from '../core/shrink/shrinkTarget';
import { checkWritable } from '../runtime/checkWritable';
import { openModel } from '../runtime/openModel';
import { defaultSensitivityWorkers } from '../runtime/sensitivity';
import { intOption, parseArgs, UsageError } from './args';
import { findConfiguration, type Found, type LossSource, type SearchSettings } from './findConfiguration';
import {
  printTransform,
  runTransform,
  VERIFY_OPTIONS,
  verifyOptionsOf,
  transformExitCode,
  whileInterruptible,
} from './transformRun';

export const shrinkUsage = `big-shrink shrink MODEL --target "cosine>=X" | "sqnr>=DB" | "top1>=X" | "ppl<=+P%" | "kl<=X" | "acc>=POINTS"
                 [--max-bytes N] [-o OUT] [--force]
                 [--precisions ID,...] [--choices rank50,width25] [--objective size|latency]
                 [--layers REGEX] [--workers N] [--refine] [--losses measured|estimated] [--lm-head 2|4|8|float]
                 [--json] [--inputs DIR]
                 [--dims NAME=V,...] [--data PATH] [--fill INPUT=V,...]
  Goal-driven mixed precision: the smallest model whose worst output still meets the target. Each MatMul/Gemm
  weight chooses among int2, int4b128, int4, int8 (MatMulNBits: 2-bit block 32, 4-bit block 128, 4-bit
  block 32, 8-bit block 32), fp16 (float16 storage) and float. Starts with every layer at its smallest
  precision and, while the model misses the target, raises the layer whose next step buys the most measured
  fidelity per added byte, and runs it again (in memory). A layer's loss alone at a precision is measured
  (as sensitivity does, on two workers) only when the search first needs it. The first configuration that
  meets the target is written (MODEL.shrink.onnx beside MODEL unless -o) and verified; the report
  (.report.json/.md) gives each layer's choice and why, the candidates tried, and every uniform
  configuration for comparison. Exit 1 when only the original model meets the target, or nothing fits
  --max-bytes: no file is written; exit 3 when the written model does not verify to the target.
  --target         cosine>=X and top1>=X (class scores, or next-token agreement of a language model) in
                   (0, 1]; sqnr>=DB in dB; ppl<=+P% (perplexity change, or an absolute change without %)
                   and kl<=X (mean next-token KL, nats) for language models; acc>=POINTS (accuracy change
                   in points, labelled data). The search measures on calibration samples; the written
                   model is re-measured on the held-out evaluation samples (exit 3 when they disagree).
  --max-bytes N    fail instead of growing the model beyond N bytes
  --precisions     the precision ids allowed (default all; float always is), e.g. int4,int8
  --choices        structural choices beside the precisions, each also combined with every precision:
                   rankP (a weight becomes low-rank factors [K,r]·[r,N], r = P% of min(K,N), only where
                   that is smaller) and widthP (an MLP block loses P% of its hidden units: its up, gate and
                   down weights change together, one decision); e.g. rank50,width25
  --objective      size (default: the fewest bytes) or latency (the lowest estimated median latency in
                   onnxruntime-node: each choice timed on the whole model, shared out by parameters)
  --layers REGEX   search only the weights whose name or node name matches; the others stay in float
  --workers N      threads measuring layer losses (default 2; 1 when a second onnxruntime session of the
                   model would pass the memory bound of big models; with --choices or --objective latency
                   the candidates run one at a time)
  --refine         after the first configuration that meets the target, lower layers one rung at a time
                   (least measured loss per byte saved first) while the target still holds
  --losses M       how a layer's loss alone is found: measured (one onnxruntime run of the model per
                   layer and precision) or estimated (one calibration pass; the layer's own output noise
                   from its inputs' energy per channel, no run per layer). Default: estimated for models
                   of 1 GiB and more, where a run costs seconds; every candidate is still run in full
  --lm-head B      the fewest bits a language model's head may take (as quantize finds it): 8 (default:
                   int8, fp16 or float), 4, 2, or float to leave it as it is
  When the mix grows past the smallest uniform configuration that meets the target, that one is taken and
  backed off from the same way, so the result is never larger than it (e.g. uniform 8-bit).`;

/** `big-shrink shrink`: returns the exit code. */
export async function shrinkCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, {
    target: { type: 'string' },
    'max-bytes': { type: 'number' },
    precisions: { type: 'string' },
    choices: { type: 'string' },
    objective: { type: 'string' },
    workers: { type: 'number' },
    layers: { type: 'string' },
    refine: { type: 'flag' },
    losses: { type: 'string' },
    'lm-head': { type: 'string' },
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
  const precisions =
    args.options.precisions === undefined
      ? [...PRECISIONS]
      : parsePrecisions(String(args.options.precisions));
  if (typeof precisions === 'string') throw new UsageError(precisions);
  const structures: Structure[] | string =
    args.options.choices === undefined ? [] : parseStructures(String(args.options.choices));
  if (typeof structures === 'string') throw new UsageError(structures);
  const objective = String(args.options.objective ?? 'size');
  if (objective !== 'size' && objective !== 'latency')
    throw new UsageError(`--objective takes size or latency, not ${objective}`);
  const structured = structures.length > 0 || objective === 'latency';
  const workers =
    args.options.workers === undefined
      ? undefined
      : intOption(args, 'workers', defaultSensitivityWorkers(), 1, 64);
  let layers: RegExp | undefined;
  if (args.options.layers !== undefined) {
    try {
      layers = new RegExp(String(args.options.layers));
    } catch (e) {
      throw new UsageError(`--layers takes a regular expression: ${(e as Error).message}`);
    }
  }
  const lossesArg = args.options.losses as string | undefined;
  if (lossesArg !== undefined && lossesArg !== 'measured' && lossesArg !== 'estimated')
    throw new UsageError('--losses takes measured or estimated');
  const lmHeadArg = (args.options['lm-head'] as string | undefined) ?? '8';
  if (!['2', '4', '8', 'float'].includes(lmHeadArg))
    throw new UsageError('--lm-head takes 2, 4, 8 or float (the fewest bits the LM head may take)');
  const lmHead: LmHeadPrecision = lmHeadArg === 'float' ? 'float' : (Number(lmHeadArg) as 2 | 4 | 8);
  if (structured && lossesArg === 'estimated')
    throw new UsageError(
      '--losses estimated goes with the precision search: --choices and --objective latency measure each choice',
    );
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
  checkWritable([outPath, `${stem}.report.json`, `${stem}.report.md`]);
  const log = args.options.json ? () => undefined : (m: string) => process.stderr.write(`${m}\n`);

  const settings: SearchSettings = {
    verify,
    maxBytes,
    precisions,
    workers,
    layers,
    refine: Boolean(args.options.refine),
    structures,
    objective,
    losses: lossesArg as LossSource | undefined,
    lmHead,
  };
  const searchModel = structured ? openModel(input) : undefined;
  try {
    const found = await whileInterruptible<Found | StructuredFound>((signal) =>
      searchModel
        ? findStructuredIn(searchModel, target, settings, log, signal)
        : findConfiguration(input, target, settings, log, signal),
    );
    return await writeShrink(
      found,
      { input, outPath, force, target, settings, json: !!args.options.json, log },
      out,
    );
  } finally {
    searchModel?.close();
  }
}

/** Writes, verifies and reports the configuration found; returns the exit code. */
async function writeShrink(
  search: Found | StructuredFound,
  run: {
    input: string;
    outPath: string;
    force: boolean;
    target: ShrinkTarget;
    settings: SearchSettings;
    json: boolean;
    log: (m: string) => void;
  },
  out: (line: string) => void,
): Promise<number> {
  const { input, outPath, force, target, log } = run;
  const { verify, maxBytes, precisions, workers, layers } = run.settings;
  const structured = 'final' in search ? search : undefined;
  const lossSource = 'lossSource' in search ? search.lossSource : 'measured';
  const args = { options: { json: run.json, refine: run.settings.refine } };
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
      precisions: precisions.join(','),
      ...(run.settings.structures.length
        ? { choices: run.settings.structures.map((x) => x.id).join(',') }
        : {}),
      objective: run.settings.objective,
      ops: base.ops.join(','),
      workers: workers ?? ('workers' in search ? search.workers : 1),
      losses: lossSource,
      lmHead: run.settings.lmHead,
      ...(layers ? { layers: layers.source } : {}),
      ...(args.options.refine ? { refine: true } : {}),
    },
    ...(structured ? { stage: () => structured.final.model } : {}),
    plan: (model, sink) =>
      structured
        ? structuredPlan(structured, model, sink)
        : planMixed(model.index, model.source, model.resolveExternal, (search as Found).choices, base, sink),
    nothingToDo: () => 'every layer stays in float.',
    onProgress: args.options.json ? undefined : log,
    finish: async (plan, { verification: v, model: original }) => {
      const counts = structured
        ? countChoices(structured.choices, structured.ids)
        : countPrecisions((search as Found).choices, precisions);
      const last = search.candidates[search.chosen - 1]?.fidelity;
      const final = v?.ok ? fidelityOf(v.outputs, v.metrics) : undefined;
      const heldOut = {
        ...(final ? { value: targetValue(final, target) } : {}),
        met: !!final && meetsTarget(final, target),
        samples: v?.metrics?.samples ?? 0,
      };
      return {
        summary: {
          heldOut,
          target: target.text,
          achieved: last && targetValue(last, target),
          layers: counts,
          uniform8Bytes: search.baselines.uniform8.bytes,
          uniform4Bytes: search.baselines.uniform4.bytes,
          measurements: search.measured,
          losses: lossSource,
          chosenStep: search.chosen,
          ...(search.fallback ? { fallback: search.fallback } : {}),
          objective: run.settings.objective,
          ...(run.settings.structures.length
            ? { choices: run.settings.structures.map((x) => x.id).join(',') }
            : {}),
          ...(v?.ok && Number.isFinite(v.original.medianMs) && Number.isFinite(v.candidate.medianMs)
            ? {
                latency: {
                  originalMs: v.original.medianMs,
                  candidateMs: v.candidate.medianMs,
                  runs: verify.runs ?? 5,
                },
              }
            : {}),
        },
        sections: {
          layers: structured
            ? structuredLayerRows(structured, plan, original).map((row) => ({
                ...row,
                losses: [...(structured.losses.get(row.name) ?? [])].flatMap(([p, x]) =>
                  x ? [{ choice: p, ...x }] : [],
                ),
                why: structuredReason(structured, row.name),
              }))
            : (search as Found).layers.map((l) => {
                const choice = (search as Found).choices.get(l.name)!;
                const losses = (search as Found).losses.get(l.name)!;
                const measured = (p: Precision) => losses.get(p);
                return {
                  name: l.name,
                  op: l.op,
                  params: l.params,
                  choice,
                  int4: measured('int4'),
                  int8: measured('int8'),
                  losses: [...losses].flatMap(([p, x]) => (x ? [{ choice: p, ...x }] : [])),
                  why: search.fallback
                    ? fallbackReason(search.fallback, choice, measured(choice), search.lowered.get(l.name))
                    : layerReason(
                        choice,
                        (search as Found).ladders.get(l.name)!,
                        losses,
                        search.raisedAt.get(l.name),
                      ),
                };
              }),
          candidates: search.candidates,
          baselines: search.baselines,
          ...(structured?.latencyMs
            ? {
                latencySearch: {
                  choicesMs: structured.latencyMs,
                  finalists: structured.finalistsMs ?? [],
                  picked: structured.picked ?? '',
                },
              }
            : {}),
          precisionLabels: structured
            ? Object.fromEntries(structured.ids.map((id) => [id, choiceLabel(id)]))
            : { ...PRECISION_LABELS },
        },
      };
    },
    render: renderShrinkMarkdown,
  });
  const met =
    verification?.ok === true && meetsTarget(fidelityOf(verification.outputs, verification.metrics), target);
  if (args.options.json) out(JSON.stringify(report, null, 2));
  else {
    const mix = Object.entries(report.summary.layers)
      .filter(([, n]) => n > 0)
      .map(([id, n]) => `${n} ${id}`)
      .join(', ');
    out(
      `target ${target.text}: ${search.candidates.length} candidates tried, ` +
        `${search.measured} layer losses measured; layers: ${mix}`,
    );
    out(
      `uniform 4-bit ${search.baselines.uniform4.bytes} bytes, uniform 8-bit ${search.baselines.uniform8.bytes} bytes, shrink ${report.summary.bytesAfter} bytes`,
    );
    printTransform(report, `mixed precision for ${target.text}`, verification, out);
    const l = report.summary.latency;
    if (l) out(`median latency ${l.originalMs} → ${l.candidateMs} ms (objective: ${run.settings.objective})`);
  }
  // A comparison that failed says so itself (transformExitCode); a miss of the target on the held-out
  // evaluation samples (the search met it on the calibration samples) is shrink's own.
  const heldOut = report.summary.heldOut?.value;
  const missed =
    verification?.ok && !met
      ? `the search met ${target.text} on the calibration samples, but the written model does not on the ` +
        `held-out evaluation samples${heldOut === undefined ? '' : ` (${target.metric} ${heldOut})`}`
      : undefined;
  return transformExitCode(report, verification, missed);
}

/** Why a layer ended where it did when the search fell back to a uniform configuration and backed off. */
function fallbackReason(
  fallback: string,
  choice: Precision,
  loss: Loss | undefined,
  loweredAt?: number,
): string {
  const start = `the mixed search grew past ${fallback} (which meets the target) before meeting it, so it started again from ${fallback}`;
  return loweredAt === undefined
    ? `${start}; lowering this layer missed the target or was not tried: kept at ${PRECISION_LABELS[choice]}`
    : `${start}; lowered to ${PRECISION_LABELS[choice]} at candidate ${loweredAt} (alone there: ${lossText(loss)}), still meeting the target`;
}
