import { DagreRuns, type Laid, type RunItem } from './dagreRuns';
import type { GraphModel, GraphNode } from './graphModel';

/** A box in layout coordinates (top-left corner, pixels at zoom 1). */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** An end of a drawn edge: a visible node, or a collapsed block (`-1 - blockIndex`). */
export type EdgeEnd = number;

/** One drawn edge: the values from `from` to `to` (several when a collapsed block gathers them). */
export interface LaidOutEdge {
  from: EdgeEnd;
  to: EdgeEnd;
  /** The first value's name and shape; `count` values in all. */
  tensor: string;
  shape?: string;
  count: number;
  /** Polyline x0, y0, x1, y1, … */
  points: number[];
}

/** Where everything goes; what the webview draws. */
export interface GraphLayout {
  width: number;
  height: number;
  /** Per node; null when the node is inside a collapsed block. */
  nodes: (Box | null)[];
  /** Per block: its box (the collapsed box, or the frame around its expanded nodes). */
  blocks: (Box & { collapsed: boolean })[];
  edges: LaidOutEdge[];
  /** Blocks shown expanded. */
  expanded: number[];
  /** Dagre runs made (segments of a long graph and distinct expanded blocks not laid out before). */
  runs: number;
}

export interface LayoutOptions {
  /** Blocks to show expanded (default: every block when the graph is small, none when it is big). */
  expanded?: readonly number[];
  /** Top-level items per dagre run (dagre's ordering step grows with the square of a graph's depth). */
  segmentSize?: number;
  /**
   * Dagre runs of earlier layouts, found again by what was laid out: a block expanded or collapsed lays
   * out only what changed (the layout worker keeps one per model).
   */
  dagre?: DagreRuns;
}

/** Beyond this many nodes the first view shows every repeated block (and section) collapsed. */
export const AUTO_COLLAPSE_NODES = 250;
const SEGMENT_SIZE = 60;
const NODE_HEIGHT = 44;
const IO_HEIGHT = 30;
const BLOCK_WIDTH = 210;
const BLOCK_HEIGHT = 56;
const PAD = 14;
const SEGMENT_GAP = 36;

/** The blocks the first view expands: all of them for a small graph, none for a big one. */
export function defaultExpanded(model: GraphModel): number[] {
  return model.nodes.length > AUTO_COLLAPSE_NODES ? [] : model.blocks.map((b) => b.index);
}

/** The short name a node box shows: the last two segments of its name (`fc1/MatMul`), shortened in front. */
export function shortName(node: GraphNode): string {
  const last = node.name.split('/').filter(Boolean).slice(-2).join('/') || node.name;
  return last.length > 28 ? `…${last.slice(-27)}` : last;
}

/** The size of a node's box (wide enough for its op type and short name). */
export function nodeSize(node: GraphNode): { width: number; height: number } {
  const chars = Math.max(node.opType.length + (node.weights.length ? 4 : 0), shortName(node).length);
  const width = Math.min(230, Math.max(node.kind === 'op' ? 96 : 80, chars * 7 + 22));
  return { width, height: node.kind === 'op' ? NODE_HEIGHT : IO_HEIGHT };
}

/**
 * Lays out a graph model with dagre. Collapsed blocks are one box; an expanded block is laid out on its
 * own (once per distinct structure: transformer layers repeat) and placed as one box, so the top level
 * stays small. A top level longer than `segmentSize` items is cut, in model order, into segments laid
 * out one after another and stacked. Each run goes through `DagreRuns` (chains joined, runs remembered),
 * which keeps a 2,000-node export, every node drawn, well within a second.
 */
export function layoutGraph(model: GraphModel, options: LayoutOptions = {}): GraphLayout {
  const expanded = new Set(options.expanded ?? defaultExpanded(model));
  const segmentSize = Math.max(4, options.segmentSize ?? SEGMENT_SIZE);
  const dagre = options.dagre ?? new DagreRuns();
  const madeBefore = dagre.made;
  const itemOf = (n: GraphNode): string =>
    n.block === undefined ? `n${n.index}` : expanded.has(n.block) ? `B${n.block}` : `b${n.block}`;
  const sizes = model.nodes.map(nodeSize);

  // Folded Constants (their weight is on the consumer) are listed, not drawn.
  const drawn = (n: number) => model.nodes[n].folded === undefined;
  const edgesDrawn = model.edges.filter((e) => drawn(e.from) && drawn(e.to));
  const members = model.blocks.map((b) => b.nodes.filter(drawn));
  /** Each drawn node's place among its block's drawn members. */
  const slot = new Map<number, number>();
  for (const list of members) list.forEach((n, i) => slot.set(n, i));
  // Expanded blocks: laid out alone (by each member's place, so blocks of one structure share a run).
  const innerEdges = model.blocks.map((): [string, string][] => []);
  for (const e of edgesDrawn) {
    const b = model.nodes[e.from].block;
    if (b !== undefined && b === model.nodes[e.to].block && expanded.has(b))
      innerEdges[b].push([String(slot.get(e.from)), String(slot.get(e.to))]);
  }
  const inner = new Map<number, Laid>();
  for (const b of model.blocks) {
    if (!expanded.has(b.index) || members[b.index].length === 0) continue;
    const items = members[b.index].map((n) => ({ id: String(slot.get(n)), ...sizes[n] }));
    inner.set(b.index, dagre.layout(items, innerEdges[b.index]));
  }

  // Top-level items in model order (ONNX nodes are topologically sorted), cut into segments.
  const items: RunItem[] = [];
  const segmentOf = new Map<string, number>();
  for (const n of model.nodes) {
    if (n.folded !== undefined) continue;
    const id = itemOf(n);
    if (segmentOf.has(id)) continue;
    segmentOf.set(id, Math.floor(items.length / segmentSize));
    if (id[0] === 'n') items.push({ id, ...sizes[n.index] });
    else if (id[0] === 'b') items.push({ id, width: BLOCK_WIDTH, height: BLOCK_HEIGHT });
    else {
      const laid = inner.get(n.block!)!;
      items.push({ id, width: laid.width + 2 * PAD, height: laid.height + 2 * PAD + 16 });
    }
  }
  const segmentEdges = new Map<number, Map<string, [string, string]>>();
  for (const e of edgesDrawn) {
    const a = itemOf(model.nodes[e.from]);
    const b = itemOf(model.nodes[e.to]);
    const s = segmentOf.get(a)!;
    if (a === b || s !== segmentOf.get(b)) continue;
    (segmentEdges.get(s) ?? segmentEdges.set(s, new Map()).get(s)!).set(`${a}->${b}`, [a, b]);
  }

  // Segments, stacked; each centred on x = 0 first, shifted right at the end.
  const topLeft = new Map<string, { x: number; y: number; segment: number }>();
  const segmentPoints = new Map<string, number[]>();
  let y = 0;
  let minX = 0;
  let maxX = 0;
  for (let s = 0; s * segmentSize < items.length; s++) {
    const part = items.slice(s * segmentSize, (s + 1) * segmentSize);
    const laid = dagre.layout(part, [...(segmentEdges.get(s)?.values() ?? [])]);
    const dx = -laid.width / 2;
    for (const it of part) {
      const c = laid.centers.get(it.id)!;
      const x = c.x + dx - it.width / 2;
      topLeft.set(it.id, { x, y: c.y + y - it.height / 2, segment: s });
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x + it.width);
    }
    for (const [key, pts] of laid.points)
      segmentPoints.set(
        key,
        pts.map((v, i) => (i % 2 ? v + y : v + dx)),
      );
    y += laid.height + SEGMENT_GAP;
  }
  const shiftX = PAD - minX;
  const shiftY = PAD;

  const nodes: (Box | null)[] = model.nodes.map(() => null);
  const blocks: GraphLayout['blocks'] = model.blocks.map(() => ({
    x: 0,
    y: 0,
    width: 0,
    height: 0,
    collapsed: true,
  }));
  for (const it of items) {
    const p = topLeft.get(it.id)!;
    const box = { x: p.x + shiftX, y: p.y + shiftY, width: it.width, height: it.height };
    if (it.id[0] === 'n') nodes[Number(it.id.slice(1))] = box;
    else if (it.id[0] === 'b') blocks[Number(it.id.slice(1))] = { ...box, collapsed: true };
    else {
      const b = Number(it.id.slice(1));
      blocks[b] = { ...box, collapsed: false };
      const laid = inner.get(b)!;
      members[b].forEach((n, i) => {
        const c = laid.centers.get(String(i))!;
        const size = sizes[n];
        nodes[n] = {
          x: box.x + PAD + c.x - size.width / 2,
          y: box.y + PAD + 16 + c.y - size.height / 2,
          ...size,
        };
      });
    }
  }

  // Edges between what is drawn: nodes, or the collapsed block that hides one.
  const endOf = (n: number): EdgeEnd => {
    const b = model.nodes[n].block;
    return b !== undefined && !expanded.has(b) ? -1 - b : n;
  };
  const boxOf = (end: EdgeEnd): Box => (end >= 0 ? nodes[end]! : blocks[-1 - end]);
  const lines = new Map<string, LaidOutEdge>();
  for (const e of edgesDrawn) {
    const from = endOf(e.from);
    const to = endOf(e.to);
    if (from === to) continue;
    const key = `${from}:${to}`;
    const known = lines.get(key);
    if (known) {
      known.count++;
      continue;
    }
    const a = boxOf(from);
    const b = boxOf(to);
    const start = [a.x + a.width / 2, a.y + a.height];
    const end = [b.x + b.width / 2, b.y];
    let middle: number[] = [];
    const ia = itemOf(model.nodes[e.from]);
    const ib = itemOf(model.nodes[e.to]);
    if (ia === ib && ia[0] === 'B') {
      const blockBox = blocks[Number(ia.slice(1))];
      const pts = inner.get(Number(ia.slice(1)))!.points.get(`${slot.get(e.from)}->${slot.get(e.to)}`) ?? [];
      middle = pts.slice(2, -2).map((v, i) => v + (i % 2 ? blockBox.y + PAD + 16 : blockBox.x + PAD));
    } else {
      const pts = segmentPoints.get(`${ia}->${ib}`);
      if (pts && topLeft.get(ia)!.segment === topLeft.get(ib)!.segment)
        middle = pts.slice(2, -2).map((v, i) => v + (i % 2 ? shiftY : shiftX));
    }
    lines.set(key, {
      from,
      to,
      tensor: e.tensor,
      shape: e.shape,
      count: 1,
      points: [...start, ...middle, ...end],
    });
  }
  return {
    width: maxX - minX + 2 * PAD,
    height: Math.max(0, y - SEGMENT_GAP) + 2 * PAD,
    nodes,
    blocks,
    edges: [...lines.values()],
    expanded: [...expanded].sort((a, b) => a - b),
    runs: dagre.made - madeBefore,
  };
}
