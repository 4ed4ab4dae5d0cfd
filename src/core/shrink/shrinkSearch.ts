import { ladderOf, type Precision, PRECISIONS, zeroCounts } from './precisions';
import { type Fidelity, meetsTarget, type ShrinkTarget } from './shrinkTarget';

/** What changing one layer alone costs at the model's outputs (measured): worst output SQNR and cosine. */
export interface Loss {
  sqnrDb: number;
  cosine: number;
}

/** One layer the search may change, with the bytes its weight takes at each precision it can take. */
export interface SearchLayer {
  name: string;
  op: string;
  params: number;
  /** Bytes of the weight per precision (`float`: as it is); a precision without a figure is not offered. */
  bytes: Partial<Record<Precision, number>>;
}

/** One (layer, precision) whose loss the search needs. */
export interface LossRequest {
  name: string;
  precision: Precision;
}

/** Measures the losses asked for (undefined: that candidate could not be built or run). */
export type MeasureLosses = (wanted: readonly LossRequest[]) => Promise<(Loss | undefined)[]>;

/** One configuration the search built and ran. */
export interface Candidate {
  step: number;
  /** The layer raised to make it from the previous candidate (none for the first). */
  raised?: { name: string; from: Precision; to: Precision };
  /** Layers per precision id (every allowed id present). */
  counts: Record<string, number>;
  /** Size of the candidate model (bytes). */
  bytes: number;
  fidelity?: Fidelity;
  met: boolean;
  /** The candidate failed to load or run. */
  error?: string;
}

/** How a candidate fared when run. */
export interface Evaluation {
  bytes: number;
  fidelity?: Fidelity;
  error?: string;
}

/** The outcome: the choices of the first candidate that met the target, or why none did. */
export interface SearchResult {
  choices: Map<string, Precision>;
  candidates: Candidate[];
  /** Step at which each layer was raised last (for the report's reasons). */
  raisedAt: Map<string, number>;
  /** Every loss measured, per layer and precision (undefined: not measurable). */
  losses: Map<string, Map<Precision, Loss | undefined>>;
  /** Each layer's ladder: the precisions it could take, lowest first. */
  ladders: Map<string, Precision[]>;
  /** How many (layer, precision) losses were measured. */
  measured: number;
  met: boolean;
  failure?: string;
}

export interface SearchOptions {
  measure: MeasureLosses;
  /** The precisions allowed (default all); `float` is always allowed. */
  precisions?: readonly Precision[];
  maxBytes?: number;
  onStep?(c: Candidate): void;
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
 * search first needs them, in one batch per step (so both workers stay busy). That bounds the cost to at
 * most one measurement per layer and ladder rung reached, instead of every layer at every precision.
 * Stops at the first candidate that meets the target; fails when it exceeds `maxBytes` (raising only adds
 * bytes) or when only the original (every layer in float) would be left.
 */
export async function searchShrink(
  layers: readonly SearchLayer[],
  target: ShrinkTarget,
  evaluate: (choices: ReadonlyMap<string, Precision>) => Promise<Evaluation>,
  options: SearchOptions,
): Promise<SearchResult> {
  const allowed = options.precisions ?? PRECISIONS;
  const ladders = new Map(layers.map((l) => [l.name, ladderOf(allowed, l.bytes)]));
  const byName = new Map(layers.map((l) => [l.name, l]));
  const losses = new Map<string, Map<Precision, Loss | undefined>>(layers.map((l) => [l.name, new Map()]));
  const result: SearchResult = {
    choices: new Map(),
    candidates: [],
    raisedAt: new Map(),
    losses,
    ladders,
    measured: 0,
    met: false,
  };
  const known = (name: string, p: Precision) => p === 'float' || losses.get(name)!.has(p);
  const lossOf = (name: string, p: Precision): Loss | undefined =>
    p === 'float' ? { sqnrDb: Infinity, cosine: 1 } : losses.get(name)!.get(p);
  const ensure = async (wanted: LossRequest[]) => {
    const missing = wanted.filter((w) => !known(w.name, w.precision));
    if (missing.length === 0) return;
    const got = await options.measure(missing);
    missing.forEach((w, i) => losses.get(w.name)!.set(w.precision, got[i]));
    result.measured += missing.length;
  };
  /** From rung `at`, the first rung whose loss is measurable (or float), measuring as needed. */
  const settle = async (at: Map<string, number>) => {
    for (;;) {
      const wanted: LossRequest[] = [];
      for (const [name, i] of at) {
        const p = ladders.get(name)![i];
        if (!known(name, p)) wanted.push({ name, precision: p });
      }
      await ensure(wanted);
      let moved = false;
      for (const [name, i] of at) {
        const ladder = ladders.get(name)!;
        if (ladder[i] !== 'float' && lossOf(name, ladder[i]) === undefined) {
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
  let raised: Candidate['raised'];
  for (let step = 1; ; step++) {
    if ([...result.choices.values()].every((p) => p === 'float')) {
      result.failure = `${target.text} is met by no candidate: only with every layer in float (the original model)`;
      return result;
    }
    const e = await evaluate(result.choices);
    const counts = zeroCounts(allowed);
    for (const p of result.choices.values()) counts[p] = (counts[p] ?? 0) + 1;
    const met = !e.error && e.fidelity !== undefined && meetsTarget(e.fidelity, target);
    const candidate: Candidate = {
      step,
      raised,
      counts,
      bytes: e.bytes,
      fidelity: e.fidelity,
      met,
      error: e.error,
    };
    result.candidates.push(candidate);
    options.onStep?.(candidate);
    if (options.maxBytes !== undefined && e.bytes > options.maxBytes) {
      result.failure =
        `${target.text} is not met within --max-bytes ${options.maxBytes}: ` +
        `candidate ${step} already takes ${e.bytes} bytes`;
      return result;
    }
    if (met) {
      result.met = true;
      return result;
    }
    // The next measurable rung of every layer below float.
    const next = new Map<string, number>();
    for (const [name, p] of result.choices) {
      if (p !== 'float') next.set(name, ladders.get(name)!.indexOf(p) + 1);
    }
    await settle(next);
    const best = bestRaise(result.choices, next, ladders, byName, lossOf);
    if (!best) throw new Error('unreachable: a layer below float remains');
    const from = result.choices.get(best.name)!;
    result.choices.set(best.name, best.to);
    result.raisedAt.set(best.name, step + 1);
    raised = { name: best.name, from, to: best.to };
  }
}

/**
 * The raise that buys the most noise reduction per added byte; an unmeasurable current loss first, then
 * ties to the noisier layer, then by name (so runs are reproducible).
 */
export function bestRaise(
  choices: ReadonlyMap<string, Precision>,
  next: ReadonlyMap<string, number>,
  ladders: ReadonlyMap<string, Precision[]>,
  layers: ReadonlyMap<string, SearchLayer>,
  lossOf: (name: string, p: Precision) => Loss | undefined,
): { name: string; to: Precision } | undefined {
  let best: { name: string; to: Precision; score: number; noise: number } | undefined;
  for (const [name, i] of next) {
    const from = choices.get(name)!;
    const to = ladders.get(name)![i];
    const bytes = layers.get(name)!.bytes;
    const noise = noiseOf(lossOf(name, from));
    const gain = noise - noiseOf(lossOf(name, to));
    const added = Math.max(1, (bytes[to] ?? 0) - (bytes[from] ?? 0));
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
