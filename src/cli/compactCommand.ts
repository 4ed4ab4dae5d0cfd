import * as path from 'node:path';
import { type CompactReport, renderCompactMarkdown } from '../core/compact/compactReport';
import { headRows } from '../core/compact/activationSummary';
import { findHeadBlocks, type HeadBlock } from '../core/compact/findHeadBlocks';
import { findHeadGroups, HEADS_LEFT_WHOLE } from '../core/compact/findHeads';
import { findUnitGroups, type LeftWhole, type UnitGroup } from '../core/compact/findUnitGroups';
import {
  activationImportance,
  type CompactOptions,
  type CompactPlan,
  magnitudeImportance,
  planCompact,
} from '../core/compact/planCompact';
import { headMagnitude, planHeads } from '../core/compact/planHeads';
import { planLowRank, type RankOption } from '../core/compact/planLowRank';
import { weightCache } from '../core/compact/readWeight';
import type { OpenedModel } from '../runtime/openModel';
import { unitStatistics } from '../runtime/unitStatistics';
import type { VerifyOptions, VerifyResult } from '../runtime/verifyModels';
import { parseArgs, UsageError } from './args';
import {
  printVerification,
  runTransform,
  transformExitCode,
  VERIFY_OPTIONS,
  verifyOptionsOf,
} from './transformRun';

export const compactUsage = `big-shrink compact MODEL --units 0.25 [--heads 0.25] | --heads 0.25 | --rank 0.5|N [--method activation|magnitude] [--keep-first-last]
                  [--samples 64] [--data PATH] [-o OUT] [--force] [--json] [--inputs DIR] [--dims NAME=V,...] [--fill INPUT=V,...]
                  [--no-verify]
  Removes the least important hidden units for real, so the model is smaller and faster: MLP blocks
  (MatMul/Gemm up, and gate, → elementwise activation → MatMul/Gemm down) lose columns of the up/gate
  weights and their bias entries and rows of the down weight; Conv → [BatchNormalization] → activation →
  Conv (group 1) loses output channels and the next Conv's input channels. A layer behind a Reshape/Slice/
  Split, with a shared weight or a graph output in between is left whole and listed with the reason.
  Writes MODEL.compact25.onnx and .report.json/.md; verified in onnxruntime-node (fidelity and latency).
  --units F           fraction of each layer's hidden units to remove (0 < F < 1)
  --heads F           fraction of each attention block's heads to remove (0 < F < 1), alone or with
                      --units: Q, K and V lose the heads' output columns (and bias entries), the output
                      projection their input rows, the split/merge Reshape (Concat) constants their H and
                      H·D entries; a block that does not match exactly (runtime shapes, unprovable 0/-1
                      entries, fused Attention ops, GQA, rotary, a cache output) is left whole with the
                      reason. Writes MODEL.heads25.onnx (MODEL.compact25.heads25.onnx with --units)
  --method activation rank units by mean |activation| × the norm of the weights reading it, measured on
                      the calibration samples of --data (else --samples synthesized samples; the
                      default method); magnitude: ‖up column‖·‖down row‖
  --data PATH         the model's real inputs (file or folder; repeat as INPUT=PATH): the importance is
                      measured on the calibration samples, the verdict on the evaluation samples
                      (--calibration N, --evaluation N, --split F, --tokenizer FILE, --resample, as
                      for every command). Default: MODEL.inputs.json beside the model
  --rank F|N          instead: low-rank factorization; each MatMul/Gemm weight [K,N] becomes [K,r]·[r,N]
                      (truncated SVD), r = F·min(K,N) for a fraction F < 1 or N singular values, only where
                      r·(K+N) < K·N; writes MODEL.rank50.onnx (F) or MODEL.r16.onnx (N); the report gives
                      per layer the rank and the energy kept
  --keep-first-last   leave the first and the last compactable layer whole`;

/** `big-shrink compact`: returns the exit code. */
export async function compactCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, {
    units: { type: 'number' },
    heads: { type: 'number' },
    rank: { type: 'number' },
    method: { type: 'string' },
    'keep-first-last': { type: 'flag' },
    samples: { type: 'number' },
    output: { type: 'string', alias: '-o' },
    force: { type: 'flag' },
    json: { type: 'flag' },
    ...VERIFY_OPTIONS,
    'no-verify': { type: 'flag' },
  });
  if (args.positionals.length !== 1) throw new UsageError('compact takes one MODEL');
  const o = args.options;
  const widths = o.units !== undefined || o.heads !== undefined;
  if (widths === (o.rank !== undefined))
    throw new UsageError(
      'compact needs --units (the fraction of hidden units to remove) and/or --heads (of attention heads), or --rank, not both',
    );
  const units = o.units === undefined ? 0 : Number(o.units);
  if (o.units !== undefined && !(units > 0 && units < 1))
    throw new UsageError('--units takes a fraction between 0 and 1, e.g. 0.25');
  const heads = o.heads === undefined ? undefined : Number(o.heads);
  if (heads !== undefined && !(heads > 0 && heads < 1))
    throw new UsageError('--heads takes a fraction between 0 and 1, e.g. 0.25');
  let rank: RankOption | undefined;
  if (o.rank !== undefined) {
    const r = Number(o.rank);
    if (r > 0 && r < 1) rank = { fraction: r };
    else if (Number.isInteger(r) && r >= 1) rank = { count: r };
    else throw new UsageError('--rank takes a fraction between 0 and 1 or a whole number of singular values');
    if (o.method !== undefined || o.samples !== undefined)
      throw new UsageError('--method and --samples go with --units');
  }
  const method = (o.method as string | undefined) ?? 'activation';
  if (method !== 'activation' && method !== 'magnitude')
    throw new UsageError('--method takes activation or magnitude');
  const samples = o.samples === undefined ? 64 : Number(o.samples);
  if (!(Number.isInteger(samples) && samples >= 1))
    throw new UsageError('--samples takes a whole number ≥ 1');
  if (o.samples !== undefined && method !== 'activation')
    throw new UsageError('--samples goes with --method activation');
  const input = args.positionals[0];
  const percent = (x: number) => String(+(x * 100).toFixed(1));
  const suffix = !rank
    ? [
        ...(o.units !== undefined ? [`compact${percent(units)}`] : []),
        ...(heads !== undefined ? [`heads${percent(heads)}`] : []),
      ].join('.')
    : 'fraction' in rank
      ? `rank${percent(rank.fraction)}`
      : `r${rank.count}`;
  const outPath = path.resolve(
    (o.output as string | undefined) ??
      path.join(path.dirname(input), `${path.basename(input).replace(/\.onnx$/i, '')}.${suffix}.onnx`),
  );
  const options: CompactOptions = { units, method, keepFirstLast: Boolean(o['keep-first-last']) };
  const verify = o['no-verify'] ? undefined : verifyOptionsOf(args);
  const { report, verification } = await runCompact({
    input,
    outPath,
    force: Boolean(o.force),
    verify,
    options,
    heads,
    rank,
    samples,
    calibrate: verifyOptionsOf(args),
    onProgress: o.json ? undefined : (m) => process.stderr.write(`${m}\n`),
  });
  if (o.json) out(JSON.stringify(report, null, 2));
  else printCompact(report, verification, out);
  return transformExitCode(report, verification);
}

interface CompactRun {
  input: string;
  outPath: string;
  force: boolean;
  verify?: VerifyOptions;
  options: CompactOptions;
  /** Fraction of each attention block's heads to remove (--heads); units 0 then means heads only. */
  heads?: number;
  /** Low-rank factorization instead of removing units. */
  rank?: RankOption;
  samples: number;
  /** --dims/--fill/--inputs/--data for the activation measurement (its calibration samples). */
  calibrate: VerifyOptions;
  onProgress?(message: string): void;
}

/** Compacts through the transform pipeline (transformRun.ts): plan, write, verify, report. */
export async function runCompact(
  run: CompactRun,
): Promise<{ report: CompactReport; verification?: VerifyResult }> {
  let found: { groups: UnitGroup[]; leftWhole: LeftWhole[] } | undefined;
  let blocks: HeadBlock[] = [];
  const headImportance = new Map<string, Float64Array>();
  let read: ReturnType<typeof weightCache> | undefined;
  const importance = new Map<string, Float64Array>();
  let calibration: string | undefined;
  const warnings: string[] = [];
  const prepare = async (model: OpenedModel) => {
    read = weightCache(model.source, model.resolveExternal);
    const r = read;
    if (run.rank) return;
    found = findUnitGroups(model.index, (t) => (t.count === 1 ? r(t)[0] : undefined));
    // Without --units only heads go: the unit groups are not listed.
    if (run.options.units === 0) found = { groups: [], leftWhole: [] };
    const headGroups = findHeadGroups(model.index, r);
    if (run.heads === undefined) {
      // Attention heads are found (activations measures them) but removed only with --heads.
      for (const g of headGroups)
        found.leftWhole.push({
          name: g.name,
          op: g.op,
          reason: `${g.heads} attention heads × ${g.headDim}: ${HEADS_LEFT_WHOLE}`,
        });
    } else {
      const matched = findHeadBlocks(model.index, headGroups, r);
      blocks = matched.blocks;
      found.leftWhole.push(...matched.leftWhole);
    }
    if (run.options.method === 'magnitude') {
      for (const g of found.groups) importance.set(g.name, magnitudeImportance(model.index, g, r));
      for (const b of blocks) headImportance.set(b.group.name, headMagnitude(model.index, b, r));
      return;
    }
    if (found.groups.length === 0 && blocks.length === 0) return;
    const targets = [
      ...found.groups.map((g) => ({ name: g.hidden, units: g.units, axis: g.hiddenAxis })),
      ...blocks.map((b) => ({
        name: b.group.input,
        units: b.group.heads * b.group.headDim,
        axis: 'last' as const,
      })),
    ];
    run.onProgress?.(`measuring ${targets.length} layers' activations in onnxruntime-node…`);
    const measured = await unitStatistics(model.path, targets, {
      ...run.calibrate,
      samples: run.samples,
      warn: run.onProgress ? (line) => run.onProgress!(`big-shrink: ${line}`) : undefined,
    });
    calibration = measured.calibration;
    for (const m of measured.missing) warnings.push(`${m.name}: not measured (${m.reason})`);
    const byName = new Map(measured.stats.map((s) => [s.name, s]));
    for (const g of found.groups) {
      const s = byName.get(g.hidden);
      if (s) importance.set(g.name, activationImportance(model.index, g, s.meanAbs, r));
    }
    // Per head: Σ over its channels of mean |x| × the norm of the output projection's rows (as activations).
    for (const h of headRows(
      model.index,
      blocks.map((b) => b.group),
      byName,
      r,
    ))
      headImportance.set(h.name, Float64Array.from(h.importance));
  };
  return runTransform<CompactReport, CompactPlan>({
    transform: 'compact',
    input: run.input,
    outPath: run.outPath,
    force: run.force,
    verify: run.verify,
    options: run.rank
      ? {
          rank: 'fraction' in run.rank ? run.rank.fraction : run.rank.count,
          keepFirstLast: run.options.keepFirstLast,
        }
      : {
          ...(run.options.units > 0 ? { units: run.options.units } : {}),
          ...(run.heads !== undefined ? { heads: run.heads } : {}),
          method: run.options.method,
          keepFirstLast: run.options.keepFirstLast,
        },
    prepare,
    plan: (model, sink) => {
      if (run.rank) return planLowRank(model.index, run.rank, run.options.keepFirstLast, read!, sink);
      const plan = planCompact(
        model.index,
        found!.groups,
        found!.leftWhole,
        importance,
        run.options,
        read!,
        sink,
      );
      if (run.heads !== undefined)
        planHeads(
          model.index,
          blocks,
          headImportance,
          { heads: run.heads, keepFirstLast: run.options.keepFirstLast },
          read!,
          plan,
          sink,
        );
      plan.warnings.push(...warnings);
      return plan;
    },
    nothingToDo: (plan) =>
      (run.rank
        ? 'nothing to factorize: no MatMul/Gemm weight that a lower rank makes smaller'
        : run.options.units === 0
          ? 'nothing to compact: no attention block whose heads can be removed'
          : `nothing to compact: no MLP block or Conv pair whose hidden units can be removed`) +
      (plan.skipped.length
        ? `; left whole: ${plan.skipped
            .slice(0, 5)
            .map((s) => `${s.name} (${s.reason})`)
            .join(', ')}`
        : '') +
      '.',
    finish: async (plan, { verification }) => {
      const sum = (k: 'unitsBefore' | 'unitsAfter', heads = false) =>
        plan.tensors.filter((l) => (l.kind === 'heads') === heads).reduce((s, l) => s + l[k], 0);
      // A tensor two layers cut (a Conv between two groups) counts once.
      const unique = new Map(plan.tensors.flatMap((l) => l.tensors.map((t) => [t.name, t] as const)));
      const bytes = (k: 'bytesBefore' | 'bytesAfter') => [...unique.values()].reduce((s, t) => s + t[k], 0);
      const ok = verification?.ok;
      return {
        summary: {
          unitsBefore: sum('unitsBefore'),
          unitsAfter: sum('unitsAfter'),
          ...(run.heads !== undefined
            ? { headsBefore: sum('unitsBefore', true), headsAfter: sum('unitsAfter', true) }
            : {}),
          layerBytesBefore: bytes('bytesBefore'),
          layerBytesAfter: bytes('bytesAfter'),
          ...(ok
            ? {
                medianMsBefore: verification!.original.medianMs,
                medianMsAfter: verification!.candidate.medianMs,
              }
            : {}),
        },
        sections: { leftWhole: plan.leftWhole, ...(calibration ? { calibration } : {}) },
      };
    },
    onProgress: run.onProgress,
    render: renderCompactMarkdown,
  });
}

function printCompact(r: CompactReport, v: VerifyResult | undefined, out: (line: string) => void): void {
  const s = r.summary;
  out(`wrote ${r.output.files.map((f) => `${f.path} (${f.bytes} bytes)`).join(', ')}`);
  out(
    `${r.tensors.length} layers compacted: ${s.unitsBefore} → ${s.unitsAfter} hidden units` +
      (s.headsBefore !== undefined ? `, ${s.headsBefore} → ${s.headsAfter} attention heads` : '') +
      `, their weights ` +
      `${s.layerBytesBefore} → ${s.layerBytesAfter} bytes; file ${s.bytesBefore} → ${s.bytesAfter} bytes (${s.ratio.toFixed(3)}×)`,
  );
  for (const l of r.tensors)
    out(
      l.kind === 'lowrank'
        ? `  ${l.name} (${l.op}): rank ${l.rank} of ${l.unitsBefore}, energy kept ${l.energyKept!.toFixed(6)}`
        : l.kind === 'heads'
          ? `  ${l.name} (${l.op}): ${l.unitsBefore} → ${l.unitsAfter} heads (removed ${l.removed.join(', ')})`
          : `  ${l.name} (${l.op}): ${l.unitsBefore} → ${l.unitsAfter} units`,
    );
  for (const k of r.skipped) out(`  left whole: ${k.name} (${k.op}): ${k.reason}`);
  for (const w of r.warnings) out(`warning: ${w}`);
  if (v) printVerification(v, out);
  if (s.medianMsBefore !== undefined) out(`median latency ${s.medianMsBefore} → ${s.medianMsAfter} ms`);
  out(`fidelity: ${s.status}; report: ${r.output.files[0].path.replace(/\.onnx$/i, '.report.md')}`);
}
