/** The output metric a shrink target bounds. */
export type TargetMetric = 'cosine' | 'sqnr' | 'top1';

/** A fidelity goal: the worst model output must reach `min` on `metric`. */
export interface ShrinkTarget {
  metric: TargetMetric;
  min: number;
  /** As the user wrote it, normalized (`cosine>=0.999`). */
  text: string;
}

/** The fidelity of one candidate: the worst output on each metric (top-1 only for class-score outputs). */
export interface Fidelity {
  cosine: number;
  sqnrDb: number;
  top1?: number;
}

/** One output's figures, as verifyModels reports them. */
export interface OutputFigures {
  cosine: number;
  sqnrDb: number;
  top1Agreement?: number;
}

/**
 * Parses `cosine>=0.999`, `sqnr>=30` or `top1>=0.99` (spaces allowed); a string says what is wrong.
 * Cosine and top-1 agreement cannot exceed 1, so a bound above 1 is refused rather than searched for.
 */
export function parseTarget(text: string): ShrinkTarget | string {
  const m = /^\s*(cosine|sqnr|top1)\s*>=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*$/i.exec(text);
  if (!m) return `--target takes "cosine>=X", "sqnr>=DB" or "top1>=X", not "${text}"`;
  const metric = m[1].toLowerCase() as TargetMetric;
  const min = Number(m[2]);
  if (!Number.isFinite(min)) return `--target: ${m[2]} is not a number`;
  if (metric !== 'sqnr' && (min > 1 || min <= 0))
    return `--target: ${metric} lies in (0, 1]; ${metric}>=${min} can never be met`;
  return { metric, min, text: `${metric}>=${min}` };
}

/** The worst output's cosine, SQNR and top-1 agreement (undefined when no output has class scores). */
export function fidelityOf(outputs: readonly OutputFigures[]): Fidelity {
  const top1s = outputs.flatMap((o) => (o.top1Agreement === undefined ? [] : [o.top1Agreement]));
  return {
    cosine: Math.min(...outputs.map((o) => o.cosine)),
    sqnrDb: Math.min(...outputs.map((o) => o.sqnrDb)),
    top1: top1s.length ? Math.min(...top1s) : undefined,
  };
}

/** The figure the target bounds (undefined: top-1 on a model without class-score outputs). */
export function targetValue(f: Fidelity, t: ShrinkTarget): number | undefined {
  return t.metric === 'cosine' ? f.cosine : t.metric === 'sqnr' ? f.sqnrDb : f.top1;
}

/** True when the candidate reaches the target. */
export function meetsTarget(f: Fidelity, t: ShrinkTarget): boolean {
  const v = targetValue(f, t);
  return v !== undefined && v >= t.min;
}
