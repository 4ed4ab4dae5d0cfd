// The benchmark's printed rows, in one place so every bench follows the same rules (and a unit test can
// check them): a ratio is always one whole process against another, both timed by timedRun; an absolute
// target is printed with its own figure and unit, never as a ratio; a row over several models says how
// many it measured, names the ones it skipped, and says "not measured" (not met) when it measured none.
import type { TimedRun } from './timedRun';

/** One row: what, value, target, met/MISSED (blank when there is no target). */
export function formatRow(what: string, value: string, target: string, ok: boolean | undefined): string {
  return `${what.padEnd(46)} ${value.padStart(14)}   target ${target.padEnd(22)} ${ok === undefined ? '' : ok ? 'met' : 'MISSED'}`.trimEnd();
}

/** Prints formatRow. */
export function row(what: string, value: string, target: string, ok: boolean | undefined): void {
  console.log(formatRow(what, value, target, ok));
}

/**
 * The speed-up of `ours` over `baseline`: whole process against whole process (start-up, imports, loading
 * and the work), both timed by timedRun. Returns the row and a second line with both wall times.
 */
export function speedupRows(what: string, baseline: TimedRun, ours: TimedRun, min: number): string[] {
  const ratio = baseline.seconds / ours.seconds;
  return [
    formatRow(what, `${ratio.toFixed(2)}×`, `≥ ${min}×`, ratio >= min),
    formatRow(
      '  (whole processes: baseline / ours)',
      `${baseline.seconds.toFixed(2)} / ${ours.seconds.toFixed(2)} s`,
      '',
      undefined,
    ),
  ];
}

/** A figure against an absolute bound in the same unit: "700 MB/s   target ≥ 600 MB/s". */
export function absoluteRow(
  what: string,
  value: number,
  unit: string,
  bound: { atMost: number } | { atLeast: number },
  digits = 0,
): string {
  const figure = (x: number) => `${x.toFixed(digits)} ${unit}`;
  return 'atMost' in bound
    ? formatRow(what, figure(value), `≤ ${figure(bound.atMost)}`, value <= bound.atMost)
    : formatRow(what, figure(value), `≥ ${figure(bound.atLeast)}`, value >= bound.atLeast);
}

const dB = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} dB`;

/**
 * The mean and worst gain (dB) of a method over the models it was measured on, against `meanTarget` and
 * ≥ 0 dB. `expected` lists every model the bench meant to measure: the rows say how many were measured and
 * name the others; with none measured both rows say "not measured" and count as missed.
 */
export function gainRows(
  method: string,
  gains: ReadonlyMap<string, number>,
  expected: readonly string[],
  meanTarget: number,
): string[] {
  const measured = expected.filter((m) => gains.has(m));
  const skipped = expected.filter((m) => !gains.has(m));
  const of = measured.length < expected.length ? ` (${measured.length} of ${expected.length} models)` : '';
  const values = measured.map((m) => gains.get(m)!);
  const mean = values.reduce((s, x) => s + x, 0) / values.length;
  const worst = Math.min(...values);
  const none = values.length === 0;
  const lines = [
    formatRow(
      `${method}: mean output SQNR gain over RTN${of}`,
      none ? 'not measured' : dB(mean),
      `+${meanTarget} dB avg`,
      !none && mean >= meanTarget,
    ),
    formatRow(
      `${method}: worst model gain over RTN${of}`,
      none ? 'not measured' : dB(worst),
      '≥ 0 dB',
      !none && worst >= 0,
    ),
  ];
  if (skipped.length) lines.push(`  ${method}: skipped ${skipped.join(', ')}`);
  return lines;
}
