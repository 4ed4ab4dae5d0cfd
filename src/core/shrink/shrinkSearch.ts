import { ladderOf, type Precision, PRECISIONS } from './precisions';
import { type Fidelity, meetsTarget, type ShrinkTarget } from './shrinkTarget';

/** What changing one layer alone costs at the model's outputs (measured): worst output SQNR and cosine. */
export interface Loss {
  sqnrDb: number;
  cosine: number;
}

/** One layer the search may change, with the bytes its weight takes at each precision it can take. */
export interface SearchLayer<C extends string = Precision> {
  name: string;
  op: string;
  params: number;
  /** Bytes of the weight per precision (`float`: as it is); a precision without a figure is not offered. */
  bytes: Partial<Record<C, number>>;
  /** The choices in the order the search raises the layer, `float` last (default: ladderOf the precisions). */
  ladder?: C[];
  /**
   * What the objective minimizes per choice, in place of `bytes` when raising and lowering (the latency
   * objective's estimated milliseconds).
   */
  cost?: Partial<Record<C, number>>;
}

/** One (layer, precision) whose loss the search needs. */
export interface LossRequest<C extends string = Precision> {
  name: string;
  precision: C;
}

/** Measures the losses asked for (undefined: that candidate could not be built or run). */
export type MeasureLosses<C extends string = Precision> = (
  wanted: readonly LossRequest<C>[],
) => Promise<(Loss | undefined)[]>;

/** One configuration the search built and ran. */
export interface Candidate<C extends string = Precision> {
  step: number;
  /** The layer raised to make it from the previous candidate (none for the first). */
  raised?: { name: string; from: C; to: C };
  /** With SearchOptions.batch: how many more layers were raised with it in the same step. */
  alsoRaised?: number;
  /** Layers per precision id (every allowed id present). */
  counts: Record<string, number>;
  /** Size of the candidate model (bytes). */
  bytes: number;
  fidelity?: Fidelity;
  met: boolean;
  /** The candidate failed to load or run. */
  error?: string;
  /** Not a step of the search: the uniform configuration it fell back to (`uniform8`, …). */
  fallback?: string;
  /** Backing off from the fallback: the layer lowered one rung to make it from the chosen one so far. */
  lowered?: { name: string; from: C; to: C };
}

/** How a candidate fared when run. */
export interface Evaluation {
  bytes: number;
  fidelity?: Fidelity;
  error?: string;
}

/** The outcome: the choices of the first candidate that met the target, or why none did. */
export interface SearchResult<C extends string = Precision> {
  choices: Map<string, C>;
  candidates: Candidate<C>[];
  /** Step at which each layer was raised last (for the report's reasons). */
  raisedAt: Map<string, number>;
  /** Every loss measured, per layer and precision (undefined: not measurable). */
  losses: Map<string, Map<C, Loss | undefined>>;
  /** Each layer's ladder: the precisions it could take, lowest first. */
  ladders: Map<string, C[]>;
  /** How many (layer, precision) losses were measured. */
  measured: number;
  met: boolean;
  /** The uniform configuration taken instead of the search's mix (see SearchOptions.fallback). */
  fallback?: string;
  /** Step at which each layer was lowered last, backing off from the fallback. */
  lowered: Map<string, number>;
  /** The step of the chosen candidate (the last one that met the target; 0 when none did). */
  chosen: number;
  failure?: string;
}

/** A configuration known to meet the target, run already: the smallest uniform one that does. */
export interface Fallback<C extends string = Precision> {
  label: string;
  choices: ReadonlyMap<string, C>;
  evaluation: Evaluation;
}

export interface SearchOptions<C extends string = Precision> {
  measure: MeasureLosses<C>;
  /** The precisions allowed (default all; with layers' own ladders: every choice id); `float` always is. */
  precisions?: readonly C[];
  maxBytes?: number;
  /**
   * Taken as soon as a candidate grows past its bytes (met or not): the greedy trusts losses measured one
   * layer at a time, and layers that interact can lead it past a uniform configuration that already meets
   * the target — shrink must never end larger than that.
   */
  fallback?: Fallback<C>;
  /**
   * After the first candidate that meets the target, back off from it layer by layer while the target
   * still holds (as after a fallback): more runs, sometimes a smaller model (`--refine`).
   */
  refine?: boolean;
  onStep?(c: Candidate<C>): void;
  /**
   * Raise as many layers per step as the losses say the target needs, for models where every run costs
   * minutes: the layers' noise ratios are taken to add up, scaled to the last candidate's measured noise,
   * and the best raises per byte are taken until the prediction reaches the target with 20% to spare (one
   * rung per layer per step). Only for cosine and SQNR targets; after a fallback the model is not lowered
   * again layer by layer (each lowering would be another run).
   */
  batch?: boolean;
}

/** The noise ratio a cosine or SQNR target allows, or a candidate's, on that target's metric. */
function noiseOnMetric(target: ShrinkTarget, value: number): number | undefined {
  if (target.metric === 'sqnr') return 10 ** (-value / 10);
  // cosine = 1/√(1 + noise) for an error uncorrelated with the signal.
  if (target.metric === 'cosine') return value > 0 ? 1 / (value * value) - 1 : undefined;
  return undefined;
}

/** The output noise a loss stands for, relative to the signal (what adds up when layers combine). */
export function noiseOf(loss: Loss | undefined): number {
  if (!loss) return Infinity;
  return loss.sqnrDb === Infinity ? 0 : 10 ** (-loss.sqnrDb / 10);
}

/**
 * Greedy search from the smallest configuration. Each layer starts at the lowest precision of its ladder
 * whose one-layer candidate could be measured. While the candidate misses the target, the layer whose next
 * step up its ladder buys the most measured fidelity per added byte — the drop in its output noise ratio
 * (10^(-SQNR/10), which roughly adds up over layers) divided by the bytes the step adds — is raised one step,
 * and the new configuration is run again. A layer whose current loss is unmeasurable goes first.
 *
 * Losses are measured lazily: only the precision a layer sits at and the next one up its ladder, when the
 * search first needs them, in one batch per step (shared by the measuring workers). That bounds the cost to
 * one measurement per layer and ladder rung reached — at the start one per layer, then usually one per
 * step — instead of every layer at every precision up front.
 *
 * Stops at the first candidate that meets the target, or takes `fallback` once a candidate grows past it
 * and then backs off from it layer by layer while the target still holds (see descend); fails when a
 * candidate exceeds `maxBytes` (raising only adds bytes) or when only the original (every layer in float)
 * would be left.
 */
export async function searchShrink<C extends string = Precision>(
  layers: readonly SearchLayer<C>[],
  target: ShrinkTarget,
  evaluate: (choices: ReadonlyMap<string, C>) => Promise<Evaluation>,
  options: SearchOptions<C>,
): Promise<SearchResult<C>> {
  const allowed = options.precisions ?? (PRECISIONS as readonly string[] as readonly C[]);
  const ladders = new Map(
    layers.map((l) => [
      l.name,
      l.ladder ??
        (ladderOf(
          allowed as readonly string[] as readonly Precision[],
          l.bytes as Partial<Record<Precision, number>>,
        ) as string[] as C[]),
    ]),
  );
  const byName = new Map(layers.map((l) => [l.name, l]));
  const losses = new Map<string, Map<C, Loss | undefined>>(layers.map((l) => [l.name, new Map()]));
  const result: SearchResult<C> = {
    choices: new Map(),
    candidates: [],
    raisedAt: new Map(),
    lowered: new Map(),
    chosen: 0,
    losses,
    ladders,
    measured: 0,
    met: false,
  };
  const known = (name: string, p: C) => p === 'float' || losses.get(name)!.has(p);
  const lossOf = (name: string, p: C): Loss | undefined =>
    p === 'float' ? { sqnrDb: Infinity, cosine: 1 } : losses.get(name)!.get(p);
  const ensure = async (wanted: LossRequest<C>[]) => {
    const missing = wanted.filter((w) => !known(w.name, w.precision));
    if (missing.length === 0) return;
    const got = await options.measure(missing);
    missing.forEach((w, i) => losses.get(w.name)!.set(w.precision, got[i]));
    result.measured += missing.length;
  };
  /**
   * From rung `at`, the first rung whose loss is measurable (or float), measuring as needed; with `above`,
   * also better than that layer's current loss (a measured loss that does not improve — 4-bit at block 32
   * no better than at block 128 on some layer — is a rung not worth its bytes: the raise skips it).
   */
  const settle = async (at: Map<string, number>, above?: ReadonlyMap<string, C>) => {
    for (;;) {
      const wanted: LossRequest<C>[] = [];
      for (const [name, i] of at) {
        const p = ladders.get(name)![i];
        if (!known(name, p)) wanted.push({ name, precision: p });
      }
      await ensure(wanted);
      let moved = false;
      for (const [name, i] of at) {
        const ladder = ladders.get(name)!;
        if (ladder[i] === 'float') continue;
        const loss = lossOf(name, ladder[i]);
        const from = above?.get(name);
        if (loss === undefined || (from !== undefined && noiseOf(loss) >= noiseOf(lossOf(name, from)))) {
          at.set(name, i + 1);
          moved = true;
        }
      }
      if (!moved) return;
    }
  };

  const rung = new Map(layers.map((l) => [l.name, 0]));
  await settle(rung);
  for (const [name, i] of rung) result.choices.set(name, ladders.get(name)![i]);
  const run = async (choices: ReadonlyMap<string, C>, how: Partial<Candidate<C>>, given?: Evaluation) => {
    const e = given ?? (await evaluate(choices));
    const counts = countChoices(choices, allowed);
    const met = !e.error && e.fidelity !== undefined && meetsTarget(e.fidelity, target);
    const c: Candidate<C> = {
      step: result.candidates.length + 1,
      ...how,
      counts,
      bytes: e.bytes,
      fidelity: e.fidelity,
      met,
      error: e.error,
    };
    result.candidates.push(c);
    options.onStep?.(c);
    return c;
  };
  let raised: Candidate<C>['raised'];
  let alsoRaised = 0;
  for (;;) {
    if ([...result.choices.values()].every((p) => p === 'float')) {
      result.failure = `${target.text} is met by no candidate: only with every layer in float (the original model)`;
      return result;
    }
    const c = await run(result.choices, raised ? { raised, ...(alsoRaised ? { alsoRaised } : {}) } : {});
    if (options.maxBytes !== undefined && c.bytes > options.maxBytes) {
      result.failure =
        `${target.text} is not met within --max-bytes ${options.maxBytes}: ` +
        `candidate ${c.step} already takes ${c.bytes} bytes`;
      return result;
    }
    const fb = options.fallback;
    if (fb && c.bytes > fb.evaluation.bytes) {
      await run(fb.choices, { fallback: fb.label }, fb.evaluation);
      result.choices = new Map(fb.choices);
      result.raisedAt.clear();
      result.fallback = fb.label;
      result.chosen = result.candidates.length;
      result.met = true;
      if (!options.batch) await descend(result, layers, ladders, lossOf, settleBelow, run);
      return result;
    }
    if (c.met) {
      result.met = true;
      result.chosen = c.step;
      if (options.refine) await descend(result, layers, ladders, lossOf, settleBelow, run);
      return result;
    }
    // The next measurable rung of every layer below float.
    const next = new Map<string, number>();
    for (const [name, p] of result.choices) {
      if (p !== 'float') next.set(name, ladders.get(name)!.indexOf(p) + 1);
    }
    await settle(next, result.choices);
    const best = bestRaise(result.choices, next, ladders, byName, lossOf);
    if (!best) throw new Error('unreachable: a layer below float remains');
    const from = result.choices.get(best.name)!;
    const more = options.batch ? batchRaises(c, best, next) : [];
    for (const r of [best, ...more]) {
      result.choices.set(r.name, r.to);
      result.raisedAt.set(r.name, c.step + 1);
    }
    raised = { name: best.name, from, to: best.to };
    alsoRaised = more.length;
  }

  /**
   * With `batch`: the raises beyond `best` that bring the predicted noise of the model (the layers' noise
   * ratios summed, scaled to candidate `c`'s measured noise) to 80% of what the target allows.
   */
  function batchRaises(c: Candidate<C>, best: { name: string; to: C }, next: Map<string, number>) {
    const value = c.fidelity && (target.metric === 'sqnr' ? c.fidelity.sqnrDb : c.fidelity.cosine);
    const allowedNoise = noiseOnMetric(target, target.min);
    const measured = value === undefined ? undefined : noiseOnMetric(target, value);
    const noise = (choices: ReadonlyMap<string, C>) =>
      [...choices].reduce((sum, [name, p]) => sum + noiseOf(lossOf(name, p)), 0);
    const now = noise(result.choices);
    if (allowedNoise === undefined || measured === undefined || !(now > 0 && Number.isFinite(now))) return [];
    const scale = measured / now;
    const work = new Map(result.choices);
    work.set(best.name, best.to);
    const rest = new Map(next);
    rest.delete(best.name);
    const more: { name: string; to: C }[] = [];
    while (scale * noise(work) > 0.8 * allowedNoise) {
      const r = bestRaise(work, rest, ladders, byName, lossOf);
      if (!r) break;
      work.set(r.name, r.to);
      rest.delete(r.name);
      more.push(r);
    }
    return more;
  }

  /** Measures, for each layer, the loss at the rung below its current one (for the descent). */
  async function settleBelow(below: ReadonlyMap<string, C>) {
    await ensure([...below].map(([name, precision]) => ({ name, precision })));
  }
}

/**
 * After a fallback to a uniform configuration that meets the target, backs off layer by layer: the layer
 * whose next rung down adds the least measured noise per byte saved goes down one rung and the model is
 * run again; kept when it still meets the target, else undone and that layer left where it is. Ends when
 * no layer can go lower; the last candidate that met the target is the choice.
 */
async function descend<C extends string>(
  result: SearchResult<C>,
  layers: readonly SearchLayer<C>[],
  ladders: ReadonlyMap<string, C[]>,
  lossOf: (name: string, p: C) => Loss | undefined,
  settleBelow: (below: ReadonlyMap<string, C>) => Promise<void>,
  run: (choices: ReadonlyMap<string, C>, how: Partial<Candidate<C>>) => Promise<Candidate<C>>,
): Promise<void> {
  const fixed = new Set<string>();
  const byName = new Map(layers.map((l) => [l.name, l]));
  for (;;) {
    const below = new Map<string, C>();
    for (const [name, p] of result.choices) {
      const i = ladders.get(name)!.indexOf(p);
      if (!fixed.has(name) && i > 0) below.set(name, ladders.get(name)![i - 1]);
    }
    await settleBelow(below);
    let best: { name: string; to: C; cost: number } | undefined;
    for (const [name, to] of below) {
      const from = result.choices.get(name)!;
      const added = noiseOf(lossOf(name, to)) - noiseOf(lossOf(name, from));
      const l = byName.get(name)!;
      const saved = Math.max(floorOf(l), costOf(l, from) - costOf(l, to));
      const cost = added / saved;
      if (!best || cost < best.cost || (cost === best.cost && name < best.name)) best = { name, to, cost };
    }
    if (!best || best.cost === Infinity) return;
    const from = result.choices.get(best.name)!;
    const trial = new Map(result.choices).set(best.name, best.to);
    const c = await run(trial, { lowered: { name: best.name, from, to: best.to } });
    if (c.met) {
      result.choices = trial;
      result.chosen = c.step;
      result.lowered.set(best.name, c.step);
    } else fixed.add(best.name);
  }
}

/**
 * The raise that buys the most noise reduction per added byte; an unmeasurable current loss first, then
 * ties to the noisier layer, then by name (so runs are reproducible).
 */
export function bestRaise<C extends string = Precision>(
  choices: ReadonlyMap<string, C>,
  next: ReadonlyMap<string, number>,
  ladders: ReadonlyMap<string, C[]>,
  layers: ReadonlyMap<string, SearchLayer<C>>,
  lossOf: (name: string, p: C) => Loss | undefined,
): { name: string; to: C } | undefined {
  let best: { name: string; to: C; score: number; noise: number } | undefined;
  for (const [name, i] of next) {
    const from = choices.get(name)!;
    const to = ladders.get(name)![i];
    const l = layers.get(name)!;
    const noise = noiseOf(lossOf(name, from));
    const gain = noise - noiseOf(lossOf(name, to));
    const added = Math.max(floorOf(l), costOf(l, to) - costOf(l, from));
    const score = noise === Infinity ? Infinity : gain / added;
    if (
      !best ||
      score > best.score ||
      (score === best.score && (noise > best.noise || (noise === best.noise && name < best.name)))
    )
      best = { name, to, score, noise };
  }
  return best && { name: best.name, to: best.to };
}

/** What a choice costs a layer under the objective: its `cost` when given, else its bytes. */
function costOf<C extends string>(l: SearchLayer<C>, c: C): number {
  return (l.cost ? l.cost[c] : l.bytes[c]) ?? 0;
}

/** The least a step may cost when scoring it: one byte, or (estimated milliseconds) next to nothing. */
function floorOf<C extends string>(l: SearchLayer<C>): number {
  return l.cost ? 1e-9 : 1;
}

/** Layers per choice id, with every id of `ids` present (0 when unused). */
export function countChoices<C extends string>(
  choices: ReadonlyMap<string, C>,
  ids: readonly C[],
): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(ids.map((p) => [p, 0]));
  for (const p of choices.values()) counts[p] = (counts[p] ?? 0) + 1;
  return counts;
}
