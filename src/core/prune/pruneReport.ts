import type { QuantizeReport, ReportFile, ReportVerification } from '../quant/quantizeReport';
import type { PrunedTensorRow } from './planPrune';
import type { SkippedTensor } from './pruneTargets';

/** A file of the report, with its gzip-compressed size where it was measured. */
export type SizedFile = ReportFile & { gzipBytes?: number };

/** The size effects of pruning, stated honestly (DESIGN.md "Sparsity"). */
export interface PruneSizes {
  /** The input and output files on disk (model + external data), and their gzip -6 sizes. */
  inputBytes: number;
  inputGzipBytes: number;
  outputBytes: number;
  outputGzipBytes: number;
  /** Payload bytes of the pruned weights: as dense tensors, as sparse tensors (values + int64 indices), as written. */
  prunedDenseBytes: number;
  prunedSparseBytes: number;
  prunedStoredBytes: number;
  /**
   * Bytes of every weight and constant once ONNX Runtime has loaded the model. Sparse initializers are
   * densified at load, so pruning does not change this.
   */
  runtimeBytesBefore: number;
  runtimeBytesAfter: number;
}

/** The prune report: the quantize report's shape plus sparsity per tensor, size figures and masks. */
export interface PruneReport
  extends Omit<QuantizeReport, 'transform' | 'tensors' | 'skipped' | 'input' | 'output' | 'summary'> {
  transform: 'prune';
  input: { files: SizedFile[] };
  output: { files: SizedFile[] };
  summary: QuantizeReport['summary'] & {
    /** Zeros among the pruned weights' elements, before and after. */
    sparsityBefore: number;
    sparsityAfter: number;
    /** Elements of the pruned weights. */
    weights: number;
    target?: number;
    threshold?: number;
  };
  sizes: PruneSizes;
  /** The keep-mask file written (`--save-mask`) or applied (`--mask`). */
  masks?: { saved?: SizedFile; applied?: SizedFile };
  tensors: PrunedTensorRow[];
  skipped: SkippedTensor[];
}

const size = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
const cell = (s: string) => s.replace(/\|/g, '\\|');
const pct = (x: number | undefined) => (x === undefined ? '' : `${(x * 100).toFixed(2)}%`);
const num = (x: number | undefined, digits = 3) =>
  x === undefined || x === null ? '' : Number.isFinite(x) ? x.toFixed(digits) : x > 0 ? '∞' : String(x);
/** Zeroed channel indices shown in the Markdown (the JSON lists all). */
const SHOWN_CHANNELS = 64;

/** The Markdown report, rendered from the same object as the JSON. */
export function renderPruneMarkdown(r: PruneReport): string {
  const s = r.summary;
  const z = r.sizes;
  const lines: string[] = [`# Big Shrink: prune report`, ''];
  lines.push(
    `**${s.status.toUpperCase()}** — ${s.tensors} weights pruned, sparsity ${pct(s.sparsityBefore)} → ${pct(s.sparsityAfter)}` +
      (s.target !== undefined ? ` (target ${pct(s.target)})` : '') +
      `; file ${size(z.inputBytes)} → ${size(z.outputBytes)}, gzip ${size(z.inputGzipBytes)} → ${size(z.outputGzipBytes)}` +
      (r.verification?.ok ? `; min output cosine ${num(r.verification.minCosine, 6)}` : ''),
    '',
  );
  lines.push('## Files', '', '| role | path | bytes | gzip bytes | sha256 |', '|---|---|---:|---:|---|');
  const file = (role: string, f: SizedFile) =>
    lines.push(`| ${role} | ${cell(f.path)} | ${f.bytes} | ${f.gzipBytes ?? ''} | \`${f.sha256}\` |`);
  for (const f of r.input.files) file('input', f);
  for (const f of r.output.files) file('output', f);
  if (r.masks?.applied) file('mask applied', r.masks.applied);
  if (r.masks?.saved) file('mask saved', r.masks.saved);
  lines.push('', '## Size', '', '| measure | before | after |', '|---|---:|---:|');
  lines.push(`| files on disk | ${z.inputBytes} | ${z.outputBytes} |`);
  lines.push(`| gzip -6 of the files | ${z.inputGzipBytes} | ${z.outputGzipBytes} |`);
  lines.push(`| pruned weights, dense | ${z.prunedDenseBytes} | ${z.prunedDenseBytes} |`);
  lines.push(`| pruned weights, as sparse tensors (values + int64 indices) | | ${z.prunedSparseBytes} |`);
  lines.push(`| pruned weights, as written | | ${z.prunedStoredBytes} |`);
  lines.push(
    `| runtime memory for weights and constants (ONNX Runtime densifies sparse ones) | ${z.runtimeBytesBefore} | ${z.runtimeBytesAfter} |`,
  );
  lines.push('', '## Options', '', '| option | value |', '|---|---|');
  for (const [k, v] of Object.entries(r.options)) lines.push(`| ${k} | ${cell(String(v))} |`);
  if (r.warnings.length) lines.push('', '## Warnings', '', ...r.warnings.map((w) => `- ${cell(w)}`));
  renderVerification(r.verification, lines);
  lines.push(
    '',
    '## Weights',
    '',
    '| weight | kind | op | dims | dtype | storage | sparsity before | sparsity after | dense bytes | sparse bytes | weight SQNR dB | note |',
    '|---|---|---|---|---|---|---:|---:|---:|---:|---:|---|',
  );
  for (const t of r.tensors) {
    const note = [t.pattern, t.note].filter(Boolean).join('; ');
    lines.push(
      `| ${cell(t.name)} | ${t.kind} | ${cell(t.op)} | ${t.dims.join('×')} | ${t.beforeDtype} | ${t.storage} | ${pct(t.sparsityBefore)} | ${pct(t.sparsityAfter)} | ${t.denseBytes} | ${t.sparseBytes} | ${num(t.weightSqnrDb, 2)} | ${cell(note)} |`,
    );
  }
  const structured = r.tensors.filter((t) => t.channels);
  if (structured.length) {
    lines.push(
      '',
      '## Zeroed channels',
      '',
      '| weight | axis | zeroed / total | indices |',
      '|---|---:|---:|---|',
    );
    for (const t of structured) {
      const c = t.channels!;
      const shown = c.zeroed.slice(0, SHOWN_CHANNELS).join(', ');
      const more =
        c.zeroed.length > SHOWN_CHANNELS ? `, … (${c.zeroed.length - SHOWN_CHANNELS} more in the JSON)` : '';
      lines.push(`| ${cell(t.name)} | ${c.axis} | ${c.zeroed.length} / ${c.total} | ${shown}${more} |`);
    }
  }
  if (r.skipped.length) {
    lines.push('', '## Left dense', '', '| name | op | reason |', '|---|---|---|');
    for (const x of r.skipped) lines.push(`| ${cell(x.name)} | ${cell(x.op)} | ${cell(x.reason)} |`);
  }
  lines.push(
    '',
    '## Timings',
    '',
    Object.entries(r.timingsMs)
      .map(([k, v]) => `${k} ${v.toFixed(1)} ms`)
      .join(' · '),
    '',
    `_${r.tool.name} ${r.tool.version}, ${r.createdAt}, ${r.output.files[0]?.path ?? ''}_`,
    '',
  );
  return lines.join('\n');
}

function renderVerification(v: ReportVerification | undefined, lines: string[]): void {
  if (!v) {
    lines.push('', '_Not verified._');
    return;
  }
  lines.push('', '## Verification (onnxruntime-node, CPU)', '');
  if (!v.ok) lines.push(`**Failed:** ${v.error ?? 'unknown error'}`, '');
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
    `| pruned | ${v.candidate.bytes} | ${num(v.candidate.loadMs, 1)} | ${num(v.candidate.medianMs, 3)} |`,
  );
}
