import { Graph, layout } from '@dagrejs/dagre';

/** A box to place: an id and its size. */
export interface RunItem {
  id: string;
  width: number;
  height: number;
}

/** A laid-out group of items. */
export interface Laid {
  width: number;
  height: number;
  /** Center of each item, relative to the top-left of the laid-out group. */
  centers: Map<string, { x: number; y: number }>;
  /** Points of each edge `from->to` (both ends on the boxes' borders), relative likewise. */
  points: Map<string, number[]>;
}

/** Above this many boxes a dagre run keeps its first (depth-first) order instead of sweeping for fewer crossings. */
const ORDER_SWEEP_MAX = 40;
/** Room on each side of a run a bypass goes around (its line runs in the middle of one side). */
const BYPASS_SPACE = 24;
/** Space between ranks; a chain's members are stacked this far apart, as dagre stacks consecutive ranks. */
const RANK_SEP = 34;

/**
 * Dagre's initial order (nodes by rank, each layer filled depth-first from the sources, as its
 * `initOrder` does) in one linear pass, without the per-rank layer graphs and sweeps.
 */
function depthFirstOrder(g: Graph): void {
  const rankOf = (v: string) => (g.node(v) as { rank?: number }).rank ?? 0;
  const layers: string[][] = [];
  const seen = new Set<string>();
  const start = g.nodes().sort((a, b) => rankOf(a) - rankOf(b));
  for (const root of start) {
    const stack = [root];
    while (stack.length) {
      const v = stack.pop()!;
      if (seen.has(v)) continue;
      seen.add(v);
      (layers[rankOf(v)] ??= []).push(v);
      const next = (g.successors(v) ?? []) as string[];
      for (let i = next.length - 1; i >= 0; i--) if (!seen.has(next[i])) stack.push(next[i]);
    }
  }
  for (const layer of layers) layer?.forEach((v, i) => ((g.node(v) as { order?: number }).order = i));
}

/** Each item's distinct successors and predecessors (self-edges and repeats do not count). */
function adjacency(edges: readonly [string, string][]): {
  outs: Map<string, Set<string>>;
  ins: Map<string, Set<string>>;
} {
  const outs = new Map<string, Set<string>>();
  const ins = new Map<string, Set<string>>();
  for (const [a, b] of edges) {
    if (a === b) continue;
    (outs.get(a) ?? outs.set(a, new Set()).get(a)!).add(b);
    (ins.get(b) ?? ins.set(b, new Set()).get(b)!).add(a);
  }
  return { outs, ins };
}

/**
 * Chains of items: maximal runs `a → b → …` where each link is `a`'s only edge out and `b`'s only edge
 * in (a MatMul, its Add, an activation…). Dagre would give each member a rank of its own and put them in
 * one column; a chain goes to dagre as one box instead. Singletons are left out; self-edges and repeats
 * do not count.
 */
export function findChains(items: readonly RunItem[], edges: readonly [string, string][]): string[][] {
  const { outs, ins } = adjacency(edges);
  const next = new Map<string, string>();
  const hasPrev = new Set<string>();
  for (const [a, to] of outs) {
    const [b] = to;
    if (to.size === 1 && ins.get(b)!.size === 1) {
      next.set(a, b);
      hasPrev.add(b);
    }
  }
  const chains: string[][] = [];
  for (const it of items) {
    // Heads only: a ring of links (blocks of a top level can make one) stays as single boxes.
    if (hasPrev.has(it.id) || !next.has(it.id)) continue;
    const chain = [it.id];
    for (let v = next.get(it.id); v !== undefined; v = next.get(v)) chain.push(v);
    chains.push(chain);
  }
  return chains;
}

/** A direct edge around a run of items (a residual connection), drawn beside the run's column. */
export interface Bypass {
  from: string;
  to: string;
  /** The run it goes around, in order: `from` → around[0] → … → `to`. */
  around: string[];
}

/**
 * Edges `a → b` that go around a run of items linked one to one, where `a` leads only to the run and to
 * `b`, and `b` is reached only from the run and from `a` (a residual Add over its layer). Without the
 * edge, `a`, the run and `b` make one chain; the edge is drawn beside it, as dagre would route it.
 */
export function findBypasses(edges: readonly [string, string][]): Bypass[] {
  const { outs, ins } = adjacency(edges);
  const found: Bypass[] = [];
  const starts = new Set<string>();
  const ends = new Set<string>();
  for (const [a, to] of outs) {
    if (to.size !== 2) continue;
    for (const b of to) {
      // One bypass from and one to a node (two could only meet in a cycle, which a top level can make).
      if (ins.get(b)!.size !== 2 || starts.has(a) || ends.has(b)) continue;
      const around: string[] = [];
      // The run: one edge in, one edge out each (so it cannot loop back), ending at `b`.
      for (let v = [...to].find((x) => x !== b)!; ins.get(v)!.size === 1 && outs.get(v)?.size === 1; ) {
        around.push(v);
        const [w] = outs.get(v)!;
        if (w === b) {
          found.push({ from: a, to: b, around });
          starts.add(a);
          ends.add(b);
          break;
        }
        v = w;
      }
    }
  }
  return found;
}

/** What dagre placed: centers of its boxes and points of its edges (keyed `from->to`). */
interface Placed {
  width: number;
  height: number;
  centers: Map<string, { x: number; y: number }>;
  points: Map<string, number[]>;
}

/** One dagre run (boxes with sizes, edges between them); `sweep`: dagre's own crossing-reduction order. */
function runDagre(boxes: readonly RunItem[], edges: readonly [string, string][], sweep: boolean): Placed {
  const g = new Graph({ multigraph: false });
  g.setGraph({
    rankdir: 'TB',
    nodesep: 22,
    ranksep: RANK_SEP,
    edgesep: 8,
    marginx: 0,
    marginy: 0,
    ...(sweep ? {} : { ranker: 'longest-path' }),
  });
  g.setDefaultEdgeLabel(() => ({}));
  for (const it of boxes) g.setNode(it.id, { width: it.width, height: it.height });
  for (const [a, b] of edges) g.setEdge(a, b);
  // Dagre's ordering step (layer graphs per rank, crossing-reduction sweeps) is most of its time and grows
  // with nodes × ranks; a long run keeps the first depth-first order instead.
  layout(g, sweep ? {} : { customOrder: depthFirstOrder });
  const centers = new Map<string, { x: number; y: number }>();
  for (const it of boxes) {
    const n = g.node(it.id) as { x: number; y: number };
    centers.set(it.id, { x: n.x, y: n.y });
  }
  const points = new Map<string, number[]>();
  for (const e of g.edges()) {
    const label = g.edge(e) as { points?: { x: number; y: number }[] };
    points.set(
      `${e.v}->${e.w}`,
      (label.points ?? []).flatMap((p) => [p.x, p.y]),
    );
  }
  const info = g.graph() as { width?: number; height?: number };
  return { width: info.width ?? 0, height: info.height ?? 0, centers, points };
}

/**
 * Dagre runs, remembered by what dagre was given (the last `max` of them, most recently used last), so
 * blocks of one structure share a run and a block expanded or collapsed lays out only what changed. Chains
 * go to dagre as one box each (their members stacked in a column, as dagre itself places a chain), and so
 * does a chain with residual edges around parts of it (each drawn beside the part it skips): a typical
 * export leaves dagre a third of its nodes or fewer, and a plain residual stack none.
 */
export class DagreRuns {
  /** Layouts made (the others were found); a single column needs no dagre, but counts. */
  made = 0;
  private readonly known = new Map<string, Placed>();

  constructor(private readonly max = 400) {}

  /** Lays out `items` and the `edges` between them (self-edges and repeats are ignored). */
  layout(items: readonly RunItem[], edges: readonly [string, string][]): Laid {
    const unique = new Map<string, [string, string]>();
    for (const [a, b] of edges) if (a !== b) unique.set(`${a}->${b}`, [a, b]);
    const bypasses = findBypasses([...unique.values()]);
    for (const b of bypasses) unique.delete(`${b.from}->${b.to}`);
    const links = [...unique.values()];
    /** Sizes, those of items a bypass goes around widened on both sides for its line. */
    const size = new Map(items.map((it) => [it.id, it]));
    const inColumn = new Map(items.map((it) => [it.id, it.width]));
    for (const b of bypasses)
      for (const v of b.around) inColumn.set(v, size.get(v)!.width + 2 * BYPASS_SPACE);
    /** The dagre box standing for an item: its chain's first member, or itself. */
    const rep = new Map<string, string>();
    const chainOf = new Map<string, string[]>();
    for (const chain of findChains(items, links)) {
      chainOf.set(chain[0], chain);
      for (const v of chain) rep.set(v, chain[0]);
    }
    const repOf = (v: string) => rep.get(v) ?? v;
    const boxes: RunItem[] = [];
    for (const it of items) {
      const chain = chainOf.get(it.id);
      if (!chain) {
        if (!rep.has(it.id)) boxes.push(it);
        continue;
      }
      const members = chain.map((v) => size.get(v)!);
      boxes.push({
        id: it.id,
        width: Math.max(...chain.map((v) => inColumn.get(v)!)),
        height: members.reduce((h, m) => h + m.height, 0) + RANK_SEP * (members.length - 1),
      });
    }
    // One box edge per item edge: a chain is left by its last member and entered by its first.
    const across = new Map<string, string>();
    const boxEdges: [string, string][] = [];
    for (const [a, b] of links) {
      if (repOf(a) === repOf(b)) continue;
      across.set(`${repOf(a)}->${repOf(b)}`, `${a}->${b}`);
      boxEdges.push([repOf(a), repOf(b)]);
    }
    // Which runs sweep is decided by the items, as before chains were joined, so long runs keep their look.
    const sweep = items.length <= ORDER_SWEEP_MAX;
    const key = `${sweep}|${boxes.map((b) => `${b.id}:${b.width}:${b.height}`).join(',')}|${boxEdges.join(';')}`;
    let placed = this.known.get(key);
    if (placed) this.known.delete(key);
    else {
      this.made++;
      placed =
        boxes.length === 1 // one column: nothing for dagre to do
          ? {
              width: boxes[0].width,
              height: boxes[0].height,
              centers: new Map([[boxes[0].id, { x: boxes[0].width / 2, y: boxes[0].height / 2 }]]),
              points: new Map(),
            }
          : runDagre(boxes, boxEdges, sweep);
      if (this.known.size >= this.max) this.known.delete(this.known.keys().next().value!);
    }
    this.known.set(key, placed);

    const centers = new Map<string, { x: number; y: number }>();
    const points = new Map<string, number[]>();
    for (const box of boxes) {
      const c = placed.centers.get(box.id)!;
      const chain = chainOf.get(box.id);
      if (!chain) {
        centers.set(box.id, c);
        continue;
      }
      let top = c.y - box.height / 2;
      chain.forEach((v, i) => {
        const h = size.get(v)!.height;
        centers.set(v, { x: c.x, y: top + h / 2 });
        if (i > 0) points.set(`${chain[i - 1]}->${v}`, [c.x, top - RANK_SEP, c.x, top]);
        top += h + RANK_SEP;
      });
    }
    for (const [key, pts] of placed.points) points.set(across.get(key)!, pts);
    for (const { from, to, around } of bypasses) {
      const x = centers.get(from)!.x;
      const side = x + Math.max(...around.map((v) => size.get(v)!.width)) / 2 + BYPASS_SPACE / 2;
      const top = (v: string) => centers.get(v)!.y - size.get(v)!.height / 2;
      const bottom = (v: string) => centers.get(v)!.y + size.get(v)!.height / 2;
      points.set(`${from}->${to}`, [
        x,
        bottom(from),
        side,
        top(around[0]),
        side,
        bottom(around.at(-1)!),
        x,
        top(to),
      ]);
    }
    return { width: placed.width, height: placed.height, centers, points };
  }
}
