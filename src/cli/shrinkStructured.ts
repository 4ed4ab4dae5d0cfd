import { ModelError } from '../core/errors';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  planQuantize,
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
/** Timed runs per finalist (interleaved) when the latency objective picks among them. */
export const FINALIST_RUNS = 30;

/** What the structured search found: the choices, the staged result and the figures for the report. */
export interface StructuredFound extends SearchResult<string> {
  layers: SearchLayer<string>[];
  structures: ShrinkStructures;
  final: StagedConfiguration;
  baselines: { uniform4: Baseline; uniform8: Baseline } & Record<string, Baseline>;
  ids: string[];
  /** Latency objective: the measured median per uniform configuration (ms), and the original's. */
  latencyMs?: Record<string, number>;
  /** Latency objective: the configurations meeting the target, timed side by side, fastest first. */
  finalistsMs?: { label: string; medianMs: number }[];
  /** Latency objective: the finalist written (`latency search`, `size search`, `uniform8`, …). */
  picked?: string;
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
  const timeds = (configs: ReadonlyMap<string, string>[], runs: number) => {
    const planned = configs.map((c) => planOf(c));
    return runner.time(
      planned.map(({ staged, plan }) => ({
        edits: plan.blockers.length ? [] : plan.edits,
        on: staged.model,
      })),
      runs,
    );
  };
  if (settings.objective === 'latency') {
    // Each choice timed on the whole model (every layer that can take it), interleaved with the original so
    // both see the same load; the difference is shared out over the layers by parameters.
    latencyMs = {};
    const total = setup.items.reduce((s, i) => s + i.params, 0);
    let original: number | undefined;
    const estimates = new Map<string, number>();
    for (const id of ids) {
      if (id === 'float') continue;
      const having = setup.items.filter((i) => setup.bytes.get(i.name)![id] !== undefined);
      if (having.length === 0) continue;
      log(`timing every layer at ${choiceLabel(id)}…`);
      const [base, ms] = await timeds([new Map(), new Map(having.map((i) => [i.name, id]))], LATENCY_RUNS);
      if (base === undefined) throw new ModelError(model.path, 'the original model could not be timed');
      original = original === undefined ? base : Math.min(original, base);
      if (ms === undefined) continue;
      latencyMs[id] = round(ms);
      estimates.set(id, ms - base);
      const share = having.reduce((s, i) => s + i.params, 0);
      for (const i of having) estimates.set(`${i.name}\u0000${id}`, ((ms - base) * i.params) / share);
    }
    const o = original ?? 0;
    latencyMs.original = round(o);
    cost = new Map(
      setup.items.map((i) => {
        const c: Record<string, number> = { float: (o * i.params) / total };
        for (const id of ids) {
          const d = estimates.get(`${i.name}\u0000${id}`);
          if (d !== undefined) c[id] = c.float + d;
        }
        return [i.name, c];
      }),
    );
  }
  const layersBy = (c?: Map<string, Record<string, number>>): SearchLayer<string>[] =>
    setup.items.map((i) => {
      const bytes = setup.bytes.get(i.name)!;
      const own = c?.get(i.name);
      return {
        name: i.name,
        op: i.op,
        params: i.params,
        bytes,
        ladder: structuralLadder(ids, bytes, own),
        ...(own ? { cost: own } : {}),
      };
    });
  // Size: never larger than the smallest uniform precision that meets the target (as without --choices).
  const meeting = Object.entries(baselines)
    .filter(([k, b]) => b.meetsTarget && !b.error && precisions.includes(baselinePrecision(k)))
    .sort((a, b) => a[1].bytes - b[1].bytes);
  const uniformOf = (key: string) =>
    new Map(setup.items.map((i) => [i.name, baselinePrecision(key) as string]));
  const fallback = meeting[0]
    ? { label: meeting[0][0], choices: uniformOf(meeting[0][0]), evaluation: meeting[0][1] }
    : undefined;
  // Losses are shared by the two searches of the latency objective.
  const known = new Map<string, Loss | undefined>();
  const cached = async (wanted: readonly { name: string; precision: string }[]) => {
    const key = (w: { name: string; precision: string }) => `${w.name}\u0000${w.precision}`;
    const missing = wanted.filter((w) => !known.has(key(w)));
    const got = missing.length ? await measure(missing) : [];
    missing.forEach((w, i) => known.set(key(w), got[i]));
    return wanted.map((w) => known.get(key(w)));
  };
  const search = (layers: SearchLayer<string>[], guard: boolean) =>
    searchShrink<string>(layers, target, evaluate, {
      measure: cached,
      precisions: ids,
      maxBytes: settings.maxBytes,
      refine: settings.refine,
      ...(guard ? { fallback } : {}),
      onStep: (c) =>
        log(
          `candidate ${c.step}${c.raised ? ` (${c.raised.name} ${c.raised.from}→${c.raised.to})` : ''}` +
            `${c.lowered ? ` (${c.lowered.name} ${c.lowered.from}→${c.lowered.to})` : ''}` +
            `${c.fallback ? ` (falls back to ${c.fallback})` : ''}: ` +
            `${c.bytes} bytes, ${target.metric} ${c.fidelity ? targetValue(c.fidelity, target) : c.error}` +
            `${c.met ? ' — meets the target' : ''}`,
        ),
    });
  const bySize = layersBy();
  if (settings.objective === 'size') {
    const result = await search(bySize, true);
    if (!result.met) throw new ModelError(model.path, `${result.failure}. No file written.`);
    const final = setup.stage(result.choices);
    return { ...result, layers: bySize, structures: setup, final, baselines, ids };
  }
  // Latency: the search along estimated milliseconds (no size guard: a bigger model may be the faster),
  // then the finalists — its result, the size search's, the uniform precisions that meet the target —
  // timed side by side, and the fastest kept.
  log('searching by estimated latency…');
  const byTime = layersBy(cost);
  const fast = await search(byTime, false);
  log('searching by size, for comparison…');
  const small = await search(bySize, true);
  const finalists: { label: string; choices: ReadonlyMap<string, string>; result?: SearchResult<string> }[] =
    [];
  const same = (a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>) =>
    [...a].every(([k, v]) => (b.get(k) ?? 'float') === v) &&
    [...b].every(([k, v]) => (a.get(k) ?? 'float') === v);
  const add = (label: string, choices: ReadonlyMap<string, string>, result?: SearchResult<string>) => {
    if (!finalists.some((f) => same(f.choices, choices))) finalists.push({ label, choices, result });
  };
  if (fast.met) add('latency search', fast.choices, fast);
  if (small.met) add('size search', small.choices, small);
  for (const [key] of meeting) add(key, uniformOf(key));
  if (finalists.length === 0) throw new ModelError(model.path, `${fast.failure}. No file written.`);
  log(`timing ${finalists.length} configurations that meet the target side by side…`);
  const ms = await timeds(
    finalists.map((f) => f.choices),
    FINALIST_RUNS,
  );
  const order = finalists.map((f, i) => ({ ...f, ms: ms[i] ?? Infinity })).sort((a, b) => a.ms - b.ms);
  const best = order[0];
  const finalistsMs = order.map((f) => ({ label: f.label, medianMs: round(f.ms) }));
  const result: SearchResult<string> = best.result ?? {
    ...(small.met ? small : fast),
    choices: new Map(best.choices),
    raisedAt: new Map(),
    lowered: new Map(),
    met: true,
  };
  const final = setup.stage(result.choices);
  return {
    ...result,
    layers: best.result === small && best.result !== fast ? bySize : byTime,
    structures: setup,
    final,
    baselines,
    ids,
    latencyMs,
    finalistsMs,
    picked: best.label,
  };
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
  if (found.picked && found.picked !== 'latency search' && found.picked !== 'size search')
    return `${choiceLabel(choice)}: the ${found.picked} configuration, which meets the target, ran fastest of the configurations timed side by side`;
  if (found.fallback) {
    const lowered = found.lowered.get(name);
    return (
      `the search grew past ${found.fallback} (which meets the target) before meeting it and backed off from it: ` +
      (lowered === undefined
        ? `kept at ${choiceLabel(choice)}`
        : `lowered to ${choiceLabel(choice)} at candidate ${lowered} (${here}), still meeting the target`)
    );
  }
  if (at === undefined)
    return `${choiceLabel(choice)} (${here}): the cheapest of its ${ladder.length} choices that could be measured`;
  const per = found.layers[0]?.cost ? 'estimated millisecond' : 'byte';
  return `raised to ${choiceLabel(choice)} at candidate ${at} (${here}), the step that bought the most fidelity per ${per} then`;
}

/** The precision a baseline key stands for (`uniform4` → int4). */
const baselinePrecision = (key: string): Precision =>
  key === 'uniform4' ? 'int4' : key === 'uniform8' ? 'int8' : (key as Precision);

const round = (x: number) => Math.round(x * 1000) / 1000;

/** The searchable weights (as --layers picks them) and the structured search over them. */
export async function findStructuredIn(
  model: OpenedModel,
  target: ShrinkTarget,
  settings: Parameters<typeof findStructured>[3] & { layers?: RegExp },
  log: (m: string) => void,
  signal: AbortSignal,
): Promise<StructuredFound> {
  const seen = new Set<string>();
  const all = planQuantize(
    model.index,
    model.source,
    model.resolveExternal,
    DEFAULT_QUANTIZE_OPTIONS,
  ).tensors.filter((r) => !seen.has(r.name) && seen.add(r.name));
  if (all.length === 0)
    throw new ModelError(
      model.path,
      'no MatMul/Gemm weights to shrink: no MatMul or Gemm reads a constant 2-D float weight. No file written.',
    );
  const pick = settings.layers;
  const rows = pick ? all.filter((r) => pick.test(r.name) || r.nodes.some((n) => pick.test(n))) : all;
  if (rows.length === 0)
    throw new ModelError(
      model.path,
      `no MatMul/Gemm weight matches --layers ${pick?.source}. No file written.`,
    );
  return findStructured(model, rows, target, settings, log, signal);
}
