import { cell, num, renderTimings, renderVerification } from '../quant/quantizeReport';
import type { ReportFile, TransformReport, TransformSummary } from '../transform/transformReport';
import type { LeftWhole } from './findUnitGroups';
import type { CompactLayerRow } from './planCompact';

/** What the compact summary adds. */
export interface CompactSummary {
  /** Hidden units of the compacted layers, before and after. */
  unitsBefore: number;
  unitsAfter: number;
  /** Attention heads of the blocks compacted, before and after (with --heads). */
  headsBefore?: number;
  headsAfter?: number;
  /** Bytes of the compacted layers' tensors, before and after. */
  layerBytesBefore: number;
  layerBytesAfter: number;
  /** Whole-model median latency in onnxruntime-node (from the verification; absent with --no-verify). */
  medianMsBefore?: number;
  medianMsAfter?: number;
}

/** The compact report: the common report plus the layers compacted and the ones left whole. */
export interface CompactReport extends TransformReport<CompactLayerRow> {
  transform: 'compact';
  summary: TransformSummary & CompactSummary;
  /** Layers that could have been compacted but were left whole, with the reason. */
  leftWhole: LeftWhole[];
  /** What the activation importance was measured on (method activation). */
  calibration?: string;
}

/** The Markdown report, rendered from the JSON report. */
export function renderCompactMarkdown(r: CompactReport): string {
  const s = r.summary;
  const lines: string[] = ['# Big Shrink: compact report', ''];
  const latency =
    s.medianMsBefore !== undefined && s.medianMsAfter !== undefined
      ? `; median latency ${num(s.medianMsBefore, 3)} → ${num(s.medianMsAfter, 3)} ms`
      : '';
  lines.push(
    `**${s.status.toUpperCase()}** — ${r.tensors.length} layers compacted, ${s.unitsBefore} → ${s.unitsAfter} ${r.tensors.some((l) => l.kind === 'lowrank') ? 'rank' : 'hidden units'}` +
      (s.headsBefore !== undefined ? `, ${s.headsBefore} → ${s.headsAfter} attention heads` : '') +
      '; ' +
      `file ${s.bytesBefore} → ${s.bytesAfter} bytes (${num(s.ratio, 4)}×)${latency}` +
      (r.verification?.ok ? `; min output cosine ${num(r.verification.minCosine, 6)}` : ''),
    '',
  );
  lines.push('## Files', '', '| role | path | bytes | sha256 |', '|---|---|---:|---|');
  const file = (role: string, f: ReportFile) =>
    lines.push(`| ${role} | ${cell(f.path)} | ${f.bytes} | \`${f.sha256}\` |`);
  for (const f of r.input.files) file('input', f);
  for (const f of r.output.files) file('output', f);
  lines.push('', '## Options', '', '| option | value |', '|---|---|');
  for (const [k, v] of Object.entries(r.options)) lines.push(`| ${k} | ${cell(String(v))} |`);
  if (r.calibration) lines.push('', `Importance measured on ${cell(r.calibration)}.`);
  if (r.warnings.length) lines.push('', '## Warnings', '', ...r.warnings.map((w) => `- ${cell(w)}`));
  renderVerification(r.verification, 'compacted', lines);
  lines.push(
    '',
    '## Layers',
    '',
    '| layer | op | units before | units after | removed | bytes before | bytes after | importance (lowrank: energy) kept | tensors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const l of r.tensors) {
    const dims = l.tensors
      .map((t) => `${t.name} [${t.dimsBefore.join('×')}] → [${t.dimsAfter.join('×')}]`)
      .join('; ');
    lines.push(
      `| ${cell(l.name)} | ${l.op} | ${l.unitsBefore} | ${l.unitsAfter} | ${l.removed.length} | ${l.bytesBefore} | ${l.bytesAfter} | ${num(l.importanceKept, 4)} | ${cell(dims)} |`,
    );
  }
  if (r.skipped.length) {
    lines.push('', '## Left whole', '', '| layer | op | reason |', '|---|---|---|');
    for (const k of r.skipped) lines.push(`| ${cell(k.name)} | ${k.op} | ${cell(k.reason)} |`);
  }
  renderTimings(r, lines);
  return lines.join('\n') + '\n';
}
