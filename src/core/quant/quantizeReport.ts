import { LM_HEAD_REASON } from './lmHead';
import { taskMetricLines, taskName } from '../data/formatTaskMetrics';
import type { ReportVerification, TransformReport } from '../transform/transformReport';
import type { QuantMethod } from './dataAwareQuantize';
import type { NodeChange, QuantizedTensorRow } from './planQuantize';
import type { StayedFloat } from './stayedFloat';

/** The quantize and convert report: the common report with quantized weights and rewritten nodes. */
export interface QuantizeReport extends TransformReport<QuantizedTensorRow> {
  transform: 'quantize' | 'convert';
  /** With --method search or gptq: the calibration and what the method gained over round-to-nearest. */
  dataAware?: DataAwareSection;
  /** The learned weights still stored in float, grouped by why (what kept the file from shrinking more). */
  stayedFloat?: StayedFloat;
}

/** One weight (as one reader's layout takes it) quantized with the calibration activations. */
export interface DataAwareRow {
  name: string;
  layout: 'KN' | 'NK';
  K: number;
  N: number;
  /** Calibration rows behind its Gram matrix. */
  rows: number;
  /** The method whose codes were kept ('rtn' when the asked method did worse on the layer). */
  kept: QuantMethod;
  /** 'rtn-heldout': the method lost to RTN on held-out evaluation activations, so the layer is RTN. */
  fallback?: 'rtn-heldout';
  /** Layer output SQNR on the calibration activations: 10·log10(‖XW‖² / ‖X(W−Q)‖²), RTN's and kept. */
  rtnSqnrDb: number;
  sqnrDb: number;
  gainDb: number;
}

export interface DataAwareSection {
  method: QuantMethod;
  /** What the calibration ran on (synthesized seeds or the --inputs folder). */
  calibration: string;
  layers: DataAwareRow[];
  /** Weights left to round-to-nearest, and why. */
  uncovered: { name: string; reason: string }[];
  /** Mean layer gain over RTN (dB) on the calibration activations. */
  meanLayerGainDb: number;
  /**
   * The worst output's SQNR (dB) with round-to-nearest, with the method, and the gain, over `outputSeeds`
   * verification batches (energies summed).
   */
  outputSeeds?: number;
  rtnOutputSqnrDb?: number;
  outputSqnrDb?: number;
  outputGainDb?: number;
}

/** Bytes as MiB or KiB, for the reports' summary lines. */
export const kib = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
/** Text safe inside a Markdown table cell. */
export const cell = (s: string) => s.replace(/\|/g, '\\|');
/** A figure with `digits` decimals; blank when absent. */
export const num = (x: number | undefined, digits = 3) =>
  x === undefined || x === null ? '' : Number.isFinite(x) ? x.toFixed(digits) : String(x);

/** The Markdown report (reads well in VS Code's preview). */
export function renderQuantizeMarkdown(r: QuantizeReport): string {
  const lines: string[] = [];
  lines.push(`# Big Shrink: ${r.transform} report`, '');
  lines.push(
    `**${r.summary.status.toUpperCase()}** — ${kib(r.summary.bytesBefore)} → ${kib(r.summary.bytesAfter)} ` +
      `(${r.summary.ratio.toFixed(3)}×), ${r.summary.tensors} weights, ${r.summary.nodes} nodes rewritten` +
      (r.verification?.ok ? `, min output cosine ${num(r.verification.minCosine, 6)}` : ''),
    '',
  );
  if (r.stayedFloat?.tensors) lines.push(`${r.stayedFloat.summary}.`, '');
  renderFilesAndOptions(r, lines);
  renderLmHead(r, lines);
  if (r.opsetChanges.length) {
    lines.push('', '## Opset and IR changes', '', ...r.opsetChanges.map((c) => `- ${cell(c)}`));
  }
  if (r.warnings.length) lines.push('', '## Warnings', '', ...r.warnings.map((w) => `- ${w}`));
  renderVerification(r.verification, r.transform === 'convert' ? 'converted' : 'quantized', lines);
  if (r.dataAware) renderDataAware(r.dataAware, lines);
  renderQuantizedWeights(r.tensors, '## Weights', lines);
  renderNodeChanges(r.nodes, lines);
  if (r.skipped.length) {
    lines.push('', '## Skipped', '', '| name | op | reason | bytes |', '|---|---|---|---:|');
    for (const s of r.skipped)
      lines.push(`| ${cell(s.name)} | ${s.op} | ${cell(s.reason)} | ${s.bytes ?? ''} |`);
  }
  if (r.stayedFloat?.tensors) renderStayedFloat(r.stayedFloat, lines);
  renderTimings(r, lines);
  return lines.join('\n');
}

/** Which weights were taken for the LM head and at what precision, when `--lm-head` set one. */
function renderLmHead(r: QuantizeReport, lines: string[]): void {
  const head = r.options.lmHead;
  if (head === undefined) return;
  const rows = r.tensors.filter((t) => t.lmHead).map((t) => `${cell(t.name)} (${cell(t.afterDtype)})`);
  const left = r.skipped
    .filter((s) => s.reason.includes('is the LM head'))
    .map((s) => cell(s.tensor ?? s.name));
  const found = [...rows, ...left];
  lines.push(
    '',
    found.length
      ? `LM head at ${head === 'float' ? 'float' : `${String(head)} bits`}: ${found.join(', ')} — ${LM_HEAD_REASON}.`
      : `LM head: none found (no MatMul/Gemm makes a *logits* output or projects to the token vocabulary), so --lm-head ${String(head)} changed nothing.`,
  );
}

/** Every learned weight still in float, by group (largest first), then one row each. */
function renderStayedFloat(f: StayedFloat, lines: string[]): void {
  lines.push('', '## Left in float', '', `${f.summary}.`, '');
  lines.push('| why | tensors | bytes |', '|---|---:|---:|');
  for (const g of f.groups) lines.push(`| ${cell(g.label)} | ${g.tensors} | ${g.bytes} |`);
  lines.push('', '| weight | op | reason | bytes |', '|---|---|---|---:|');
  for (const row of f.rows)
    lines.push(`| ${cell(row.name)} | ${row.op} | ${cell(row.reason)} | ${row.bytes} |`);
}

/** The table of quantized weights under `heading` (also the prune report's, with --storage int4). */
export function renderQuantizedWeights(rows: QuantizedTensorRow[], heading: string, lines: string[]): void {
  lines.push(
    '',
    heading,
    '',
    '| weight | op | dims | before | after | bytes before | bytes after | weight SQNR dB | float removed |',
    '|---|---|---|---|---|---:|---:|---:|---|',
  );
  for (const t of rows) {
    lines.push(
      `| ${cell(t.name)} | ${t.op} | ${t.dims.join('×')} | ${t.beforeDtype} | ${cell(t.afterDtype)} | ${t.beforeBytes} | ${t.afterBytes} | ${num(t.weightSqnrDb, 2)} | ${t.removed ? 'yes' : 'no (still read)'} |`,
    );
  }
}

/** The table of rewritten nodes. */
export function renderNodeChanges(nodes: NodeChange[], lines: string[]): void {
  lines.push('', '## Nodes', '', '| node | graph | from | to | weight | note |', '|---|---|---|---|---|---|');
  for (const n of nodes) {
    lines.push(
      `| ${cell(n.node)} | ${cell(n.graph)} | ${n.from} | ${n.to} | ${cell(n.weight)} | ${cell(n.note ?? '')} |`,
    );
  }
}

/** The data-aware section: method, calibration, gain over round-to-nearest per layer and at the outputs. */
function renderDataAware(d: DataAwareSection, lines: string[]): void {
  lines.push('', `## Data-aware quantization: ${d.method}`, '', `Calibration: ${cell(d.calibration)}`, '');
  const outputs =
    d.rtnOutputSqnrDb === undefined
      ? ''
      : `; worst output SQNR over ${d.outputSeeds} verification batch${d.outputSeeds === 1 ? '' : 'es'} ${num(d.rtnOutputSqnrDb, 2)} dB with round-to-nearest → ${num(d.outputSqnrDb, 2)} dB (${signed(d.outputGainDb)} dB)`;
  // With --inputs the verification runs on the calibration's own inputs.
  const inSample = d.calibration.startsWith('inputs ') ? ' (measured on the calibration inputs)' : '';
  lines.push(
    `Mean layer gain over round-to-nearest ${signed(d.meanLayerGainDb)} dB${outputs}${inSample}.`,
    '',
  );
  lines.push(
    '| weight | layout | K×N | calibration rows | kept | layer SQNR RTN dB | layer SQNR dB | gain dB |',
    '|---|---|---|---:|---|---:|---:|---:|',
  );
  for (const l of d.layers) {
    lines.push(
      `| ${cell(l.name)} | ${l.layout} | ${l.K}×${l.N} | ${l.rows} | ${l.kept}${l.fallback ? ` (${l.fallback})` : ''} | ${num(l.rtnSqnrDb, 2)} | ${num(l.sqnrDb, 2)} | ${signed(l.gainDb)} |`,
    );
  }
  if (d.uncovered.length) {
    lines.push(
      '',
      'Left to round-to-nearest:',
      '',
      ...d.uncovered.map((u) => `- ${cell(u.name)}: ${u.reason}`),
    );
  }
}

const signed = (x: number | undefined) => (x === undefined ? '' : `${x >= 0 ? '+' : ''}${num(x, 2)}`);

/** The Files (input and output, with sha256) and Options sections of a report. */
export function renderFilesAndOptions(r: TransformReport, lines: string[]): void {
  lines.push('## Files', '', '| role | path | bytes | sha256 |', '|---|---|---:|---|');
  for (const f of r.input.files) lines.push(`| input | ${cell(f.path)} | ${f.bytes} | \`${f.sha256}\` |`);
  for (const f of r.output.files) lines.push(`| output | ${cell(f.path)} | ${f.bytes} | \`${f.sha256}\` |`);
  lines.push('', '## Options', '', '| option | value |', '|---|---|');
  for (const [k, v] of Object.entries(r.options)) lines.push(`| ${k} | ${cell(String(v))} |`);
  const level = r.options.accuracyLevel;
  if (level !== undefined)
    lines.push(
      '',
      `accuracy_level ${cell(String(level))}: ${ACCURACY_LEVELS[Number(level)] ?? 'unknown level'}.`,
    );
  if (r.options.embedding !== undefined)
    lines.push(
      '',
      `Token embeddings: ${cell(String(r.options.embedding))}-bit com.microsoft::GatherBlockQuantized (see Nodes).`,
    );
}

/** What MatMulNBits' accuracy_level asks of ONNX Runtime's CPU kernels. */
const ACCURACY_LEVELS: Record<number, string> = {
  0: 'unset: ONNX Runtime chooses (float activations)',
  1: 'float32 activations',
  2: 'float16 activations',
  3: 'bfloat16 activations',
  4:
    'activations quantized to int8 per block inside the MatMulNBits kernel (the fast CPU path; ' +
    'weights stay as stored, outputs in float)',
};

/**
 * The Verification section of a report (or "Not verified."): inputs, per-output fidelity, and both models'
 * size, load time and latency; `candidate` names the new model's row ("quantized", "pruned", …).
 */
export function renderVerification(
  v: ReportVerification | undefined,
  candidate: string,
  lines: string[],
): void {
  if (!v) {
    lines.push('', '_Not verified._');
    return;
  }
  lines.push('', '## Verification (onnxruntime-node, CPU)', '');
  if (!v.ok) lines.push(`**Failed:** ${v.error ?? 'unknown error'}`, '');
  if (v.metrics) {
    lines.push(`Task: ${taskName(v.metrics)} (${v.metrics.samples} evaluation samples)`, '');
    for (const l of taskMetricLines(v.metrics)) lines.push(`- ${l}`);
    lines.push('');
  }
  if (v.synthesisNote) lines.push(`Synthesized sizes: ${v.synthesisNote}`, '');
  lines.push(
    `Inputs: ${v.inputs.map((i) => `\`${i.name}\` ${i.dtype}[${i.dims.join(',')}] ${i.values}`).join('; ')}`,
    '',
    '| output | cosine | SQNR dB | max abs error | top-1 agreement |',
    '|---|---:|---:|---:|---:|',
  );
  for (const o of v.outputs) {
    lines.push(
      `| ${cell(o.name)} | ${num(o.cosine, 6)} | ${num(o.sqnrDb, 2)} | ${o.maxAbsError} | ${num(o.top1Agreement, 3)} |`,
    );
  }
  lines.push(
    '',
    '| model | bytes | load ms | median latency ms |',
    '|---|---:|---:|---:|',
    `| original | ${v.original.bytes} | ${num(v.original.loadMs, 1)} | ${num(v.original.medianMs, 3)} |`,
    `| ${candidate} | ${v.candidate.bytes} | ${num(v.candidate.loadMs, 1)} | ${num(v.candidate.medianMs, 3)} |`,
  );
}

/** The closing Timings section and the line naming the tool, the time and the output. */
export function renderTimings(r: TransformReport, lines: string[]): void {
  const out = r.output.files[0];
  lines.push(
    '',
    '## Timings',
    '',
    Object.entries(r.timingsMs)
      .map(([k, v]) => `${k} ${v.toFixed(1)} ms`)
      .join(' · '),
    '',
    `_${r.tool.name} ${r.tool.version}, ${r.createdAt}${out ? `, ${out.path}` : ''}_`,
    '',
  );
}
