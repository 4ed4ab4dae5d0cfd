/** Number and size formatting for the model editor (display only; exact values go in data-value). */

const nf = new Intl.NumberFormat('en-US');

/** A statistic for a table cell: about 4 significant digits, an exponent for very small or large magnitudes. */
export function formatStat(x: number | undefined): string {
  if (x === undefined) return '';
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(2).replace(/\.?0+e/, 'e');
  // Four significant digits, three below 0.01 (so a table cell stays at about eight characters).
  return String(Number(x.toPrecision(a < 0.01 ? 3 : 4)));
}

/** An integer count with thousands separators. */
export function formatCount(n: number | undefined): string {
  return n === undefined ? '' : nf.format(n);
}

/** A compact count: 1.2 K, 3.4 M, 5.6 B. */
export function formatCompact(n: number): string {
  const a = Math.abs(n);
  if (a < 1e4) return nf.format(n);
  for (const [unit, div] of [
    ['B', 1e9],
    ['M', 1e6],
    ['K', 1e3],
  ] as const) {
    if (a >= div) return `${Number((n / div).toPrecision(3))} ${unit}`;
  }
  return nf.format(n);
}

export { formatBytes } from '../../src/core/format/formatBytes';

/** A ratio in [0, 1] as a percentage. */
export function formatPercent(r: number | undefined, digits = 1): string {
  if (r === undefined || Number.isNaN(r)) return '';
  if (r > 0 && r < 0.001) return '<0.1%';
  if (r === 1) return '100%';
  if (r === 0) return '0%';
  return `${(r * 100).toFixed(digits)}%`;
}

/** Dims as a compact product for narrow cells: 1×256×64. */
export function formatDims(dims: readonly number[]): string {
  return dims.length === 0 ? 'scalar' : dims.join('×');
}

export function formatShape(dims: readonly (number | string | null)[] | null | undefined): string {
  if (!dims) return '?';
  if (dims.length === 0) return 'scalar';
  return `[${dims.map((d) => (d === null ? '?' : d)).join(', ')}]`;
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** An SQNR in dB with one decimal ("∞" when exact). */
export function formatDb(db: number | undefined): string {
  if (db === undefined || Number.isNaN(db)) return '';
  if (!Number.isFinite(db)) return db > 0 ? '∞' : '-∞';
  return db.toFixed(1);
}
