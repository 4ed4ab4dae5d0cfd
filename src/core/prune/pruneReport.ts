import type { ReportFile, TransformReport, TransformSummary } from '../transform/transformReport';
import {
  cell,
  kib,
  num,
  renderNodeChanges,
  renderQuantizedWeights,
  renderTimings,
  renderVerification,
} from '../quant/quantizeReport';
import type { QuantizedTensorRow } from '../quant/planQuantize';
import type { DataAwarePruneMethod, WandaGroup } from './dataAwarePrune';
import type { PrunedTensorRow } from './planPrune';

/** The size effects of pruning, stated honestly (DESIGN.md "Sparsity"). */
export interface PruneSizes {
  /** The input and output files on disk (model + external data), and their gzip -6 sizes. */
  inputBytes: number;
  inputGzipBytes: number;
  outputBytes: number;
  outputGzipBytes: number;
  /**
   * Set when a gzip size above is an estimate (files over 64 MiB: evenly spaced blocks compressed, see
   * ReportFile.gzipEstimated), with the smallest share of a file's bytes that was compressed.
   */
  gzipEstimated?: boolean;
  gzipSampledFraction?: number;
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
  /**
   * --storage int4: the quantized weights as pruned float tensors, and as MatMulNBits codes + scales + zero
   * points — also what they take in memory once loaded (ONNX Runtime keeps them packed).
   */
  quantizedDenseBytes?: number;
  quantizedBytes?: number;
}

/** The prune report: the common report plus sparsity per tensor, size figures and masks. */
export interface PruneReport extends TransformReport<PrunedTensorRow> {
  transform: 'prune';
  summary: TransformSummary & PruneSummary;
  sizes: PruneSizes;
  /** The keep-mask file written (`--save-mask`) or applied (`--mask`). */
  masks?: { saved?: ReportFile; applied?: ReportFile };
  /** --storage int4: the pruned weights quantized to MatMulNBits, as the quantize report lists them. */
  quantized?: QuantizedTensorRow[];
  /** --method wanda|sparsegpt: the calibration, the layers pruned on data, the fallbacks. */
  dataAware?: DataAwarePruneSection;
}

/** One weight pruned on its calibration activations (wanda, sparsegpt). */
export interface DataAwarePruneRow {
  name: string;
  /**
   * What pruned it: the method, wanda (sparsegpt with too few calibration rows) or magnitude (the method
   * lost to magnitude on held-out activations); `note` says why.
   */
  method: DataAwarePruneMethod | 'magnitude';
  /** Wanda, unstructured: the comparison group kept (per output unit, or across the layer). */
  group?: WandaGroup;
  note?: string;
  layout: 'KN' | 'NK';
  K: number;
  N: number;
  /** Calibration rows behind its Gram matrix. */
  rows: number;
  /**
   * Layer output SQNR on the calibration activations, 10·log10(‖XW‖² / ‖X(W−Ŵ)‖²): of magnitude pruning at
   * the same sparsity (or N:M) and of the method, and the gain.
   */
  magnitudeSqnrDb: number;
  sqnrDb: number;
  gainDb: number;
  /** The method's gain over magnitude on held-out activations (before any fallback), dB. */
  heldOutGainDb?: number;
}

/** --method wanda|sparsegpt: what ran on data and what fell back to magnitude. */
export interface DataAwarePruneSection {
  method: DataAwarePruneMethod;
  /** What the calibration ran on: the --data calibration samples, an inputs folder or synthesized batches. */
  calibration: string;
  /** `none` when no weight qualified for data (no calibration ran). */
  calibrationSource: 'files' | 'inputs' | 'synthesized' | 'none';
  layers: DataAwarePruneRow[];
  /** Pruned weights that got magnitude pruning (N:M by magnitude with --n/--m) instead, and why. */
  fallback: { name: string; reason: string }[];
  /** Mean layer gain over magnitude (dB) on the calibration activations. */
  meanLayerGainDb: number;
}

/** What the prune summary adds. */
export interface PruneSummary {
  /** Zeros among the pruned weights' elements, before and after. */
  sparsityBefore: number;
  sparsityAfter: number;
  /** Elements of the pruned weights. */
  weights: number;
  target?: number;
  threshold?: number;
}

const size = (n: number) => (n >= 1024 ? kib(n) : `${n} B`);
const pct = (x: number | undefined) => (x === undefined ? '' : `${(x * 100).toFixed(2)}%`);
/** A weight left exactly as it was has an infinite SQNR. */
const db = (x: number) => (x === Infinity ? '∞' : num(x, 2));
/** Zeroed channel indices shown in the Markdown (the JSON lists all). */
const SHOWN_CHANNELS = 64;

/**
 * What the runtime-memory figure means: ONNX Runtime holds pruned float weights dense (sparse initializers
 * too), while MatMulNBits weights (--storage int4) stay 4-bit codes, their pruned zeros included.
 */
export function runtimeMemoryNote(z: PruneSizes): string {
  return z.quantizedBytes !== undefined
    ? 'MatMulNBits weights stay 4-bit in ONNX Runtime, pruned zeros included; other weights are held dense'
    : 'ONNX Runtime computes sparse weights dense';
}

/** How the gzip sizes were measured, when some are estimates. */
export function gzipNote(z: PruneSizes): string {
  if (!z.gzipEstimated) return '';
  const share = `${+((z.gzipSampledFraction ?? 0) * 100).toFixed(1)}%`;
  return ` (estimated for files over 64 MiB: evenly spaced blocks, ${share} of the bytes, compressed one by one)`;
}

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
  const file = (role: string, f: ReportFile) =>
    lines.push(
      `| ${role} | ${cell(f.path)} | ${f.bytes} | ${f.gzipEstimated ? '≈ ' : ''}${f.gzipBytes ?? ''} | \`${f.sha256}\` |`,
    );
  for (const f of r.input.files) file('input', f);
  for (const f of r.output.files) file('output', f);
  if (r.masks?.applied) file('mask applied', r.masks.applied);
  if (r.masks?.saved) file('mask saved', r.masks.saved);
  lines.push('', '## Size', '', '| measure | before | after |', '|---|---:|---:|');
  lines.push(`| files on disk | ${z.inputBytes} | ${z.outputBytes} |`);
  lines.push(`| gzip -6 of the files${gzipNote(z)} | ${z.inputGzipBytes} | ${z.outputGzipBytes} |`);
  lines.push(`| pruned weights, dense | ${z.prunedDenseBytes} | ${z.prunedDenseBytes} |`);
  lines.push(`| pruned weights, as sparse tensors (values + int64 indices) | | ${z.prunedSparseBytes} |`);
  lines.push(`| pruned weights, as written | | ${z.prunedStoredBytes} |`);
  lines.push(
    `| runtime memory for weights and constants (${runtimeMemoryNote(z)}) | ${z.runtimeBytesBefore} | ${z.runtimeBytesAfter} |`,
  );
  if (z.quantizedBytes !== undefined)
    lines.push(
      `| 4-bit weights: pruned float → MatMulNBits codes + scales + zero points (also in memory) | ${z.quantizedDenseBytes} | ${z.quantizedBytes} |`,
    );
  lines.push('', '## Options', '', '| option | value |', '|---|---|');
  for (const [k, v] of Object.entries(r.options)) lines.push(`| ${k} | ${cell(String(v))} |`);
  if (r.warnings.length) lines.push('', '## Warnings', '', ...r.warnings.map((w) => `- ${cell(w)}`));
  renderVerification(r.verification, 'pruned', lines);
  if (r.dataAware) renderDataAware(r.dataAware, lines);
  lines.push(
    '',
    '## Weights',
    '',
    '| weight | kind | op | dims | dtype | method | storage | sparsity before | sparsity after | dense bytes | sparse bytes | weight SQNR dB | note |',
    '|---|---|---|---|---|---|---|---:|---:|---:|---:|---:|---|',
  );
  for (const t of r.tensors) {
    const note = [t.pattern, t.note].filter(Boolean).join('; ');
    lines.push(
      `| ${cell(t.name)} | ${t.kind} | ${cell(t.op)} | ${t.dims.join('×')} | ${t.beforeDtype} | ${t.method ?? ''} | ${t.storage} | ${pct(t.sparsityBefore)} | ${pct(t.sparsityAfter)} | ${t.denseBytes} | ${t.sparseBytes} | ${db(t.weightSqnrDb)} | ${cell(note)} |`,
    );
  }
  if (r.quantized?.length) {
    renderQuantizedWeights(r.quantized, '## Quantized to 4-bit after pruning', lines);
    renderNodeChanges(r.nodes, lines);
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
  renderTimings(r, lines);
  return lines.join('\n');
}

/** What ran on data, on what calibration, what it gained per layer, and what fell back to magnitude. */
function renderDataAware(d: DataAwarePruneSection, lines: string[]): void {
  lines.push('', `## Data-aware pruning: ${d.method}`, '');
  lines.push(
    `${d.layers.filter((l) => l.method !== 'magnitude').length} MatMul/Gemm weights were pruned on data (${d.method}) on ${d.calibrationSource === 'synthesized' ? 'synthesized calibration inputs (no --data)' : d.calibrationSource === 'none' ? 'no calibration (nothing qualified)' : 'the calibration data'}: ${cell(d.calibration)}. ` +
      `Mean layer gain over magnitude pruning on the calibration activations: ${num(d.meanLayerGainDb, 2)} dB. ` +
      (d.fallback.length
        ? `${d.fallback.length} weights fell back to magnitude pruning (listed below).`
        : 'No weight fell back to magnitude pruning.'),
  );
  if (d.layers.length) {
    lines.push(
      '',
      '| weight | method | layout | K | N | calibration rows | magnitude layer SQNR dB | layer SQNR dB | gain dB | held-out gain dB | note |',
      '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
    );
    for (const l of d.layers)
      lines.push(
        `| ${cell(l.name)} | ${l.method}${l.group ? ` (per ${l.group})` : ''} | ${l.layout} | ${l.K} | ${l.N} | ${l.rows} | ${db(l.magnitudeSqnrDb)} | ${db(l.sqnrDb)} | ${db(l.gainDb)} | ${l.heldOutGainDb === undefined ? '' : db(l.heldOutGainDb)} | ${cell(l.note ?? '')} |`,
      );
  }
  if (d.fallback.length) {
    lines.push('', '### Fell back to magnitude', '', '| weight | reason |', '|---|---|');
    for (const f of d.fallback) lines.push(`| ${cell(f.name)} | ${cell(f.reason)} |`);
  }
}
