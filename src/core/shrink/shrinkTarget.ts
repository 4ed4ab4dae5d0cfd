import type { TaskMetrics } from '../data/taskMetrics';

/** The figure a shrink target bounds: output fidelity, or a task metric. */
export type TargetMetric = 'cosine' | 'sqnr' | 'top1' | 'ppl' | 'kl' | 'acc';

/**
 * A fidelity goal: the candidate's figure on `metric` must reach `min` (`>=` targets) or stay at or
 * below it (`op: '<='`: perplexity change, KL divergence). `relative` marks a perplexity change in percent.
 */
export interface ShrinkTarget {
  metric: TargetMetric;
  /** The bound (named for the `>=` targets it was first written for). */
  min: number;
  /** Absent: `>=`. */
  op?: '<=';
  /** ppl only: the bound is a change in percent of the original's perplexity. */
  relative?: boolean;
  /** As the user wrote it, normalized (`cosine>=0.999`, `ppl<=+2%`). */
  text: string;
}

/** The fidelity of one candidate: the worst model output on each metric, and the task's figures. */
export interface Fidelity {
  cosine: number;
  sqnrDb: number;
  /** Top-1 agreement: next-token for language models, class scores for classifiers. */
  top1?: number;
  /** Perplexity change of the candidate against the original (LM): absolute and in percent. */
  pplDelta?: number;
  pplDeltaPct?: number;
  /** Mean next-token KL divergence (original ‖ candidate), LM. */
  kl?: number;
  /** Accuracy change in points (candidate − original), classifiers with labels. */
  accPoints?: number;
}

/** One output's figures, as verifyModels reports them. */
export interface OutputFigures {
  cosine: number;
  sqnrDb: number;
  top1Agreement?: number;
}

const NUMBER = '([-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:e[-+]?\\d+)?)';

/** What each target accepts, for the usage message. */
export const TARGET_FORMS =
  '"cosine>=X", "sqnr>=DB", "top1>=X", "ppl<=+P%" (or an absolute change), "kl<=X" or "acc>=POINTS"';

/**
 * Parses `cosine>=0.999`, `sqnr>=30`, `top1>=0.99`, `ppl<=+2%`, `kl<=0.02` or `acc>=-0.5` (spaces
 * allowed); a string says what is wrong. Cosine and top-1 agreement cannot exceed 1, so a bound above 1
 * is refused rather than searched for; KL cannot be negative.
 */
export function parseTarget(text: string): ShrinkTarget | string {
  const ge = new RegExp(`^\\s*(cosine|sqnr|top1|acc)\\s*>=\\s*${NUMBER}\\s*$`, 'i').exec(text);
  const le = new RegExp(`^\\s*(ppl|kl)\\s*<=\\s*${NUMBER}\\s*(%?)\\s*$`, 'i').exec(text);
  if (!ge && !le) return `--target takes ${TARGET_FORMS}, not "${text}"`;
  const m = (ge ?? le)!;
  const metric = m[1].toLowerCase() as TargetMetric;
  const min = Number(m[2]);
  if (!Number.isFinite(min)) return `--target: ${m[2]} is not a number`;
  if ((metric === 'cosine' || metric === 'top1') && (min > 1 || min <= 0))
    return `--target: ${metric} lies in (0, 1]; ${metric}>=${min} can never be met`;
  if (metric === 'kl' && min < 0)
    return `--target: KL divergence is never negative; kl<=${min} can never be met`;
  if (metric === 'kl' && le?.[3]) return '--target: kl takes a value in nats, not a percentage';
  if (le) {
    const relative = metric === 'ppl' && le[3] === '%';
    const shown = metric === 'ppl' ? `${min >= 0 ? '+' : ''}${min}${relative ? '%' : ''}` : `${min}`;
    return { metric, min, op: '<=', ...(relative ? { relative } : {}), text: `${metric}<=${shown}` };
  }
  return { metric, min, text: `${metric}>=${min}` };
}

/**
 * The worst output's cosine, SQNR and top-1 agreement (undefined when no output has class scores), and
 * the task's figures when `metrics` holds them (an LM's or classifier's top-1 then replaces the outputs').
 */
export function fidelityOf(outputs: readonly OutputFigures[], metrics?: TaskMetrics): Fidelity {
  const top1s = outputs.flatMap((o) => (o.top1Agreement === undefined ? [] : [o.top1Agreement]));
  const f: Fidelity = {
    cosine: Math.min(...outputs.map((o) => o.cosine)),
    sqnrDb: Math.min(...outputs.map((o) => o.sqnrDb)),
    top1: top1s.length ? Math.min(...top1s) : undefined,
  };
  const lm = metrics?.lm;
  if (lm && lm.tokens > 0) {
    f.top1 = lm.top1Agreement;
    f.pplDelta = lm.pplCandidate - lm.pplOriginal;
    f.pplDeltaPct = round6((lm.pplCandidate / lm.pplOriginal - 1) * 100);
    f.kl = lm.klMean;
  }
  const c = metrics?.classification;
  if (c && c.samples > 0) {
    f.top1 = c.top1Agreement;
    if (c.accuracyOriginal !== undefined && c.accuracyCandidate !== undefined)
      f.accPoints = round6((c.accuracyCandidate - c.accuracyOriginal) * 100);
  }
  if (f.top1 === undefined) delete f.top1;
  return f;
}

/** The figure the target bounds (undefined: a task metric the model's outputs do not give). */
export function targetValue(f: Fidelity, t: ShrinkTarget): number | undefined {
  switch (t.metric) {
    case 'cosine':
      return f.cosine;
    case 'sqnr':
      return f.sqnrDb;
    case 'top1':
      return f.top1;
    case 'ppl':
      return t.relative ? f.pplDeltaPct : f.pplDelta;
    case 'kl':
      return f.kl;
    case 'acc':
      return f.accPoints;
  }
}

/** True when `value` is within the target's bound. */
export function valueMeets(value: number | undefined, t: ShrinkTarget): boolean {
  if (value === undefined || Number.isNaN(value)) return false;
  return t.op === '<=' ? value <= t.min : value >= t.min;
}

/** True when the candidate reaches the target. */
export function meetsTarget(f: Fidelity, t: ShrinkTarget): boolean {
  return valueMeets(targetValue(f, t), t);
}

/** Why a model cannot be judged on the target's metric, or undefined when it can. */
export function unmeasurable(t: ShrinkTarget, f: Fidelity): string | undefined {
  if (targetValue(f, t) !== undefined) return undefined;
  switch (t.metric) {
    case 'top1':
      return 'has no [batch, classes] float output or next-token logits, so top1 cannot be measured: use a cosine or sqnr target';
    case 'ppl':
    case 'kl':
      return `is not a causal language model (no [batch, seq, vocab] next-token logits), so ${t.metric} cannot be measured: use a cosine or sqnr target`;
    case 'acc':
      return 'has no labelled samples (give --data with labels), so accuracy cannot be measured: use top1 or a cosine target';
    default:
      return undefined;
  }
}

/** Six decimals: a change of exactly the bound (−0.5 points) must not miss it by float rounding. */
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
