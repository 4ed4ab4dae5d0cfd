import type { QuantizedTensorRow } from '../quant/planQuantize';
import { cell, kib, num, renderTimings, renderVerification } from '../quant/quantizeReport';
import type { TransformReport, TransformSummary } from '../transform/transformReport';
import type { Precision } from './planMixed';
import type { Candidate } from './shrinkSearch';
import type { Fidelity } from './shrinkTarget';

/** One layer's choice and the measured losses behind it. */
export interface ShrinkLayerRow {
  name: string;
  op: string;
  params: number;
  choice: Precision;
  /** Worst output SQNR (dB) / cosine with only this layer at 4 or 8 bits (sensitivity). */
  int4?: { sqnrDb: number; cosine: number };
  int8?: { sqnrDb: number; cosine: number };
  why: string;
}

/** A uniform configuration of the same model, run the same way, for comparison. */
export interface Baseline {
  bytes: number;
  fidelity?: Fidelity;
  meetsTarget: boolean;
  error?: string;
}

/** The shrink report: the common report plus the target, the per-layer choices and the candidates tried. */
export interface ShrinkReport extends TransformReport<QuantizedTensorRow> {
  transform: 'shrink';
  summary: TransformSummary & {
    target: string;
    /** The chosen candidate's figure on the target's metric. */
    achieved?: number;
    layers: Record<Precision, number>;
    uniform8Bytes: number;
    uniform4Bytes: number;
  };
  layers: ShrinkLayerRow[];
  /** Every configuration tried, in order: the size/fidelity trade-off curve. */
  candidates: Candidate[];
  baselines: { uniform4: Baseline; uniform8: Baseline };
}

const LABEL: Record<Precision, string> = {
  int4: '4-bit (block 32)',
  int8: '8-bit (block 32)',
  float: 'float',
};

/** Why a layer ended at its precision, from its measured losses and the step that raised it. */
export function layerReason(
  choice: Precision,
  loss: Pick<ShrinkLayerRow, 'int4' | 'int8'>,
  raisedAt: number | undefined,
): string {
  const at = (l?: { sqnrDb: number; cosine: number }) =>
    l ? `${num(l.sqnrDb, 1)} dB output SQNR (cosine ${num(l.cosine, 6)})` : 'not measurable';
  if (choice === 'int4') return `alone at 4-bit it costs ${at(loss.int4)}: small enough to stay at 4-bit`;
  if (choice === 'int8') {
    const when = raisedAt === undefined ? 'started at 8-bit' : `raised at candidate ${raisedAt}`;
    return `alone at 4-bit it costs ${at(loss.int4)}, among the most sensitive; ${when} (8-bit alone: ${at(loss.int8)})`;
  }
  const when = raisedAt === undefined ? 'not quantizable by itself' : `raised at candidate ${raisedAt}`;
  return `even at 8-bit it costs ${at(loss.int8)}; kept in float (${when})`;
}

const fid = (f?: Fidelity) =>
  f ? `${num(f.cosine, 6)} | ${num(f.sqnrDb, 2)} | ${f.top1 === undefined ? '' : num(f.top1, 3)}` : ' | | ';

/** The Markdown report, rendered from the same object as the JSON. */
export function renderShrinkMarkdown(r: ShrinkReport): string {
  const s = r.summary;
  const lines: string[] = [];
  lines.push(`# Big Shrink: shrink report`, '');
  lines.push(
    `**${s.status.toUpperCase()}** — target \`${s.target}\` reached (${num(s.achieved, s.target.startsWith('sqnr') ? 2 : 6)}): ` +
      `${kib(s.bytesBefore)} → ${kib(s.bytesAfter)} (${s.ratio.toFixed(3)}×); ` +
      `${s.layers.int4} layers at 4-bit, ${s.layers.int8} at 8-bit, ${s.layers.float} in float`,
    '',
    `Uniform 4-bit: ${r.baselines.uniform4.bytes} bytes${r.baselines.uniform4.meetsTarget ? ' (meets the target)' : ' (misses the target)'}; ` +
      `uniform 8-bit: ${r.baselines.uniform8.bytes} bytes${r.baselines.uniform8.meetsTarget ? ' (meets the target)' : ' (misses the target)'}.`,
    '',
  );
  lines.push('## Files', '', '| role | path | bytes | sha256 |', '|---|---|---:|---|');
  for (const f of r.input.files) lines.push(`| input | ${cell(f.path)} | ${f.bytes} | \`${f.sha256}\` |`);
  for (const f of r.output.files) lines.push(`| output | ${cell(f.path)} | ${f.bytes} | \`${f.sha256}\` |`);
  lines.push('', '## Options', '', '| option | value |', '|---|---|');
  for (const [k, v] of Object.entries(r.options)) lines.push(`| ${k} | ${cell(String(v))} |`);
  lines.push(
    '',
    '## Layers',
    '',
    'Losses are measured: the worst model output with only that layer quantized (`big-shrink sensitivity`).',
    '',
    '| layer | op | params | choice | 4-bit alone: SQNR dB | 8-bit alone: SQNR dB | why |',
    '|---|---|---:|---|---:|---:|---|',
  );
  for (const l of r.layers) {
    lines.push(
      `| ${cell(l.name)} | ${l.op} | ${l.params} | ${LABEL[l.choice]} | ${num(l.int4?.sqnrDb, 1)} | ${num(l.int8?.sqnrDb, 1)} | ${cell(l.why)} |`,
    );
  }
  lines.push(
    '',
    '## Candidates tried (size / fidelity trade-off)',
    '',
    '| # | raised | 4-bit | 8-bit | float | bytes | min cosine | min SQNR dB | min top-1 | meets target |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const c of r.candidates) {
    const raised = c.raised ? `${cell(c.raised.name)} ${c.raised.from}→${c.raised.to}` : '(start)';
    lines.push(
      `| ${c.step} | ${raised} | ${c.counts.int4} | ${c.counts.int8} | ${c.counts.float} | ${c.bytes} | ${fid(c.fidelity)} | ${c.met ? 'yes' : c.error ? cell(c.error) : 'no'} |`,
    );
  }
  lines.push(
    '',
    '## Compared with uniform quantization',
    '',
    '| configuration | bytes | min cosine | min SQNR dB | min top-1 | meets target |',
    '|---|---:|---:|---:|---:|---|',
    `| uniform 4-bit | ${r.baselines.uniform4.bytes} | ${fid(r.baselines.uniform4.fidelity)} | ${r.baselines.uniform4.meetsTarget ? 'yes' : 'no'} |`,
    `| uniform 8-bit | ${r.baselines.uniform8.bytes} | ${fid(r.baselines.uniform8.fidelity)} | ${r.baselines.uniform8.meetsTarget ? 'yes' : 'no'} |`,
    `| **shrink** | ${s.bytesAfter} | ${fid(r.candidates.at(-1)?.fidelity)} | yes |`,
  );
  if (r.opsetChanges.length) {
    lines.push('', '## Opset and IR changes', '', ...r.opsetChanges.map((c) => `- ${cell(c)}`));
  }
  if (r.warnings.length) lines.push('', '## Warnings', '', ...r.warnings.map((w) => `- ${w}`));
  renderVerification(r.verification, 'shrunk', lines);
  if (r.skipped.length) {
    lines.push('', '## Left in float (not quantizable)', '', '| name | op | reason |', '|---|---|---|');
    for (const x of r.skipped) lines.push(`| ${cell(x.name)} | ${x.op} | ${cell(x.reason)} |`);
  }
  renderTimings(r, lines);
  return lines.join('\n');
}
