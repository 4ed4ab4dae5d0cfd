import type { TaskKind } from './detectTask';

/** Causal LM figures over the evaluation tokens (llama.cpp's perplexity tool reports the same). */
export interface LmMetrics {
  /** exp(mean next-token negative log-likelihood) of the original on the actual next tokens. */
  pplOriginal: number;
  pplCandidate: number;
  /** Mean and max over positions of KL(original ‖ candidate) of the next-token distributions (nats). */
  klMean: number;
  klMax: number;
  /** Share of positions whose most likely next token is the same. */
  top1Agreement: number;
  /** Positions counted (a real token followed by a real token). */
  tokens: number;
}

/** Classifier figures: agreement with the original, and accuracy where labels are known. */
export interface ClassificationMetrics {
  top1Agreement: number;
  accuracyOriginal?: number;
  accuracyCandidate?: number;
  samples: number;
}

/** One output over every evaluation sample: the worst sample and the mean. */
export interface OutputSummary {
  name: string;
  cosineWorst: number;
  cosineMean: number;
  sqnrWorstDb: number;
  sqnrMeanDb: number;
  maxAbsError: number;
  samples: number;
}

/** The task metrics of a comparison (`metrics` in reports and `verify --json`). */
export interface TaskMetrics {
  task: TaskKind;
  lm?: LmMetrics;
  classification?: ClassificationMetrics;
  /** Every output over every evaluation sample (all tasks). */
  outputs: OutputSummary[];
  /** Evaluation samples compared. */
  samples: number;
}

/** log-softmax of `n` logits at `start`, in float64. */
function logSoftmax(v: ArrayLike<number>, start: number, n: number, out: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (v[start + i] > max) max = v[start + i];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(v[start + i] - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < n; i++) out[i] = v[start + i] - lse;
}

function argmax(v: ArrayLike<number>, start: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[start + i] > v[start + best]) best = i;
  return best;
}

/**
 * Accumulates LM metrics sequence by sequence: position t's logits predict token t+1, counted when both
 * are real tokens (attention mask 1, or no mask).
 */
export class LmMetricsAccumulator {
  private nllA = 0;
  private nllB = 0;
  private kl = 0;
  private klMax = 0;
  private agree = 0;
  private tokens = 0;
  private lpA: Float64Array;
  private lpB: Float64Array;

  constructor(readonly vocab: number) {
    this.lpA = new Float64Array(vocab);
    this.lpB = new Float64Array(vocab);
  }

  /** One sequence: `[seq, vocab]` logits of both models, its `seq` token ids and optional mask. */
  add(
    original: ArrayLike<number>,
    candidate: ArrayLike<number>,
    ids: ArrayLike<number>,
    mask?: ArrayLike<number>,
  ): void {
    const V = this.vocab;
    const seq = ids.length;
    if (original.length !== seq * V || candidate.length !== seq * V)
      throw new Error(`logits hold ${original.length} values; ${seq} tokens × ${V} need ${seq * V}`);
    for (let t = 0; t + 1 < seq; t++) {
      if (mask && (!mask[t] || !mask[t + 1])) continue;
      const next = ids[t + 1];
      if (!(next >= 0 && next < V)) continue;
      logSoftmax(original, t * V, V, this.lpA);
      logSoftmax(candidate, t * V, V, this.lpB);
      this.nllA -= this.lpA[next];
      this.nllB -= this.lpB[next];
      let kl = 0;
      for (let i = 0; i < V; i++) {
        const la = this.lpA[i];
        if (la === -Infinity) continue;
        kl += Math.exp(la) * (la - this.lpB[i]);
      }
      // Rounding can leave a tiny negative sum for identical distributions.
      kl = Math.max(0, kl);
      this.kl += kl;
      if (kl > this.klMax) this.klMax = kl;
      if (argmax(original, t * V, V) === argmax(candidate, t * V, V)) this.agree++;
      this.tokens++;
    }
  }

  /** The figures so far (NaN everywhere when no position was counted). */
  result(): LmMetrics {
    const n = this.tokens;
    return {
      pplOriginal: n ? Math.exp(this.nllA / n) : NaN,
      pplCandidate: n ? Math.exp(this.nllB / n) : NaN,
      klMean: n ? this.kl / n : NaN,
      klMax: n ? this.klMax : NaN,
      top1Agreement: n ? this.agree / n : NaN,
      tokens: n,
    };
  }
}

/** The perplexity of one model alone on token sequences (`[seq, vocab]` logits each). */
export function perplexity(
  sequences: readonly { logits: ArrayLike<number>; ids: ArrayLike<number>; mask?: ArrayLike<number> }[],
  vocab: number,
): number {
  const acc = new LmMetricsAccumulator(vocab);
  for (const s of sequences) acc.add(s.logits, s.logits, s.ids, s.mask);
  return acc.result().pplOriginal;
}

/** Accumulates classifier agreement (and accuracy, for rows with a label) batch by batch. */
export class ClassificationAccumulator {
  private agree = 0;
  private rows = 0;
  private labelled = 0;
  private rightA = 0;
  private rightB = 0;

  constructor(readonly classes: number) {}

  /** `[rows, classes]` scores of both models; `labels[r]` the true class of row r, when known. */
  add(
    original: ArrayLike<number>,
    candidate: ArrayLike<number>,
    labels: readonly (number | undefined)[] = [],
  ): void {
    const C = this.classes;
    const rows = Math.floor(original.length / C);
    for (let r = 0; r < rows; r++) {
      const a = argmax(original, r * C, C);
      const b = argmax(candidate, r * C, C);
      if (a === b) this.agree++;
      this.rows++;
      const label = labels[r];
      if (label !== undefined) {
        this.labelled++;
        if (a === label) this.rightA++;
        if (b === label) this.rightB++;
      }
    }
  }

  result(): ClassificationMetrics {
    return {
      top1Agreement: this.rows ? this.agree / this.rows : NaN,
      ...(this.labelled
        ? { accuracyOriginal: this.rightA / this.labelled, accuracyCandidate: this.rightB / this.labelled }
        : {}),
      samples: this.rows,
    };
  }
}

/** One output's figures on one sample, as compareOutputs measures them. */
export interface SampleFigures {
  name: string;
  cosine: number;
  sqnrDb: number;
  maxAbsError: number;
}

/**
 * Every output over the samples: worst and mean cosine and SQNR (an identical sample's infinite SQNR
 * makes the mean infinite only when every sample is identical), the largest error.
 */
export function summarizeOutputs(samples: readonly (readonly SampleFigures[])[]): OutputSummary[] {
  const byName = new Map<string, SampleFigures[]>();
  for (const sample of samples)
    for (const o of sample) byName.set(o.name, [...(byName.get(o.name) ?? []), o]);
  return [...byName.entries()].map(([name, list]) => {
    const finite = list.map((o) => o.sqnrDb).filter(Number.isFinite);
    return {
      name,
      cosineWorst: Math.min(...list.map((o) => o.cosine)),
      cosineMean: list.reduce((s, o) => s + o.cosine, 0) / list.length,
      sqnrWorstDb: Math.min(...list.map((o) => o.sqnrDb)),
      sqnrMeanDb: finite.length ? finite.reduce((s, v) => s + v, 0) / finite.length : Infinity,
      maxAbsError: Math.max(...list.map((o) => o.maxAbsError)),
      samples: list.length,
    };
  });
}

/** Accuracy change in points (candidate − original, ×100), when both are known. */
export function accuracyChangePoints(c: ClassificationMetrics): number | undefined {
  if (c.accuracyOriginal === undefined || c.accuracyCandidate === undefined) return undefined;
  return (c.accuracyCandidate - c.accuracyOriginal) * 100;
}
