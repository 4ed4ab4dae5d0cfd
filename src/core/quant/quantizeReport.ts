import type { NodeChange, QuantizedTensorRow, SkippedTarget } from './planQuantize';

/** A file the transform read or wrote. */
export interface ReportFile {
  path: string;
  bytes: number;
  sha256: string;
}

/** Output fidelity as measured in ONNX Runtime (the shape of runtime/verifyModels' result). */
export interface ReportVerification {
  ok: boolean;
  error?: string;
  minCosine: number;
  inputs: { name: string; dtype: string; dims: number[]; values: string }[];
  outputs: {
    name: string;
    cosine: number;
    sqnrDb: number;
    maxAbsError: number;
    top1Agreement?: number;
  }[];
  original: { bytes: number; loadMs: number; medianMs: number; error?: string };
  candidate: { bytes: number; loadMs: number; medianMs: number; error?: string };
}

/** The compaction report (DESIGN.md "Contracts"): JSON on disk, Markdown rendered from the same object. */
export interface QuantizeReport {
  tool: { name: 'big-shrink'; version: string };
  transform: 'quantize' | 'convert';
  createdAt: string;
  input: { files: ReportFile[] };
  output: { files: ReportFile[] };
  options: Record<string, unknown>;
  summary: {
    bytesBefore: number;
    bytesAfter: number;
    ratio: number;
    tensors: number;
    nodes: number;
    /** pass: min output cosine ≥ 0.99; warn: ≥ 0.95; fail: lower, or the model failed to load or run. */
    status: 'pass' | 'warn' | 'fail' | 'unverified';
  };
  /** Opset imports and IR version raised or added, and the nodes rewritten for the new opset. */
  opsetChanges: string[];
  tensors: QuantizedTensorRow[];
  nodes: NodeChange[];
  skipped: SkippedTarget[];
  warnings: string[];
  verification?: ReportVerification;
  timingsMs: Record<string, number>;
  /** Bytes of new tensors that went through a temporary spill file instead of memory (large models). */
  spilledBytes?: number;
}

/** pass / warn / fail from the verification (see QuantizeReport.summary.status). */
export function fidelityStatus(v: ReportVerification | undefined): QuantizeReport['summary']['status'] {
  if (!v) return 'unverified';
  if (!v.ok || !(v.minCosine >= 0.95)) return 'fail';
  return v.minCosine >= 0.99 ? 'pass' : 'warn';
}

const kib = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
const cell = (s: string) => s.replace(/\|/g, '\\|');
const num = (x: number | undefined, digits = 3) =>
  x === undefined ? '' : Number.isFinite(x) ? x.toFixed(digits) : String(x);

/** The Markdown report (reads well in VS Code's preview). */
export function renderQuantizeMarkdown(r: QuantizeReport): string {
  const lines: string[] = [];
  const out = r.output.files[0];
  lines.push(`# Big Shrink: ${r.transform} report`, '');
  lines.push(
    `**${r.summary.status.toUpperCase()}** — ${kib(r.summary.bytesBefore)} → ${kib(r.summary.bytesAfter)} ` +
      `(${r.summary.ratio.toFixed(3)}×), ${r.summary.tensors} weights, ${r.summary.nodes} nodes rewritten` +
      (r.verification?.ok ? `, min output cosine ${num(r.verification.minCosine, 6)}` : ''),
    '',
  );
  lines.push('## Files', '', '| role | path | bytes | sha256 |', '|---|---|---:|---|');
  for (const f of r.input.files) lines.push(`| input | ${cell(f.path)} | ${f.bytes} | \`${f.sha256}\` |`);
  for (const f of r.output.files) lines.push(`| output | ${cell(f.path)} | ${f.bytes} | \`${f.sha256}\` |`);
  lines.push('', '## Options', '', '| option | value |', '|---|---|');
  for (const [k, v] of Object.entries(r.options)) lines.push(`| ${k} | ${cell(String(v))} |`);
  if (r.opsetChanges.length) {
    lines.push('', '## Opset and IR changes', '', ...r.opsetChanges.map((c) => `- ${cell(c)}`));
  }
  if (r.warnings.length) lines.push('', '## Warnings', '', ...r.warnings.map((w) => `- ${w}`));
  if (r.verification) {
    const v = r.verification;
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
      `| ${r.transform === 'convert' ? 'converted' : 'quantized'} | ${v.candidate.bytes} | ${num(v.candidate.loadMs, 1)} | ${num(v.candidate.medianMs, 3)} |`,
    );
  } else lines.push('', '_Not verified._');
  lines.push(
    '',
    '## Weights',
    '',
    '| weight | op | dims | before | after | bytes before | bytes after | weight SQNR dB | float removed |',
    '|---|---|---|---|---|---:|---:|---:|---|',
  );
  for (const t of r.tensors) {
    lines.push(
      `| ${cell(t.name)} | ${t.op} | ${t.dims.join('×')} | ${t.beforeDtype} | ${cell(t.afterDtype)} | ${t.beforeBytes} | ${t.afterBytes} | ${num(t.weightSqnrDb, 2)} | ${t.removed ? 'yes' : 'no (still read)'} |`,
    );
  }
  lines.push('', '## Nodes', '', '| node | graph | from | to | weight | note |', '|---|---|---|---|---|---|');
  for (const n of r.nodes) {
    lines.push(
      `| ${cell(n.node)} | ${cell(n.graph)} | ${n.from} | ${n.to} | ${cell(n.weight)} | ${cell(n.note ?? '')} |`,
    );
  }
  if (r.skipped.length) {
    lines.push('', '## Left in float', '', '| name | op | reason |', '|---|---|---|');
    for (const s of r.skipped) lines.push(`| ${cell(s.name)} | ${s.op} | ${cell(s.reason)} |`);
  }
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
  return lines.join('\n');
}
