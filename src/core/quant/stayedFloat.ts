import type { ModelIndex, TensorInfo } from '../onnx/modelIndex';
import { FIXED_NAME } from '../prune/pruneTargets';
import { DataType } from '../tensor/dataType';
import type { TransformPlan } from '../transform/transformPlan';
import type { SkippedRow } from '../transform/transformReport';
import type { QuantizedTensorRow } from './planQuantize';

/** Why a learned weight kept its float bytes, in a few words the summary groups by. */
export type StayedFloatKind =
  | 'fixed-constant'
  | 'not-rewritten'
  | 'short-blocks'
  | 'too-small'
  | 'excluded'
  | 'still-read'
  | 'bias-or-norm'
  | 'other';

/** One learned float weight the quantized model still stores in float. */
export interface StayedFloatRow {
  name: string;
  graph: string;
  /** The ops that read it. */
  op: string;
  kind: StayedFloatKind;
  reason: string;
  /** Its stored bytes (what stays in the file). */
  bytes: number;
}

/** The weights that stayed float, grouped by why. */
export interface StayedFloatGroup {
  kind: StayedFloatKind;
  label: string;
  tensors: number;
  bytes: number;
  /** The first few weight names. */
  names: string[];
}

/** The report's `stayedFloat` section: what kept the quantized file from shrinking further. */
export interface StayedFloat {
  tensors: number;
  bytes: number;
  /** "N tensors (X KiB) stayed float: …": the line the CLI, the Markdown report and the panel show. */
  summary: string;
  groups: StayedFloatGroup[];
  rows: StayedFloatRow[];
}

const FLOATS = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

const LABELS: Record<StayedFloatKind, string> = {
  'fixed-constant': 'fixed constants (STFT/DFT bases, windows, filter banks)',
  'not-rewritten': 'weights read by ops this format does not rewrite',
  'short-blocks':
    'weights whose reduction axis is too short for 4-bit blocks (depthwise Conv; --bits 8 takes them)',
  'too-small': 'weights below --min-elements',
  excluded: 'weights excluded by --exclude',
  'still-read': 'weights quantized but still read in float by other nodes',
  'bias-or-norm': 'biases and norm parameters (1-D, kept in float by design)',
  other: 'weights left for other reasons (see the report)',
};

const NAMES_SHOWN = 4;
/** The summary line names a group's weights only when it has this few. */
const NAMES_IN_LINE = 3;

/**
 * The learned float weights a quantize plan leaves in float (skipped, read by ops the format does not
 * rewrite, or still read in float beside their new codes), with their bytes and a reason, grouped for a
 * summary line. `format` names the format in the reasons ("MatMulNBits", "DequantizeLinear").
 */
export function stayedFloat(
  index: ModelIndex,
  plan: TransformPlan<QuantizedTensorRow>,
  format: string,
): StayedFloat {
  const quantized = new Map(plan.tensors.map((r) => [`${r.graph}\n${r.name}`, r]));
  const skippedBy = new Map<string, SkippedRow>();
  for (const s of plan.skipped) if (s.tensor && !skippedBy.has(s.tensor)) skippedBy.set(s.tensor, s);
  const rows: StayedFloatRow[] = [];
  for (const t of index.tensors) {
    if (t.role !== 'weight' || !FLOATS.has(t.dtype) || t.consumers.length === 0) continue;
    const done = quantized.get(`${t.graph}\n${t.name}`);
    if (done?.removed) continue;
    const op = [...new Set(t.consumers.map((c) => index.nodes[c.nodeId].opType))].join('+');
    const { kind, reason } = done
      ? { kind: 'still-read' as const, reason: `also read in float by ${otherReaders(index, t, done)}` }
      : why(t, op, skippedBy.get(t.name), format);
    rows.push({ name: t.name, graph: t.graph, op, kind, reason, bytes: t.storedBytes });
  }
  const groups = new Map<StayedFloatKind, StayedFloatGroup>();
  for (const r of rows) {
    let g = groups.get(r.kind);
    if (!g)
      groups.set(r.kind, (g = { kind: r.kind, label: LABELS[r.kind], tensors: 0, bytes: 0, names: [] }));
    g.tensors++;
    g.bytes += r.bytes;
    if (g.names.length < NAMES_SHOWN) g.names.push(r.name);
  }
  const sorted = [...groups.values()].sort((a, b) => b.bytes - a.bytes);
  for (const g of sorted) if (g.kind === 'not-rewritten') g.label = notRewrittenLabel(rows, format);
  const bytes = rows.reduce((s, r) => s + r.bytes, 0);
  return {
    tensors: rows.length,
    bytes,
    summary: summaryLine(rows.length, bytes, sorted),
    groups: sorted,
    rows,
  };
}

function why(
  t: TensorInfo,
  op: string,
  skipped: SkippedRow | undefined,
  format: string,
): { kind: StayedFloatKind; reason: string } {
  const fixed = FIXED_NAME.test(t.name);
  if (skipped) {
    const r = skipped.reason;
    const kind: StayedFloatKind = fixed
      ? 'fixed-constant'
      : /scales would cost more/.test(r)
        ? 'short-blocks'
        : /elements \(</.test(r)
          ? 'too-small'
          : /--exclude/.test(r)
            ? 'excluded'
            : 'other';
    return { kind, reason: r };
  }
  if (fixed)
    return { kind: 'fixed-constant', reason: `a fixed constant read by ${op}, not rewritten by ${format}` };
  if (t.dims.length <= 1) return { kind: 'bias-or-norm', reason: `a 1-D parameter read by ${op}` };
  return { kind: 'not-rewritten', reason: `read by ${op}, which ${format} does not rewrite` };
}

function otherReaders(index: ModelIndex, t: TensorInfo, row: QuantizedTensorRow): string {
  const rewritten = new Set(row.nodes);
  const others = t.consumers
    .map((c) => index.nodes[c.nodeId])
    .filter((n) => !rewritten.has(n.name || `#${n.id}`))
    .map((n) => n.opType);
  return [...new Set(others)].join(', ') || 'another node';
}

function notRewrittenLabel(rows: StayedFloatRow[], format: string): string {
  const ops = new Set(rows.filter((r) => r.kind === 'not-rewritten').flatMap((r) => r.op.split('+')));
  return `weights read by ${[...ops].join(', ')}, which ${format} does not rewrite`;
}

const kib = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;

function summaryLine(tensors: number, bytes: number, groups: StayedFloatGroup[]): string {
  if (tensors === 0) return 'no learned weight stayed float';
  const parts = groups.map(
    (g) =>
      `${g.tensors} ${g.tensors === 1 ? singular(g.label) : g.label} (${kib(g.bytes)}${g.tensors <= NAMES_IN_LINE ? `: ${g.names.join(', ')}` : ''})`,
  );
  return `${tensors} tensor${tensors === 1 ? '' : 's'} (${kib(bytes)}) stayed float: ${parts.join('; ')}`;
}

/** A group's label for one tensor ("1 weight read by …", "1 fixed constant …"). */
function singular(label: string): string {
  return label
    .replace(/^weights /, 'weight ')
    .replace(/^fixed constants /, 'fixed constant ')
    .replace(/^biases and norm parameters /, 'bias or norm parameter ');
}
