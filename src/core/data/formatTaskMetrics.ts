import { accuracyChangePoints, type TaskMetrics } from './taskMetrics';

const fixed = (x: number | undefined, digits: number) =>
  x === undefined || Number.isNaN(x) ? '—' : Number.isFinite(x) ? x.toFixed(digits) : String(x);
const pct = (x: number | undefined) =>
  x === undefined || Number.isNaN(x) ? '—' : `${(x * 100).toFixed(2)}%`;
const signed = (x: number, digits: number) => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;

/**
 * The task's figures in words, one line each, most telling first (the CLI table and the Markdown report
 * open with them): perplexity of both models and its change, KL, next-token agreement for a language
 * model; agreement and accuracy for a classifier; the worst and mean sample of each output otherwise.
 */
export function taskMetricLines(m: TaskMetrics): string[] {
  const lines: string[] = [];
  if (m.lm) {
    const l = m.lm;
    const change = (l.pplCandidate / l.pplOriginal - 1) * 100;
    lines.push(
      `perplexity ${fixed(l.pplOriginal, 3)} → ${fixed(l.pplCandidate, 3)} (${Number.isFinite(change) ? signed(change, 2) : '—'}%)`,
      `next-token KL mean ${fixed(l.klMean, 6)}, max ${fixed(l.klMax, 6)}; top-1 agreement ${pct(l.top1Agreement)} over ${l.tokens} tokens`,
    );
  }
  if (m.classification) {
    const c = m.classification;
    const points = accuracyChangePoints(c);
    lines.push(
      `top-1 agreement ${pct(c.top1Agreement)} over ${c.samples} samples` +
        (points === undefined
          ? ''
          : `; accuracy ${pct(c.accuracyOriginal)} → ${pct(c.accuracyCandidate)} (${signed(points, 2)} points)`),
    );
  }
  if (m.samples > 1) {
    for (const o of m.outputs)
      lines.push(
        `${o.name} over ${o.samples} samples: cosine worst ${fixed(o.cosineWorst, 6)}, mean ${fixed(o.cosineMean, 6)}; ` +
          `SQNR worst ${fixed(o.sqnrWorstDb, 2)} dB, mean ${fixed(o.sqnrMeanDb, 2)} dB`,
      );
  }
  return lines;
}

/** "language model", "classifier", "generic". */
export function taskName(m: TaskMetrics): string {
  return m.task === 'lm' ? 'causal language model' : m.task === 'classification' ? 'classifier' : 'generic';
}
