import { isPrecision, type Precision, PRECISION_LABELS, PRECISIONS } from './precisions';

/**
 * A structural change shrink may choose for a layer beside its precision (`--choices`): `rank50` replaces a
 * MatMul/Gemm weight by low-rank factors at 50% of its full rank; `width25` removes 25% of an MLP block's
 * hidden units (a unit group: up, gate and down weights together, one decision of the search).
 */
export interface Structure {
  kind: 'rank' | 'width';
  /** The rank kept (rank) or the units removed (width), in percent. */
  percent: number;
  /** `rank50`, `width25`. */
  id: string;
}

/** What `shrink --objective` minimizes among the configurations that meet the target. */
export type Objective = 'size' | 'latency';

/**
 * Parses `--choices rank50,width25` (each structure also combines with every allowed precision). `sparse24`
 * is refused with the reason: 2:4 pruning before 4-bit stores the same MatMulNBits bytes as 4-bit alone
 * and ONNX Runtime's CPU kernels do not skip the zeros, so it could only lose fidelity.
 */
export function parseStructures(text: string): Structure[] | string {
  const out: Structure[] = [];
  for (const raw of text.split(',')) {
    const id = raw.trim();
    if (!id) continue;
    if (/^sparse/.test(id))
      return (
        `--choices ${id}: 2:4 sparsity + 4-bit takes the same bytes as 4-bit in MatMulNBits and runs no faster ` +
        'in ONNX Runtime, so it is not a choice (prune --method nm --storage int4 writes it when wanted)'
      );
    const m = /^(rank|width)(\d{1,2})$/.exec(id);
    const percent = m ? Number(m[2]) : NaN;
    if (!m || percent < 1 || percent > 99)
      return `--choices takes rankP (rank kept) and widthP (units removed), P a percent 1–99, e.g. rank50,width25; not ${id}`;
    if (!out.some((s) => s.id === id)) out.push({ kind: m[1] as Structure['kind'], percent, id });
  }
  if (out.length === 0) return '--choices names no structure, e.g. rank50,width25';
  return out;
}

/** The id of a structure at a precision: `rank50+int4`; the structure alone (`rank50`) keeps float storage. */
export function choiceId(structure: Structure | undefined, precision: Precision): string {
  if (!structure) return precision;
  return precision === 'float' ? structure.id : `${structure.id}+${precision}`;
}

/** Splits a choice id into its structure id (if any) and its precision. */
export function splitChoice(id: string): { structure?: string; precision: Precision } {
  if (isPrecision(id)) return { precision: id };
  const [structure, precision = 'float'] = id.split('+');
  return { structure, precision: isPrecision(precision) ? precision : 'float' };
}

/** `rank 50% + 4-bit (block 32)`, `25% fewer units (float)`: the label of any choice id. */
export function choiceLabel(id: string): string {
  const { structure, precision } = splitChoice(id);
  if (!structure) return PRECISION_LABELS[precision];
  const m = /^(rank|width)(\d+)$/.exec(structure);
  const what = !m ? structure : m[1] === 'rank' ? `rank ${m[2]}%` : `${m[2]}% fewer units`;
  return precision === 'float' ? `${what} (float)` : `${what} + ${PRECISION_LABELS[precision]}`;
}

/** Every choice id for these structures and precisions (float always), plain precisions first. */
export function choiceIds(structures: readonly Structure[], precisions: readonly Precision[]): string[] {
  const ps = PRECISIONS.filter((p) => p === 'float' || precisions.includes(p));
  return [...ps, ...structures.flatMap((s) => ps.map((p) => choiceId(s, p)))];
}

/**
 * One layer's ladder when it has structural choices: every choice with a byte figure, cheapest first by
 * `cost` (bytes for the size objective, estimated latency for the latency one), `float` last. A choice is
 * dropped when one of the same structure at a higher precision costs no more (4-bit block 128 on a narrow
 * layer), and when it costs no less than float; the search skips, as it raises, a rung that does not lower
 * the measured loss, so the ladder need not be ordered by fidelity.
 */
export function structuralLadder(
  ids: readonly string[],
  bytes: Readonly<Record<string, number | undefined>>,
  cost: Readonly<Record<string, number | undefined>> = bytes,
): string[] {
  const known = ids.filter((id) => id !== 'float' && bytes[id] !== undefined && cost[id] !== undefined);
  const rank = (id: string) => PRECISIONS.indexOf(splitChoice(id).precision);
  const floatCost = cost.float ?? Infinity;
  const kept = known.filter((id) => {
    if (cost[id]! >= floatCost) return false;
    const s = splitChoice(id).structure;
    return !known.some(
      (o) => o !== id && splitChoice(o).structure === s && rank(o) > rank(id) && cost[o]! <= cost[id]!,
    );
  });
  kept.sort((a, b) => cost[a]! - cost[b]! || rank(a) - rank(b) || a.localeCompare(b));
  return [...kept, 'float'];
}
