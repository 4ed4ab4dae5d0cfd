import type { AttributeInfo, ModelIndex, NodeInfo } from '../onnx/modelIndex';

/** Nodes of A paired with nodes of B (ids), and the nodes left alone on each side. */
export interface NodeMatch {
  aToB: Map<number, number>;
  bToA: Map<number, number>;
}

/** Ops that compute the same layer in different forms (a quantizer rewrites one into another). */
const OP_CLASS: Record<string, string> = {
  MatMul: 'matmul',
  Gemm: 'matmul',
  MatMulNBits: 'matmul',
  MatMulInteger: 'matmul',
  QLinearMatMul: 'matmul',
  FusedMatMul: 'matmul',
  Conv: 'conv',
  ConvInteger: 'conv',
  QLinearConv: 'conv',
};

const opClass = (n: NodeInfo) => OP_CLASS[n.opType] ?? `${n.domain}::${n.opType}`;

/**
 * Pairs the nodes of two models graph by graph: first by node name (when unique on both sides), then by
 * first output among nodes of the same kind (a rewrite keeps the value it produces, so the graph downstream still reads it), then in
 * order among the nodes left that compute the same kind of layer (MatMul, Gemm and MatMulNBits are one
 * kind). What stays unpaired was added or removed.
 */
export function matchNodes(a: ModelIndex, b: ModelIndex): NodeMatch {
  const aToB = new Map<number, number>();
  const bToA = new Map<number, number>();
  const pair = (x: NodeInfo, y: NodeInfo) => {
    aToB.set(x.id, y.id);
    bToA.set(y.id, x.id);
  };
  const byGraph = (index: ModelIndex) => {
    const m = new Map<string, NodeInfo[]>();
    for (const n of index.nodes) {
      let list = m.get(n.graph);
      if (!list) m.set(n.graph, (list = []));
      list.push(n);
    }
    return m;
  };
  const graphsA = byGraph(a);
  const graphsB = byGraph(b);
  for (const [graph, nodesA] of graphsA) {
    const nodesB = graphsB.get(graph);
    if (!nodesB) continue;
    for (const key of [(n: NodeInfo) => n.name, (n: NodeInfo) => `${opClass(n)}\0${n.outputs[0] ?? ''}`]) {
      const left = uniqueBy(
        nodesA.filter((n) => !aToB.has(n.id)),
        key,
      );
      const right = uniqueBy(
        nodesB.filter((n) => !bToA.has(n.id)),
        key,
      );
      for (const [k, x] of left) {
        const y = right.get(k);
        if (y) pair(x, y);
      }
    }
    const restB = new Map<string, NodeInfo[]>();
    for (const n of nodesB) {
      if (bToA.has(n.id)) continue;
      let list = restB.get(opClass(n));
      if (!list) restB.set(opClass(n), (list = []));
      list.push(n);
    }
    for (const n of nodesA) {
      if (aToB.has(n.id)) continue;
      const y = restB.get(opClass(n))?.shift();
      if (y) pair(n, y);
    }
  }
  return { aToB, bToA };
}

/** Non-empty keys held by exactly one node. */
function uniqueBy(nodes: NodeInfo[], key: (n: NodeInfo) => string): Map<string, NodeInfo> {
  const out = new Map<string, NodeInfo>();
  const seen = new Set<string>();
  for (const n of nodes) {
    const k = key(n);
    if (!k) continue;
    if (seen.has(k)) out.delete(k);
    else out.set(k, n);
    seen.add(k);
  }
  return out;
}

/** Names of the attributes whose values differ between two nodes (subgraphs and tensors are compared elsewhere). */
export function changedAttributes(x: NodeInfo, y: NodeInfo): string[] {
  const value = (attr: AttributeInfo | undefined) =>
    attr === undefined
      ? undefined
      : JSON.stringify([attr.type, attr.f, attr.i, attr.s, attr.floats, attr.ints, attr.strings]);
  const names = new Set([...x.attributes.map((t) => t.name), ...y.attributes.map((t) => t.name)]);
  return [...names].filter(
    (name) =>
      value(x.attributes.find((t) => t.name === name)) !== value(y.attributes.find((t) => t.name === name)),
  );
}
