/**
 * The precisions shrink chooses among for one weight, each with a stable string id (report JSON, CLI
 * `--precisions`, UI labels). Ordered by fidelity, lowest first: the search raises a layer along this
 * ladder, so more bits (or a smaller block) must never come before fewer.
 */
export type Precision = 'int2' | 'int4b128' | 'int4' | 'int8' | 'fp16' | 'float';

/** Every precision, lowest fidelity (and, per element, fewest bytes) first. */
export const PRECISIONS: readonly Precision[] = ['int2', 'int4b128', 'int4', 'int8', 'fp16', 'float'];

/** How a precision changes a weight: MatMulNBits at `bits`/`blockSize`, float16 storage, or nothing. */
export type PrecisionSpec =
  | { kind: 'nbits'; bits: 2 | 4 | 8; blockSize: number }
  | { kind: 'fp16' }
  | { kind: 'float' };

export const PRECISION_SPECS: Record<Precision, PrecisionSpec> = {
  int2: { kind: 'nbits', bits: 2, blockSize: 32 },
  int4b128: { kind: 'nbits', bits: 4, blockSize: 128 },
  int4: { kind: 'nbits', bits: 4, blockSize: 32 },
  int8: { kind: 'nbits', bits: 8, blockSize: 32 },
  fp16: { kind: 'fp16' },
  float: { kind: 'float' },
};

/** Human labels by id, for reports and UIs (`precisionLabels` in the shrink report). */
export const PRECISION_LABELS: Record<Precision, string> = {
  int2: '2-bit (block 32)',
  int4b128: '4-bit (block 128)',
  int4: '4-bit (block 32)',
  int8: '8-bit (block 32)',
  fp16: 'float16',
  float: 'float (unchanged)',
};

/** True for a known precision id. */
export function isPrecision(s: string): s is Precision {
  return (PRECISIONS as readonly string[]).includes(s);
}

/**
 * Parses `--precisions int4,int8,float` (any order; `float` is always allowed, since a layer must be able
 * to stay as it was). A string says what is wrong.
 */
export function parsePrecisions(text: string): Precision[] | string {
  const ids = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = ids.filter((s) => !isPrecision(s));
  if (bad.length) return `--precisions takes ids among ${PRECISIONS.join(', ')}, not ${bad.join(', ')}`;
  const wanted = new Set<string>([...ids, 'float']);
  return PRECISIONS.filter((p) => wanted.has(p));
}

/** Layers per precision id, with every id of `precisions` present (0 when unused) for the report. */
export function countPrecisions(
  choices: ReadonlyMap<string, Precision>,
  precisions: readonly Precision[] = PRECISIONS,
): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(precisions.map((p) => [p, 0]));
  for (const p of choices.values()) counts[p] = (counts[p] ?? 0) + 1;
  return counts;
}

/**
 * One layer's ladder: the allowed precisions in fidelity order, without those that take at least as many
 * bytes as a higher-fidelity one (4-bit at block 128 pads K to 128, so on a narrow layer it is no smaller
 * than block 32 and only loses fidelity). Precisions without a byte figure (not plannable) are dropped,
 * except `float`, which is always last.
 */
export function ladderOf(
  allowed: readonly Precision[],
  bytes: Partial<Record<Precision, number>>,
): Precision[] {
  const known = PRECISIONS.filter((p) => allowed.includes(p) && (p === 'float' || bytes[p] !== undefined));
  return known.filter((p, i) => {
    if (p === 'float') return true;
    const b = bytes[p]!;
    return known.slice(i + 1).every((q) => (q === 'float' ? b < (bytes.float ?? Infinity) : b < bytes[q]!));
  });
}
