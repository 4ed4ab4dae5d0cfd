/** A repeated block (a transformer layer): nodes whose names share a numbered prefix. */
export interface GraphBlock {
  /** Position in `GraphModel.blocks`. */
  index: number;
  /** The numbered prefix, `/` read as `.`: `model.layers.3`, `encoder.layer.1`. */
  key: string;
  /** The prefix without its number: `model.layers.`; blocks of one family repeat one another. */
  family: string;
  /** The number in the prefix. */
  number: number;
  /** What the collapsed box says: `layers.3`. */
  label: string;
  /** Node indices (GraphModel.nodes), in model order. */
  nodes: number[];
}

/** What findBlocks reads of a node. */
export interface BlockCandidate {
  index: number;
  kind: string;
  name: string;
  named: boolean;
  outputs: string[];
  weights: { name: string }[];
  /** Set on nodes that are not drawn (a Constant folded into its consumer). */
  folded?: number;
}

/**
 * The first numbered path segment of a name: a word, `.` or `/`, a number, then `.`, `/` or `:`
 * (`/model/layers.3/attn/MatMul`, `encoder.layer.1.attention…`, `/transformer/h.0/…`, `blocks/2/…`).
 * The word must start a segment, so `conv2d_3`, counters (`MatMul_12`, `Attention_0_output`) and
 * `batch_norm_12.tmp` are not blocks.
 */
const NUMBERED = /^((?:.*?[/.:])?[A-Za-z][A-Za-z_-]*?)[./](\d+)(?=[./:])/;

/**
 * The numbered prefix of `name`, with `/` read as `.` and no leading separator, so node names
 * (`/model/layers.3/…`) and weight names (`model.layers.3.…`) of one layer agree:
 * `{ family: 'model.layers.', key: 'model.layers.3', number: 3 }`.
 */
export function blockKeyOf(name: string): { family: string; key: string; number: number } | undefined {
  const m = NUMBERED.exec(name);
  if (!m) return undefined;
  const family = `${m[1].replace(/[/:]/g, '.').replace(/^\.+/, '')}.`;
  return { family, key: family + m[2], number: Number(m[2]) };
}

/** The name that tells a node's place: its own name, else its first output's, else a weight's. */
function placeName(n: BlockCandidate): string {
  if (n.named && blockKeyOf(n.name)) return n.name;
  return [n.outputs[0], ...n.weights.map((w) => w.name)].find((s) => s && blockKeyOf(s)) ?? n.name;
}

/**
 * Repeated blocks of a graph, found by name prefix: operator nodes are grouped by the first numbered
 * segment of their name (or output, or weight); a family (`/model/layers.`) counts when it has at least
 * two numbers with at least `minNodes` nodes each, as transformer layers have. Blocks come sorted by
 * family (first seen first) and number.
 */
export function findBlocks(nodes: readonly BlockCandidate[], minNodes = 2): GraphBlock[] {
  const byKey = new Map<string, { family: string; key: string; number: number; nodes: number[] }>();
  for (const n of nodes) {
    if (n.kind !== 'op') continue;
    const k = blockKeyOf(placeName(n));
    if (!k) continue;
    let b = byKey.get(k.key);
    if (!b) byKey.set(k.key, (b = { ...k, nodes: [] }));
    b.nodes.push(n.index);
  }
  const families = new Map<string, (typeof byKey extends Map<string, infer V> ? V : never)[]>();
  for (const b of byKey.values()) {
    if (b.nodes.length < minNodes) continue;
    const list = families.get(b.family) ?? [];
    list.push(b);
    families.set(b.family, list);
  }
  const blocks: GraphBlock[] = [];
  for (const list of families.values()) {
    if (list.length < 2) continue;
    list.sort((a, b) => a.number - b.number);
    for (const b of list) {
      const parts = b.key.split('.');
      blocks.push({ index: blocks.length, ...b, label: parts.slice(-2).join('.') });
    }
  }
  return blocks;
}

/** A graph with more operator nodes than this gets sections (when repeated blocks do not cover it). */
export const SECTION_MIN_NODES = 250;
/** Nodes per section. */
export const SECTION_SIZE = 80;

/**
 * Sections of a big graph: consecutive runs (in model order) of operator nodes outside any repeated
 * block, cut every `size` nodes, numbered after the blocks. They collapse like blocks, so the first view
 * of a 2,000-node export without named layers is a few dozen boxes laid out at once; each opens on demand.
 */
export function findSections(
  nodes: readonly BlockCandidate[],
  blocks: readonly GraphBlock[],
  size = SECTION_SIZE,
): GraphBlock[] {
  const inBlock = new Set(blocks.flatMap((b) => b.nodes));
  const ops = nodes.filter((n) => n.kind === 'op' && n.folded === undefined);
  const free = ops.filter((n) => !inBlock.has(n.index));
  if (ops.length <= SECTION_MIN_NODES || free.length <= SECTION_MIN_NODES / 2) return [];
  const sections: GraphBlock[] = [];
  let run: number[] = [];
  const flush = () => {
    if (run.length >= 2) {
      const number = sections.length;
      const first = nodes[run[0]];
      sections.push({
        index: blocks.length + number,
        key: `section:${number}`,
        family: 'section:',
        number,
        label: `section ${number + 1} (from ${first.name})`,
        nodes: run,
      });
    }
    run = [];
  };
  for (const n of ops) {
    if (inBlock.has(n.index)) flush();
    else {
      run.push(n.index);
      if (run.length >= size) flush();
    }
  }
  flush();
  return sections;
}
