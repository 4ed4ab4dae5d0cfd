import { formatBytes } from '../core/format/formatBytes';
import type { ModelDiff, TensorDiff } from '../core/diff/modelDiff';

const dims = (d: number[] | null) => (d ? `[${d.join(',')}]` : '');
const pct = (x: number | null) => (x === null ? '' : `${(x * 100).toFixed(1)}%`);
const bytes = (n: number | null) => (n === null ? '' : formatBytes(n));
const sqnr = (t: TensorDiff) =>
  t.weightSqnrDb !== null ? t.weightSqnrDb.toFixed(2) : t.status === 'same' || t.maxAbsError === 0 ? '∞' : '';
const err = (x: number | null) => (x === null ? '' : x === 0 ? '0' : x.toPrecision(3));

/** The readable comparison: what changed in the model, then one row per tensor that differs (worst first). */
export function formatDiff(d: ModelDiff): string {
  const lines: string[] = [];
  lines.push(
    `A: ${d.a.path}  ${formatBytes(d.a.bytes)}, ${d.a.nodeCount} nodes, ${d.a.parameters.toLocaleString('en-US')} parameters`,
  );
  lines.push(
    `B: ${d.b.path}  ${formatBytes(d.b.bytes)}, ${d.b.nodeCount} nodes, ${d.b.parameters.toLocaleString('en-US')} parameters`,
  );
  if (d.identical) {
    lines.push('', 'identical: no tensor, node, opset, IR version or metadata differs');
    return lines.join('\n');
  }
  const s = d.summary;
  lines.push(
    '',
    `tensors: ${s.changed} changed, ${s.added} added, ${s.removed} removed, ${s.same} same`,
    `nodes: ${d.nodes.rewritten.length} rewritten, ${d.nodes.added.length} added, ${d.nodes.removed.length} removed, ${d.nodes.changed.length} with changed attributes`,
  );
  if (d.irVersion.changed) lines.push(`IR version: ${d.irVersion.a} -> ${d.irVersion.b}`);
  for (const o of d.opsets.changed) lines.push(`opset ${o.domain}: ${o.a ?? '(none)'} -> ${o.b ?? '(none)'}`);
  for (const m of d.metadata.changed)
    lines.push(`metadata ${m.key}: ${m.a ?? '(none)'} -> ${m.b ?? '(none)'}`);
  const rows = d.tensors.filter((t) => t.status !== 'same' || t.nameB !== undefined);
  if (rows.length) {
    const header = ['status', 'name', 'dtype', 'dims', 'bytes', 'SQNR dB', 'max abs err', 'sparsity'];
    const table = rows.map((t) => [
      t.status,
      t.nameB ? `${t.name} -> ${t.nameB}` : t.name,
      t.dtypeA === t.dtypeB ? (t.dtypeA ?? '') : `${t.dtypeA ?? '-'} -> ${t.dtypeB ?? '-'}`,
      dims(t.dimsA) === dims(t.dimsB) ? dims(t.dimsA) : `${dims(t.dimsA) || '-'} -> ${dims(t.dimsB) || '-'}`,
      `${bytes(t.bytesA) || '-'} -> ${bytes(t.bytesB) || '-'}`,
      sqnr(t),
      err(t.maxAbsError),
      t.sparsityA === t.sparsityB
        ? pct(t.sparsityA)
        : `${pct(t.sparsityA) || '-'} -> ${pct(t.sparsityB) || '-'}`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
    const line = (r: string[]) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd();
    lines.push('', line(header), ...table.map(line));
  }
  const nodes = [
    ...d.nodes.rewritten.map((n) => `rewritten ${n.name}: ${n.from} -> ${n.to}`),
    ...d.nodes.added.map((n) => `added ${n.name} (${n.op})`),
    ...d.nodes.removed.map((n) => `removed ${n.name} (${n.op})`),
    ...d.nodes.changed.map((n) => `changed ${n.name} (${n.op}): ${n.attributes.join(', ')}`),
  ];
  if (nodes.length) lines.push('', ...nodes);
  return lines.join('\n');
}
