import type { OracleTensor } from './corpusModels';

/** What our side reports for one tensor (from the CLI JSON or the in-process core). */
export interface OurTensor {
  name: string;
  graph: string;
  where: string;
  dtype: string;
  dims: number[];
  stats?: {
    count: number;
    min: number | null;
    max: number | null;
    mean: number | null;
    std: number | null;
    zeros: number;
    nan: number;
    inf: number;
    absMax: number | null;
    histogram?: { min: number | null; max: number | null; counts: number[] };
  } | null;
}

/** Relative tolerance the issue asks for. */
export const REL = 1e-6;

/**
 * Tolerances (why they are what they are):
 * - count, zeros, nan, inf: integers, exact.
 * - min, max, absMax: both sides decode the same elements to the same float64 (every ONNX type converts
 *   to float64 exactly, or for int64/uint64 beyond 2^53 by one correctly rounded conversion), so any
 *   difference is a decoding bug: exact (with -0 == 0).
 * - mean: 1e-6 relative, or 1e-6 × absMax absolute. Float64 sums of n values carry an error of about
 *   n·2^-53·absMax (naive order) versus numpy's pairwise log2(n)·2^-53·absMax; when the values cancel
 *   (weights centred on zero) the mean is tiny and that error, though far below 1e-6 × absMax for any
 *   n < 10^9, is not small relative to the mean itself.
 * - std: the same rule. A one-pass E[x²] − E[x]² would lose digits when |mean| ≫ std, which this rule
 *   cannot see; `stdCancellationCheck` below holds that case to 1e-6 relative on its own.
 */
export function compareTensor(ours: OurTensor, oracle: OracleTensor): string[] {
  const problems: string[] = [];
  const label = `${oracle.graph} ${oracle.where} "${oracle.name}"`;
  if (ours.dtype !== oracle.dtype) problems.push(`${label}: dtype ${ours.dtype}, oracle ${oracle.dtype}`);
  if (!sameArray(ours.dims, oracle.dims))
    problems.push(`${label}: dims [${ours.dims}], oracle [${oracle.dims}]`);
  if (oracle.zeros === null) {
    // string / complex: no statistics on either side; a count, if reported, must still agree
    if (ours.stats && ours.stats.count !== oracle.count)
      problems.push(`${label}: count ${ours.stats.count}, oracle ${oracle.count}`);
    return problems;
  }
  const s = ours.stats;
  if (!s) return [...problems, `${label}: no stats (oracle has count ${oracle.count})`];
  const exact: [string, number | null, number | null][] = [
    ['count', s.count, oracle.count],
    ['zeros', s.zeros, oracle.zeros],
    ['nan', s.nan, oracle.nan],
    ['inf', s.inf, oracle.inf],
  ];
  for (const [k, a, b] of exact) if (a !== b) problems.push(`${label}: ${k} ${a}, oracle ${b}`);
  if (oracle.min === null) {
    // No finite values: min/max/mean/std/absMax are undefined, so any number reported for them is garbage
    // (null in JSON, NaN in process).
    for (const k of ['min', 'max', 'mean', 'std', 'absMax'] as const) {
      const v = s[k];
      if (v !== null && v !== undefined && !Number.isNaN(v))
        problems.push(`${label}: ${k} ${v} with no finite values`);
    }
    const held = s.histogram?.counts.reduce((x, y) => x + y, 0) ?? 0;
    if (held !== 0) problems.push(`${label}: histogram holds ${held} values, none is finite`);
    return problems;
  }
  for (const k of ['min', 'max', 'absMax'] as const) {
    const a = s[k];
    const b = oracle[k];
    if (a === null || a === undefined || !(a === b || (a === 0 && b === 0)))
      problems.push(`${label}: ${k} ${a}, oracle ${b}`);
  }
  const scale = oracle.absMax ?? 0;
  for (const k of ['mean', 'std'] as const) {
    const a = s[k];
    const b = oracle[k] as number;
    if (a === null || a === undefined || !close(a, b, scale))
      problems.push(`${label}: ${k} ${a}, oracle ${b} (diff ${a === null ? '-' : Math.abs(a - b)})`);
  }
  const h = s.histogram;
  if (h) {
    const total = h.counts.reduce((x, y) => x + y, 0);
    const finite = oracle.count - (oracle.nan ?? 0) - (oracle.inf ?? 0);
    if (total !== finite) problems.push(`${label}: histogram holds ${total} values, ${finite} are finite`);
    // Bin by bin against numpy.histogram(finite, bins): the same outer edges (numpy's value ± 0.5 for one
    // distinct value) and the same count in every bin.
    const o = oracle.histogram;
    if (!o) problems.push(`${label}: the oracle has no histogram for ${finite} finite values`);
    else {
      if (!(sameNumber(h.min, o.min) && sameNumber(h.max, o.max)))
        problems.push(`${label}: histogram range [${h.min}, ${h.max}], oracle [${o.min}, ${o.max}]`);
      if (h.counts.length !== o.counts.length)
        problems.push(`${label}: ${h.counts.length} histogram bins, oracle ${o.counts.length}`);
      else {
        const bins = h.counts.flatMap((c, i) => (c === o.counts[i] ? [] : [`[${i}] ${c} vs ${o.counts[i]}`]));
        if (bins.length) problems.push(`${label}: histogram bins differ: ${bins.slice(0, 4).join(', ')}`);
      }
    }
  } else problems.push(`${label}: no histogram`);
  return problems;
}

export function close(a: number, b: number, absScale: number): boolean {
  if (!Number.isFinite(a)) return false;
  const d = Math.abs(a - b);
  return d <= REL * Math.abs(b) || d <= REL * absScale;
}

function sameNumber(a: number | null, b: number | null): boolean {
  return a === b || (a === 0 && b === 0);
}

function sameArray(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Pairs our tensors with the oracle's by (graph, where, name), in order within a key (sibling subgraphs
 * may share a path and a name), and reports tensors only one side lists.
 */
export function compareModel(ours: OurTensor[], oracle: OracleTensor[]): string[] {
  const key = (t: { graph: string; where: string; name: string }) =>
    `${t.graph}\u0000${t.where}\u0000${t.name}`;
  const pending = new Map<string, OurTensor[]>();
  for (const t of ours) {
    const list = pending.get(key(t));
    if (list) list.push(t);
    else pending.set(key(t), [t]);
  }
  const problems: string[] = [];
  for (const o of oracle) {
    const mine = pending.get(key(o))?.shift();
    if (!mine) {
      problems.push(`missing: ${o.graph} ${o.where} "${o.name}" (${o.dtype} [${o.dims}])`);
      continue;
    }
    problems.push(...compareTensor(mine, o));
  }
  for (const rest of pending.values()) {
    for (const t of rest)
      problems.push(`extra (not in the oracle): ${t.graph} ${t.where} "${t.name}" (${t.dtype} [${t.dims}])`);
  }
  return problems;
}
