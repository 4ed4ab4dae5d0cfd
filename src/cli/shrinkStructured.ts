import { ModelError } from '../core/errors';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  type QuantizePlan,
  type QuantizedTensorRow,
} from '../core/quant/planQuantize';
import { planMixed } from '../core/shrink/planMixed';
import type { Precision } from '../core/shrink/precisions';
import {
  choiceIds,
  choiceLabel,
  type Objective,
  type Structure,
  structuralLadder,
} from '../core/shrink/shrinkChoices';
import type { Baseline, ShrinkLayerRow } from '../core/shrink/shrinkReport';
import {
  type Evaluation,
  type Loss,
  type SearchLayer,
  type SearchResult,
  searchShrink,
} from '../core/shrink/shrinkSearch';
import {
  fidelityOf,
  meetsTarget,
  type ShrinkTarget,
  targetValue,
  unmeasurable,
} from '../core/shrink/shrinkTarget';
import { rawByteLength } from '../core/tensor/dataType';
import { openCandidateRunner } from '../runtime/candidateRunner';
import type { OpenedModel } from '../runtime/openModel';
import {
  floatRow,
  setupStructures,
  type ShrinkStructures,
  type StagedConfiguration,
} from '../runtime/shrinkStructures';
import type { VerifyOptions } from '../runtime/verifyModels';

/** Timed runs per configuration when the latency objective estimates its costs. */
export const LATENCY_RUNS = 15;

/** What the structured search found: the choices, the staged result and the figures for the report. */
export interface StructuredFound extends SearchResult<string> {
  layers: SearchLayer<string>[];
  structures: ShrinkStructures;
  final: StagedConfiguration;
  baselines: { uniform4: Baseline; uniform8: Baseline } & Record<string, Baseline>;
  ids: string[];
  /** Latency objective: the measured median per uniform configuration (ms), `original` first. */
  latencyMs?: Record<string, number>;
}

/**
 * The search with structural choices (`--choices`) or the latency objective: every item (a weight, or an
 * MLP unit group) has a ladder of choice ids ordered by bytes (size) or by estimated latency (latency). A
 * choice's loss is measured by running the configuration with that item alone changed on the calibration
 * samples (the candidate runner, one at a time: a structural change is staged in memory first). The
 * latency estimate of a choice on an item is its share (by parameters) of the measured latency change of
 * the whole model with every item at that choice.
 */
export async function findStructured(
  model: OpenedModel,
  rows: readonly QuantizedTensorRow[],
  target: ShrinkTarget,
  settings: {
    verify: VerifyOptions;
    precisions: Precision[];
    structures: Structure[];
    objective: Objective;
    maxBytes?: number;
    refine: boolean;
  },
  log: (m: string) => void,
  signal: AbortSignal,
): Promise<StructuredFound> {
  const { verify, precisions, structures } = settings;
  log(`setting up the choices (${[...precisions, ...structures.map((s) => s.id)].join(', ')})…`);
  const setup = await setupStructures(model, rows, structures, precisions, verify);
  const ids = choiceIds(structures, precisions);
  const runner = await openCandidateRunner(model, verify);
  const planOf = (choices: ReadonlyMap<string, string>) => {
    const staged = setup.stage(choices);
    const m = staged.model;
    return {
      staged,
      plan: planMixed(m.index, m.source, m.resolveExternal, staged.precisions, DEFAULT_QUANTIZE_OPTIONS),
    };
  };
  const evaluate = async (choices: ReadonlyMap<string, string>): Promise<Evaluation> => {
    if (signal.aborted) throw new ModelError(model.path, 'shrink cancelled');
    const { staged, plan } = planOf(choices);
    if (plan.blockers.length) return { bytes: NaN, error: plan.blockers.join('; ') };
    const run = await runner.run(plan.edits, staged.model);
    return {
      bytes: run.bytes,
      fidelity: run.error ? undefined : fidelityOf(run.outputs, run.metrics),
      error: run.error,
    };
  };
  const measure = async (wanted: readonly { name: string; precision: string }[]) => {
    log(
      `measuring ${wanted.length} choices alone (${[...new Set(wanted.map((w) => w.precision))].join(', ')})…`,
    );
    const out: (Loss | undefined)[] = [];
    for (const w of wanted) {
      const e = await evaluate(new Map([[w.name, w.precision]]));
      out.push(e.fidelity ? { sqnrDb: e.fidelity.sqnrDb, cosine: e.fidelity.cosine } : undefined);
    }
    return out;
  };
  const uniform = async (p: Precision): Promise<Baseline> => {
    const e = await evaluate(new Map(setup.items.map((i) => [i.name, p])));
    return { ...e, meetsTarget: !e.error && !!e.fidelity && meetsTarget(e.fidelity, target) };
  };
  const baselines: StructuredFound['baselines'] = {
    uniform4: await uniform('int4'),
    uniform8: await uniform('int8'),
  };
  for (const p of precisions)
    if (p !== 'int4' && p !== 'int8' && p !== 'float') baselines[p] = await uniform(p);
  const cannot = baselines.uniform4.fidelity && unmeasurable(target, baselines.uniform4.fidelity);
  if (cannot) throw new ModelError(model.path, cannot);

  let cost: Map<string, Record<string, number>> | undefined;
  let latencyMs: Record<string, number> | undefined;
  if (settings.objective === 'latency') {
    const time = async (choices: ReadonlyMap<string, string>) => {
      const { staged, plan } = planOf(choices);
      return plan.blockers.length ? undefined : runner.time(plan.edits, LATENCY_RUNS, staged.model);
    };
    const original = await time(new Map());
    if (original === undefined) throw new ModelError(model.path, 'the original model could not be timed');
    latencyMs = { original: round(original) };
    const total = setup.items.reduce((s, i) => s + i.params, 0);
    cost = new Map(setup.items.map((i) => [i.name, { float: (original * i.params) / total }]));
    for (const id of ids) {
      if (id === 'float') continue;
      const having = setup.items.filter((i) => setup.bytes.get(i.name)![id] !== undefined);
      if (having.length === 0) continue;
      log(`timing every layer at ${choiceLabel(id)}…`);
      const ms = await time(new Map(having.map((i) => [i.name, id])));
      if (ms === undefined) continue;
      latencyMs[id] = round(ms);
      const share = having.reduce((s, i) => s + i.params, 0);
      for (const i of having)
        cost.get(i.name)![id] = (original * i.params) / total + ((ms - original) * i.params) / share;
    }
  }
  const layers: SearchLayer<string>[] = setup.items.map((i) => {
    const bytes = setup.bytes.get(i.name)!;
    const c = cost?.get(i.name);
    return {
      name: i.name,
      op: i.op,
      params: i.params,
      bytes,
      ladder: structuralLadder(ids, bytes, c),
      ...(c ? { cost: c } : {}),
    };
  });
  const result = await searchShrink<string>(layers, target, evaluate, {
    measure,
    precisions: ids,
    maxBytes: settings.maxBytes,
    refine: settings.refine,
    onStep: (c) =>
      log(
        `candidate ${c.step}${c.raised ? ` (${c.raised.name} ${c.raised.from}→${c.raised.to})` : ''}` +
          `${c.lowered ? ` (${c.lowered.name} ${c.lowered.from}→${c.lowered.to})` : ''}: ` +
          `${c.bytes} bytes, ${target.metric} ${c.fidelity ? targetValue(c.fidelity, target) : c.error}` +
          `${c.met ? ' — meets the target' : ''}`,
      ),
  });
  if (!result.met) throw new ModelError(model.path, `${result.failure}. No file written.`);
  const final = setup.stage(result.choices);
  return { ...result, layers, structures: setup, final, baselines, ids, ...(latencyMs ? { latencyMs } : {}) };
}

/** The write plan of the found configuration on its staged model, with rows for structural-only changes. */
export function structuredPlan(
  found: StructuredFound,
  staged: OpenedModel,
  sink: Parameters<typeof planMixed>[5],
): QuantizePlan {
  const plan = planMixed(
    staged.index,
    staged.source,
    staged.resolveExternal,
    found.final.precisions,
    DEFAULT_QUANTIZE_OPTIONS,
    sink,
  );
  const quantized = new Set(plan.tensors.map((t) => t.name));
  for (const l of found.final.layers)
    for (const t of l.tensors) {
      if (t.dimsAfter.length === 0 || quantized.has(t.name)) continue;
      const note = l.kind === 'lowrank' ? `rank ${l.rank}` : `${l.unitsAfter} of ${l.unitsBefore} units`;
      const row = floatRow(staged, t.name, note);
      if (row) plan.tensors.push(row);
    }
  plan.nodes.push(...found.final.nodes);
  return plan;
}

/** Per item: its choice, its tensors' dims and bytes before and after (the written model's figures). */
export function structuredLayerRows(
  found: StructuredFound,
  plan: QuantizePlan,
  original: OpenedModel,
): Pick<ShrinkLayerRow, 'name' | 'op' | 'params' | 'choice' | 'tensors' | 'bytesBefore' | 'bytesAfter'>[] {
  const after = new Map(plan.tensors.map((t) => [t.name, t.afterBytes]));
  return found.structures.items.map((i) => {
    const choice = found.choices.get(i.name) ?? 'float';
    const layer = found.final.layers.find((l) =>
      l.kind === 'lowrank' ? l.tensors[0].name === i.weights[0] : l.name === i.group?.name,
    );
    const tensors = layer
      ? layer.tensors
          .filter((t) => t.dimsAfter.length > 0 || t.dimsBefore.length > 0)
          .map((t) => ({
            name: t.name,
            dimsBefore: t.dimsBefore,
            dimsAfter: t.dimsAfter,
            bytesBefore: t.bytesBefore,
            bytesAfter: t.dimsAfter.length === 0 ? 0 : (after.get(t.name) ?? t.bytesAfter),
          }))
      : i.weights.map((w) => {
          const t = original.index.tensors.find((x) => x.name === w)!;
          const b = rawByteLength(t.dtype, t.count);
          return {
            name: w,
            dimsBefore: t.dims,
            dimsAfter: t.dims,
            bytesBefore: b,
            bytesAfter: after.get(w) ?? b,
          };
        });
    return {
      name: i.name,
      op: i.op,
      params: i.params,
      choice,
      tensors,
      bytesBefore: tensors.reduce((s, t) => s + t.bytesBefore, 0),
      bytesAfter: tensors.reduce((s, t) => s + t.bytesAfter, 0),
    };
  });
}

/** Why an item ended at its choice (structured search). */
export function structuredReason(found: StructuredFound, name: string): string {
  const choice = found.choices.get(name) ?? 'float';
  const ladder = found.ladders.get(name) ?? [];
  const at = found.raisedAt.get(name);
  const loss = found.losses.get(name)?.get(choice);
  const here =
    choice === 'float' ? 'no loss' : loss ? `${loss.sqnrDb.toFixed(1)} dB output SQNR alone` : 'not measured';
  if (at === undefined)
    return `${choiceLabel(choice)} (${here}): the cheapest of its ${ladder.length} choices that could be measured`;
  const per = found.layers[0]?.cost ? 'estimated millisecond' : 'byte';
  return `raised to ${choiceLabel(choice)} at candidate ${at} (${here}), the step that bought the most fidelity per ${per} then`;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
