import type { GraphInfo, ModelIndex, ValueInfo } from '../onnx/modelIndex';
import { dataTypeName } from '../tensor/dataType';
import { findBlocks, findSections, type GraphBlock } from './findBlocks';

/** An operator node, or a pseudo-node for a graph input or output. */
export type GraphNodeKind = 'op' | 'input' | 'output';

/** A weight read by a node: drawn on the node, not as a node of its own. */
export interface GraphWeight {
  /** Tensor id in the model index (and in `inspect --json`'s tensors). */
  tensorId: number;
  name: string;
  /** The node's input slot that reads it. */
  input: number;
  dtype: string;
  dims: number[];
}

/** One box of the graph view. */
export interface GraphNode {
  /** Position in `GraphModel.nodes`. */
  index: number;
  kind: GraphNodeKind;
  /** Node id in the model index (op nodes only). */
  nodeId?: number;
  /** The node's name; for an unnamed node `OpType_<position>`; for inputs and outputs the value's name. */
  name: string;
  /** True when the ONNX node has a name of its own (so settings can match it). */
  named: boolean;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  weights: GraphWeight[];
  /** Paths of the subgraphs this node holds (If/Loop/Scan bodies). */
  subgraphs: string[];
  /** Index in `GraphModel.blocks` of the repeated block it belongs to. */
  block?: number;
  /**
   * A Constant node whose value is a learned weight: not drawn (the weight is shown on its consumers), but
   * listed; this is the index of the first consumer, which stands for it.
   */
  folded?: number;
}

/** A value flowing from one node to another. */
export interface GraphEdge {
  from: number;
  to: number;
  tensor: string;
  /** `1×128×768 float32`, when the shape is known from inputs, outputs or value_info. */
  shape?: string;
}

/** A graph other than the main one that can be shown on demand. */
export interface GraphChoice {
  path: string;
  label: string;
  kind: 'graph' | 'function';
  nodes: number;
}

/** The graph of one GraphProto or FunctionProto, ready to be laid out. */
export interface GraphModel {
  path: string;
  kind: 'graph' | 'function';
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Repeated blocks (transformer layers), then the sections of a big graph (family `section:`). */
  blocks: GraphBlock[];
  /** Operator nodes (the index's node count for this graph). */
  opCount: number;
  /** Every graph of the model (main, subgraphs, functions), for a picker. */
  graphs: GraphChoice[];
}

/** `1×128×768 float32` (`?` for an unknown dim, `N` kept for a symbolic one). */
export function formatShape(v: { dtype?: string; dims?: (number | string | null)[] }): string | undefined {
  if (!v.dims && !v.dtype) return undefined;
  const dims = v.dims
    ? v.dims.length
      ? v.dims.map((d) => (d === null ? '?' : String(d))).join('×')
      : 'scalar'
    : '';
  return [dims, v.dtype].filter(Boolean).join(' ');
}

function shapeOfValue(v: ValueInfo): string | undefined {
  return formatShape({ dtype: v.dtype !== undefined ? dataTypeName(v.dtype) : undefined, dims: v.shape });
}

/** The label of a graph in a picker: `main`, `If_3 then_branch`, `function com.x:Attention`. */
function choiceOf(index: ModelIndex, g: GraphInfo): GraphChoice {
  const label =
    g.path === 'main'
      ? 'main graph'
      : g.kind === 'function'
        ? `function ${g.path.replace(/^function:/, '')}`
        : g.path;
  return { path: g.path, label, kind: g.kind, nodes: g.nodeIds.length };
}

/**
 * The graph model of graph `path` (`main`, a subgraph path, or `function:domain:name`): every node of
 * that graph with its weights attached, the graph's inputs and outputs as nodes, an edge per consumer
 * of each produced value (labelled with its shape where the model records it), and the repeated blocks
 * found by name prefix. Values from an enclosing graph (subgraph bodies) have no producer here.
 */
export function buildGraph(index: ModelIndex, path = 'main'): GraphModel {
  const graph = index.graphs.find((g) => g.path === path);
  if (!graph) throw new Error(`the model has no graph ${path}`);
  const nodes: GraphNode[] = [];
  const producer = new Map<string, number>();
  const shapes = new Map<string, string>();
  for (const v of [...graph.inputs, ...graph.outputs, ...(graph.valueInfo ?? [])]) {
    const s = shapeOfValue(v);
    if (s) shapes.set(v.name, s);
  }
  // Weights visible from this graph: its own and those of the graphs around it (subgraphs read outer ones).
  const weights = new Map<string, number>();
  // Learned weights some exporters put in Constant nodes: the Constant node stays (it is a node of the
  // graph), and its weight is shown on the consumer too, so overlays and selection find it there.
  const constantWeights = new Map<string, number>();
  for (let g: GraphInfo | undefined = graph; g; ) {
    for (const id of g.tensorIds) {
      const t = index.tensors[id];
      if (t.where === 'constant' && t.role === 'weight' && !constantWeights.has(t.name))
        constantWeights.set(t.name, id);
      if (t.where !== 'constant' && !weights.has(t.name)) weights.set(t.name, id);
      else if (t.where === 'constant' && !shapes.has(t.name))
        shapes.set(t.name, formatShape({ dtype: dataTypeName(t.dtype), dims: t.dims })!);
    }
    const parent: number | undefined = g.parentNodeId;
    g = parent === undefined ? undefined : index.graphs.find((x) => x.path === index.nodes[parent].graph);
  }
  for (const [name, id] of weights) {
    const t = index.tensors[id];
    if (!shapes.has(name)) shapes.set(name, formatShape({ dtype: dataTypeName(t.dtype), dims: t.dims })!);
  }

  for (const v of graph.inputs) {
    if (weights.has(v.name)) continue; // IR < 4: initializers listed as inputs are weights, not inputs
    producer.set(v.name, nodes.length);
    nodes.push(pseudo(nodes.length, 'input', v.name));
  }
  let opCount = 0;
  for (const id of graph.nodeIds) {
    const n = index.nodes[id];
    const node: GraphNode = {
      index: nodes.length,
      kind: 'op',
      nodeId: id,
      name: n.name || `${n.opType}_${n.index}`,
      named: n.name !== '',
      opType: n.opType,
      domain: n.domain,
      inputs: n.inputs,
      outputs: n.outputs,
      weights: [],
      subgraphs: n.attributes.flatMap((a) => a.graphs ?? []),
    };
    n.inputs.forEach((input, slot) => {
      const tid = input ? (weights.get(input) ?? constantWeights.get(input)) : undefined;
      if (tid === undefined) return;
      const t = index.tensors[tid];
      node.weights.push({
        tensorId: tid,
        name: t.name,
        input: slot,
        dtype: dataTypeName(t.dtype),
        dims: t.dims,
      });
    });
    for (const out of n.outputs) if (out) producer.set(out, node.index);
    nodes.push(node);
    opCount++;
  }
  // Constant nodes that only hold a learned weight fold into their first consumer.
  const consumerOf = new Map<string, number>();
  for (const n of nodes)
    for (const w of n.weights) if (!consumerOf.has(w.name)) consumerOf.set(w.name, n.index);
  for (const n of nodes) {
    if (n.opType !== 'Constant' || n.domain !== '' || n.outputs.length !== 1) continue;
    const into = constantWeights.has(n.outputs[0]) ? consumerOf.get(n.outputs[0]) : undefined;
    if (into !== undefined) n.folded = into;
  }
  const outputStart = nodes.length;
  for (const v of graph.outputs) nodes.push(pseudo(nodes.length, 'output', v.name));

  const edges: GraphEdge[] = [];
  for (const node of nodes) {
    const reads = node.kind === 'output' ? [node.name] : node.kind === 'op' ? node.inputs : [];
    const seen = new Set<string>();
    for (const input of reads) {
      if (!input || seen.has(input) || (node.kind === 'op' && weights.has(input))) continue;
      seen.add(input);
      const from = producer.get(input);
      if (from === undefined || from === node.index) continue;
      edges.push({ from, to: node.index, tensor: input, shape: shapes.get(input) });
    }
  }
  const found = findBlocks(nodes.slice(0, outputStart));
  const blocks = [...found, ...findSections(nodes.slice(0, outputStart), found)];
  for (const b of blocks) for (const i of b.nodes) nodes[i].block = b.index;
  return {
    path,
    kind: graph.kind,
    nodes,
    edges,
    blocks,
    opCount,
    graphs: index.graphs.map((g) => choiceOf(index, g)),
  };
}

function pseudo(index: number, kind: 'input' | 'output', name: string): GraphNode {
  return {
    index,
    kind,
    name,
    named: true,
    opType: kind === 'input' ? 'Input' : 'Output',
    domain: '',
    inputs: [],
    outputs: [],
    weights: [],
    subgraphs: [],
  };
}
