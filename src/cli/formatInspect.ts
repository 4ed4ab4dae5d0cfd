import { formatBytes } from '../core/format/formatBytes';
import type { InspectReport, TensorSummary } from '../core/inspect/inspectReport';

const num = (v: number | undefined) =>
  v === undefined ? '' : Number.isInteger(v) ? String(v) : v.toPrecision(4);

/** The readable report: overview, then one row per tensor (weights first). */
export function formatInspect(r: InspectReport): string {
  const m = r.model;
  const ext = r.file.externalFiles.reduce((a, f) => a + f.bytes, 0);
  const lines = [
    `${r.file.path}: ${formatBytes(r.file.bytes)}${ext ? ` + ${formatBytes(ext)} external data (${r.file.externalFiles.map((f) => f.path).join(', ')})` : ''}`,
    `IR ${m.irVersion}, opsets ${Object.entries(m.opsets)
      .map(([d, v]) => `${d} ${v}`)
      .join(', ')}, producer ${m.producerName || '?'} ${m.producerVersion}`.trimEnd(),
    `inputs:  ${m.inputs.map((i) => `${i.name}: ${i.dtype}[${(i.shape ?? ['?']).map((d) => d ?? '?').join(',')}]`).join('; ') || '(none)'}`,
    `outputs: ${m.outputs.map((i) => `${i.name}: ${i.dtype}[${(i.shape ?? ['?']).map((d) => d ?? '?').join(',')}]`).join('; ') || '(none)'}`,
    `nodes: ${m.nodeCount} (${Object.entries(m.ops)
      .sort((a, b) => b[1] - a[1])
      .map(([o, c]) => `${o} ${c}`)
      .join(', ')})`,
    `parameters: ${m.parameters.toLocaleString('en-US')} in ${r.tensors.filter((t) => t.learned).length} weight tensors, ${formatBytes(m.weightBytes)} (${
      Object.entries(m.byDtype)
        .map(([d, s]) => `${d} ${s.parameters.toLocaleString('en-US')}`)
        .join(', ') || 'none'
    })`,
    '',
  ];
  const nested = r.tensors.some((t) => t.graph !== 'main');
  const header = [
    'name',
    'dtype',
    'shape',
    'where',
    ...(nested ? ['graph'] : []),
    'bytes',
    'sparsity',
    'min',
    'max',
    'mean',
    'std',
  ];
  const firstNumeric = header.indexOf('bytes');
  const row = (t: TensorSummary) => [
    t.name,
    t.dtype,
    `[${t.dims.join(',')}]`,
    t.where,
    ...(nested ? [t.graph] : []),
    formatBytes(t.bytes),
    t.stats ? `${(t.stats.sparsity * 100).toFixed(1)}%` : '',
    num(t.stats?.min),
    num(t.stats?.max),
    num(t.stats?.mean),
    num(t.stats?.std),
  ];
  const weights = r.tensors.filter((t) => t.learned);
  const others = r.tensors.filter((t) => !t.learned);
  lines.push(...table(header, weights.map(row), firstNumeric));
  if (others.length) {
    lines.push('', `${others.length} other tensors (shape tables and fixed constants):`);
    lines.push(...table(header, others.map(row), firstNumeric));
  }
  return lines.join('\n');
}

function table(header: string[], rows: string[][], firstNumeric: number): string[] {
  if (rows.length === 0) return ['(none)'];
  const widths = header.map((h, i) => Math.min(48, Math.max(h.length, ...rows.map((r) => r[i].length))));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => {
        const cell = c.length > widths[i] ? `…${c.slice(c.length - widths[i] + 1)}` : c;
        return i >= firstNumeric ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
      })
      .join('  ')
      .trimEnd();
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)];
}
