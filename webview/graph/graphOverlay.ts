/**
 * The graph's overlays: one figure per node from its weights (size, sparsity, 4-bit SQNR, measured
 * sensitivity, and the last report's precision and error), the colour of each figure, and the legend.
 * Colours are VS Code's chart colours, so light, dark and high-contrast themes each get their own.
 */
import type { GraphNode } from '../../src/core/graph/graphModel';
import type { GraphReportLayer } from '../../src/protocol/modelEditor';
import type { Row } from '../modelEditor/rows';
import { themeColor } from '../modelEditor/dom';
import { formatBytes } from '../modelEditor/format';

export type OverlayId = 'none' | 'size' | 'sparsity' | 'sqnr4' | 'sensitivity' | 'precision' | 'error';

export const OVERLAYS: { id: OverlayId; label: string }[] = [
  { id: 'none', label: 'No overlay' },
  { id: 'size', label: 'Weight size' },
  { id: 'sparsity', label: 'Sparsity' },
  { id: 'sqnr4', label: 'Weight SQNR at 4 bits' },
  { id: 'sensitivity', label: 'Measured sensitivity' },
  { id: 'precision', label: 'Precision (last report)' },
  { id: 'error', label: 'Layer error (last report)' },
];

/** One legend entry: a colour and what it means. */
export interface LegendEntry {
  color: string;
  label: string;
}

/** What an overlay needs to know about the model's weights. */
export interface OverlaySource {
  row(name: string): Row | undefined;
  report(name: string): GraphReportLayer | undefined;
}

/** A node's figure under an overlay: its legend bucket (an index into the legend) and a text. */
export interface OverlayValue {
  bucket: number;
  text: string;
}

const SEQUENTIAL = [
  '--vscode-charts-blue',
  '--vscode-charts-green',
  '--vscode-charts-yellow',
  '--vscode-charts-orange',
  '--vscode-charts-red',
];
const SEQUENTIAL_FALLBACK = ['#3794ff', '#89d185', '#cca700', '#d18616', '#f14c4c'];
/** dB buckets, worst first: red below 10, orange, yellow, green from 30. */
const DB_EDGES = [10, 20, 30];

function palette(vars: string[], fallbacks: string[]): string[] {
  return vars.map((v, i) => themeColor(v, fallbacks[i]));
}

/** The legend of an overlay (colours read from the current theme). */
export function legendOf(overlay: OverlayId): LegendEntry[] {
  const seq = palette(SEQUENTIAL, SEQUENTIAL_FALLBACK);
  switch (overlay) {
    case 'none':
      return [];
    case 'size':
      return ['< 64 KiB', '64 KiB – 1 MiB', '1 – 16 MiB', '16 – 128 MiB', '≥ 128 MiB'].map((label, i) => ({
        color: seq[i],
        label,
      }));
    case 'sparsity':
      return ['< 1 %', '1 – 10 %', '10 – 30 %', '30 – 60 %', '≥ 60 %'].map((label, i) => ({
        color: seq[i],
        label,
      }));
    case 'sqnr4':
    case 'sensitivity':
    case 'error': {
      const [red, orange, yellow, green] = [seq[4], seq[3], seq[2], seq[1]];
      return [
        { color: red, label: '< 10 dB' },
        { color: orange, label: '10 – 20 dB' },
        { color: yellow, label: '20 – 30 dB' },
        { color: green, label: '≥ 30 dB (or exact)' },
      ];
    }
    case 'precision':
      return [
        { color: themeColor('--vscode-charts-foreground', '#888888'), label: 'float32 (unchanged)' },
        { color: seq[0], label: 'float16 / bfloat16' },
        { color: themeColor('--vscode-charts-purple', '#b180d7'), label: '8-bit' },
        { color: seq[3], label: '4-bit' },
        { color: seq[4], label: '2-bit' },
      ];
  }
}

/** The weight of a node that speaks for it: the largest one. */
function mainWeight(node: GraphNode, source: OverlaySource): Row | undefined {
  let best: Row | undefined;
  for (const w of node.weights) {
    const row = source.row(w.name);
    if (row && (!best || row.tensor.bytes > best.tensor.bytes)) best = row;
  }
  return best;
}

function dbBucket(db: number | null | undefined): number {
  if (db === null || db === Infinity) return 3; // exact
  let i = 0;
  while (i < DB_EDGES.length && db! >= DB_EDGES[i]) i++;
  return i;
}

const dbText = (db: number | null | undefined) =>
  db === null || db === Infinity ? 'exact' : `${db!.toFixed(1)} dB`;

/** The node's figure under `overlay`, or undefined when it has none (no weight, not computed yet). */
export function overlayValue(
  node: GraphNode,
  overlay: OverlayId,
  source: OverlaySource,
): OverlayValue | undefined {
  if (overlay === 'none' || node.weights.length === 0) return undefined;
  const row = mainWeight(node, source);
  switch (overlay) {
    case 'size': {
      const bytes = node.weights.reduce((s, w) => s + (source.row(w.name)?.tensor.bytes ?? 0), 0);
      const edges = [64 * 1024, 1024 * 1024, 16 * 1024 * 1024, 128 * 1024 * 1024];
      return { bucket: edges.filter((e) => bytes >= e).length, text: formatBytes(bytes) };
    }
    case 'sparsity': {
      const s = row?.stats?.sparsity;
      if (s === undefined) return undefined;
      const edges = [0.01, 0.1, 0.3, 0.6];
      return { bucket: edges.filter((e) => s >= e).length, text: `${(s * 100).toFixed(1)} % zeros` };
    }
    case 'sqnr4': {
      const db = row?.sweep?.bits[4];
      if (db === undefined || Number.isNaN(db)) return undefined;
      return { bucket: dbBucket(db), text: `4-bit ${dbText(db)}` };
    }
    case 'sensitivity': {
      const db = row?.sensitivity?.outputSqnrDb;
      if (db === undefined || Number.isNaN(db)) return undefined;
      return { bucket: dbBucket(db), text: `output ${dbText(db)}` };
    }
    case 'precision': {
      const layer = node.weights.map((w) => source.report(w.name)).find(Boolean);
      if (!layer) return row ? { bucket: 0, text: row.tensor.dtype } : undefined;
      const d = layer.afterDtype.toLowerCase();
      const bucket =
        /16/.test(d) && /float/.test(d) ? 1 : /8/.test(d) ? 2 : /4/.test(d) ? 3 : /2/.test(d) ? 4 : 0;
      return { bucket, text: layer.afterDtype };
    }
    case 'error': {
      const layer = node.weights
        .map((w) => source.report(w.name))
        .find((l) => l && l.weightSqnrDb !== undefined);
      if (!layer) return undefined;
      return { bucket: dbBucket(layer.weightSqnrDb), text: `weight ${dbText(layer.weightSqnrDb)}` };
    }
  }
}
