import type { InspectReport, TensorSummary } from '../core/inspect/inspectReport';
import type { TensorStats } from '../core/stats/tensorStats';
import type { EditorSnapshot } from '../protocol/modelEditor';

/** The document's report with every computed statistic filled in: the shape of `big-shrink inspect --json`. */
export function reportWithStats(snapshot: EditorSnapshot): InspectReport | undefined {
  const report = snapshot.report;
  if (!report) return undefined;
  const byId = new Map(snapshot.rows.map((r) => [r.id, r]));
  const tensors = report.tensors.map((t): TensorSummary => {
    const row = byId.get(t.id);
    const duplicates = snapshot.duplicates[t.id];
    return {
      ...t,
      ...(row?.stats ? { stats: row.stats } : {}),
      ...(row?.dequantized ? { dequantized: row.dequantized } : {}),
      ...(duplicates ? { duplicates } : {}),
    };
  });
  return { ...report, tensors };
}

const STAT_COLUMNS = [
  'count',
  'min',
  'max',
  'mean',
  'std',
  'zeros',
  'nan',
  'inf',
  'absMax',
  'sparsity',
  'nearZeros',
] as const;
const PERCENTILES = ['50', '90', '99', '99.9'];

/** One line per tensor; numbers at full precision, lists joined with `;`. */
export function statisticsCsv(report: InspectReport): string {
  const header = [
    'name',
    'graph',
    'where',
    'role',
    'learned',
    'dtype',
    'shape',
    'bytes',
    'consumers',
    'consumer_ops',
    ...STAT_COLUMNS,
    ...PERCENTILES.map((p) => `abs_p${p}`),
    'nm_2_4_ratio',
    'zero_channels',
    'channels',
    ...STAT_COLUMNS.map((c) => `dequantized_${c}`),
    'duplicates',
  ];
  const lines = [header.join(',')];
  for (const t of report.tensors) {
    const s = t.stats;
    const d = t.dequantized;
    lines.push(
      [
        t.name,
        t.graph,
        t.where,
        t.role,
        t.learned,
        t.dtype,
        t.dims.join('x'),
        t.bytes,
        t.consumers.join(';'),
        t.consumerOps.join(';'),
        ...statCells(s),
        ...PERCENTILES.map((p) => s?.absPercentiles?.[p]),
        s?.nm?.ratio,
        s?.zeroChannels?.zero,
        s?.zeroChannels?.total,
        ...statCells(d),
        (t.duplicates ?? []).join(';'),
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return lines.join('\n') + '\n';
}

function statCells(stats: TensorStats | undefined): unknown[] {
  return STAT_COLUMNS.map((c) => stats?.[c]);
}

function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
