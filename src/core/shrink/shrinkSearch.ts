import type { Precision } from './planMixed';
import { type Fidelity, meetsTarget, type ShrinkTarget } from './shrinkTarget';

/** What quantizing one layer alone costs at the model's outputs (measured), per precision. */
export interface LayerLoss {
  name: string;
  op: string;
  params: number;
  /** Worst output SQNR (dB) and cosine with only this layer at 4 or 8 bits; undefined: not measurable. */
  int4?: { sqnrDb: number; cosine: number };
  int8?: { sqnrDb: number; cosine: number };
}

/** One configuration the search built and ran. */
export interface Candidate {
  step: number;
  /** The layer raised to make it from the previous candidate (none for the first). */
  raised?: { name: string; from: Precision; to: Precision };
  /** Layers per precision. */
  counts: Record<Precision, number>;
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
  /** Step at which each layer left 4-bit / was raised last (for the report's reasons). */
  raisedAt: Map<string, number>;
  met: boolean;
  failure?: string;
}

const NEXT: Record<Precision, Precision | undefined> = { int4: 'int8', int8: 'float', float: undefined };

/**
 * Greedy search from the smallest configuration: every layer at 4-bit (a layer whose 4-bit candidate could
 * not be measured starts one step up), then while the candidate misses the target, the layer whose measured
 * loss at its current precision is the largest (lowest output SQNR alone, then lowest cosine) goes up one
 * step (4-bit → 8-bit → float) and the new configuration is run again. Stops at the first candidate that
 * meets the target; fails when it exceeds `maxBytes` (raising only adds bytes) or when only the original
 * (every layer in float) would be left.
 */
export async function searchShrink(
  layers: readonly LayerLoss[],
  target: ShrinkTarget,
  evaluate: (choices: ReadonlyMap<string, Precision>) => Promise<Evaluation>,
  options: { maxBytes?: number; onStep?(c: Candidate): void } = {},
): Promise<SearchResult> {
  const choices = new Map<string, Precision>(
    layers.map((l) => [l.name, l.int4 ? 'int4' : l.int8 ? 'int8' : 'float']),
  );
  const result: SearchResult = { choices, candidates: [], raisedAt: new Map(), met: false };
  let raised: Candidate['raised'];
  for (let step = 1; ; step++) {
    if ([...choices.values()].every((p) => p === 'float')) {
      result.failure = `${target.text} is met by no candidate: only with every layer in float (the original model)`;
      return result;
    }
    const e = await evaluate(choices);
    const counts: Record<Precision, number> = { int4: 0, int8: 0, float: 0 };
    for (const p of choices.values()) counts[p]++;
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
    const layer = mostSensitive(layers, choices);
    if (!layer) throw new Error('unreachable: a layer below float remains');
    const from = choices.get(layer.name)!;
    const to = NEXT[from]!;
    choices.set(layer.name, to);
    result.raisedAt.set(layer.name, step + 1);
    raised = { name: layer.name, from, to };
  }
}

/** The layer below float whose measured loss at its current precision is the largest. */
export function mostSensitive(
  layers: readonly LayerLoss[],
  choices: ReadonlyMap<string, Precision>,
): LayerLoss | undefined {
  let best: LayerLoss | undefined;
  let bestLoss: { sqnrDb: number; cosine: number } | undefined;
  for (const l of layers) {
    const p = choices.get(l.name);
    if (p === undefined || p === 'float') continue;
    // Unmeasured: treat as the worst (it must go up before anything else).
    const loss = l[p] ?? { sqnrDb: -Infinity, cosine: -Infinity };
    if (
      !bestLoss ||
      loss.sqnrDb < bestLoss.sqnrDb ||
      (loss.sqnrDb === bestLoss.sqnrDb && loss.cosine < bestLoss.cosine)
    ) {
      best = l;
      bestLoss = loss;
    }
  }
  return best;
}
