/**
 * The layers table's data: one Row per tensor, and the filtered, grouped and sorted list of items
 * (group headers and rows) that the virtualized table draws.
 */
import type { TensorSummary } from '../../src/core/inspect/inspectReport';
import type { SensitivityRow } from '../../src/core/sensitivity/sensitivitySummary';
import type { WeightSweep } from '../../src/core/sensitivity/sweepPoints';
import type { TensorStats } from '../../src/core/stats/tensorStats';

export interface Row {
  tensor: TensorSummary;
  /** Elements (product of dims). */
  params: number;
  /** The op that reads it ("Constant" for an unused Constant value, "" when nothing reads it). */
  op: string;
  stats?: TensorStats;
  dequantized?: TensorStats;
  error?: string;
  duplicates?: string[];
  /** Data-free weight SQNR at 2/3/4/8 bits and 25/50/75% sparsity, or why there is none. */
  sweep?: WeightSweep;
  sweepError?: string;
  /** The measured sensitivity of this weight (`<model>.sensitivity.json`). */
  sensitivity?: SensitivityRow;
  /** Lower-case text the filter matches: name, op and dtype. */
  haystack: string;
}

export function makeRow(tensor: TensorSummary): Row {
  const op = tensor.consumerOps[0] ?? (tensor.where === 'constant' ? 'Constant' : '');
  const elements = tensor.dims.reduce((a, b) => a * b, 1);
  return {
    tensor,
    // Weights, not stored elements: a MatMulNBits B holds two 4-bit weights per byte.
    params: tensor.learned ? (tensor.parameters ?? elements) : elements,
    op,
    haystack: `${tensor.name}\n${tensor.consumerOps.join('\n')}\n${tensor.dtype}`.toLowerCase(),
  };
}

export type ColumnId =
  | 'order'
  | 'name'
  | 'op'
  | 'shape'
  | 'dtype'
  | 'params'
  | 'bytes'
  | 'sparsity'
  | 'min'
  | 'max'
  | 'mean'
  | 'std'
  | 'sqnr4'
  | 'sensitivity';
export type Show = 'learned' | 'other' | 'all';
export type GroupBy = 'node' | 'graph' | 'none';

export interface ViewOptions {
  filter: string;
  show: Show;
  groupBy: GroupBy;
  sort: { column: ColumnId; descending: boolean };
  collapsed: ReadonlySet<string>;
}

export type Item =
  | {
      kind: 'group';
      key: string;
      /** The consumer's op type (node grouping only). */
      op: string;
      label: string;
      detail: string;
      count: number;
      params: number;
      collapsed: boolean;
    }
  | { kind: 'row'; row: Row; group?: string };

function sortValue(row: Row, column: ColumnId): number | string | undefined {
  switch (column) {
    case 'order':
      // The main graph first, then subgraphs; file order within each.
      return (row.tensor.graph === 'main' ? 0 : 2 ** 31) + row.tensor.id;
    case 'name':
      return row.tensor.name.toLowerCase();
    case 'op':
      return row.op.toLowerCase();
    case 'shape':
    case 'params':
      return row.params;
    case 'dtype':
      return row.tensor.dtype;
    case 'bytes':
      return row.tensor.bytes;
    case 'sparsity':
      return row.stats?.sparsity;
    case 'min':
    case 'max':
    case 'mean':
    case 'std':
      return row.stats?.[column];
    case 'sqnr4':
      return row.sweep?.bits[4];
    case 'sensitivity':
      // A failed measurement has no figure: it sorts with the unmeasured ones.
      return row.sensitivity?.error ? undefined : row.sensitivity?.outputSqnrDb;
  }
}

/** Compare two rows by a column; rows without a value go last whatever the direction. */
function compare(a: Row, b: Row, column: ColumnId, descending: boolean): number {
  const va = sortValue(a, column);
  const vb = sortValue(b, column);
  if (va === undefined || (typeof va === 'number' && Number.isNaN(va))) return vb === undefined ? 0 : 1;
  if (vb === undefined || (typeof vb === 'number' && Number.isNaN(vb))) return -1;
  const c = va < vb ? -1 : va > vb ? 1 : a.tensor.id - b.tensor.id;
  return descending ? -c : c;
}

export interface GroupKey {
  key: string;
  op: string;
  label: string;
  detail: string;
}

/** The group a row belongs to (its key matches `Item.key` and `ViewOptions.collapsed`). */
export function groupOf(row: Row, by: Exclude<GroupBy, 'none'>): GroupKey {
  const t = row.tensor;
  const graph = t.graph === 'main' ? '' : t.graph;
  if (by === 'graph')
    return { key: `g:${t.graph}`, op: '', label: t.graph === 'main' ? 'main graph' : t.graph, detail: '' };
  const node = t.consumers[0];
  if (node === undefined)
    return { key: `n:${t.graph}:`, op: '', label: 'not read by any node', detail: graph };
  const more = t.consumers.length > 1 ? ` (+${t.consumers.length - 1} more)` : '';
  return { key: `n:${t.graph}:${node}`, op: row.op, label: `${node}${more}`, detail: graph };
}

export function matches(row: Row, show: Show, filter: string): boolean {
  if (show === 'learned' && !row.tensor.learned) return false;
  if (show === 'other' && row.tensor.learned) return false;
  if (!filter) return true;
  // Every whitespace-separated term must match (name, op or dtype).
  return filter
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((term) => row.haystack.includes(term));
}

/**
 * Filter, sort and group. With grouping, groups keep graph order when sorted by table order; otherwise
 * a group sorts by its best row, so "largest first" still puts the largest layer on top.
 */
export function buildItems(rows: readonly Row[], options: ViewOptions): Item[] {
  const { column, descending } = options.sort;
  const visible = rows.filter((r) => matches(r, options.show, options.filter));
  visible.sort((a, b) => compare(a, b, column, descending));
  if (options.groupBy === 'none') return visible.map((row) => ({ kind: 'row', row }));

  const groups = new Map<string, GroupKey & { rows: Row[] }>();
  for (const row of visible) {
    const g = groupOf(row, options.groupBy);
    const group = groups.get(g.key);
    if (group) group.rows.push(row);
    else groups.set(g.key, { ...g, rows: [row] });
  }
  const items: Item[] = [];
  for (const [key, group] of groups) {
    const collapsed = options.collapsed.has(key);
    items.push({
      kind: 'group',
      key,
      op: group.op,
      label: group.label,
      detail: group.detail,
      count: group.rows.length,
      params: group.rows.reduce((s, r) => s + r.params, 0),
      collapsed,
    });
    if (!collapsed) for (const row of group.rows) items.push({ kind: 'row', row, group: key });
  }
  return items;
}
