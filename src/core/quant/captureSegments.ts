import type { ModelIndex } from '../onnx/modelIndex';
import { DataType } from '../tensor/dataType';
import type { Edit } from '../write/planWrite';

/** One part of the main graph that runs alone during a block-by-block calibration. */
export interface CaptureSegment {
  /** Main-graph node ids this part runs, in graph order. */
  nodeIds: number[];
  /** Values earlier parts made that its nodes read: fed from the values kept between parts. */
  inputs: string[];
  /** Values its nodes make that later parts, or this group's capture, need: fetched. */
  outputs: string[];
  /** The outputs later parts need: kept (the others are dropped after each batch). */
  kept: string[];
  /** The group's activations, in the group's order (from this part's outputs, the kept values or the feeds). */
  captures: string[];
  /** Kept values nothing after this part needs: dropped once it ran. */
  release: string[];
  /** Initializers no node of this part reads: left out of its model. */
  unusedTensorIds: number[];
}

/** Each value a main-graph node makes, with that node's position in the graph. */
function producerPositions(index: ModelIndex): Map<string, number> {
  const at = new Map<string, number>();
  index.graphs[0].nodeIds.forEach((id, i) => index.nodes[id].outputs.forEach((o) => o && at.set(o, i)));
  return at;
}

/**
 * `targets` sorted by where the main graph makes each (graph inputs and anything unmade first), so groups
 * taken in this order are cut into parts that each run a stretch of the graph once.
 */
export function inGraphOrder<T extends { name: string }>(index: ModelIndex, targets: readonly T[]): T[] {
  const at = producerPositions(index);
  return [...targets].sort((a, b) => (at.get(a.name) ?? -1) - (at.get(b.name) ?? -1));
}

/**
 * Cuts the main graph into one part per group of activations, so a calibration runs the model part by
 * part — each part loaded alone, every batch run through it, its outputs kept for the next — instead of
 * running the whole model once per group. Part k ends with the last node that makes an activation of
 * groups 0…k (graph order is topological in ONNX), so the nodes after the last activation never run.
 * Returns why not when the graph cannot be cut: a main-graph node with a subgraph (If, Loop, Scan) may
 * read any earlier value without naming it as an input.
 */
export function planCaptureSegments(
  index: ModelIndex,
  groups: readonly (readonly string[])[],
): CaptureSegment[] | string {
  const main = index.graphs[0];
  const order = main.nodeIds.map((id) => index.nodes[id]);
  const withSubgraph = order.find((n) => n.attributes.some((a) => a.graphs?.length));
  if (withSubgraph)
    return `${withSubgraph.opType} node ${withSubgraph.name || withSubgraph.id} holds a subgraph`;
  const producedAt = producerPositions(index);

  // Part k runs positions (cuts[k-1], cuts[k]].
  const cuts: number[] = [];
  for (const group of groups) {
    const last = Math.max(-1, ...group.map((a) => producedAt.get(a) ?? -1));
    cuts.push(Math.max(last, cuts.at(-1) ?? -1));
  }
  const partOf = (position: number) => cuts.findIndex((c) => position <= c);

  // The last part that needs each value made by a node: a reader in a later part, or a capture.
  const lastUse = new Map<string, number>();
  const need = (name: string, part: number) => {
    const at = producedAt.get(name);
    if (at === undefined || partOf(at) >= part) return;
    lastUse.set(name, Math.max(lastUse.get(name) ?? -1, part));
  };
  const segments: CaptureSegment[] = groups.map((group, k) => ({
    nodeIds: order.slice((cuts[k - 1] ?? -1) + 1, cuts[k] + 1).map((n) => n.id),
    inputs: [],
    outputs: [],
    kept: [],
    captures: [...group],
    release: [],
    unusedTensorIds: [],
  }));
  segments.forEach((s, k) => {
    for (const id of s.nodeIds) for (const i of index.nodes[id].inputs) if (i) need(i, k);
    for (const a of s.captures) need(a, k);
  });
  const inputs = segments.map(() => new Set<string>());
  const outputs = segments.map(() => new Set<string>());
  for (const [name, last] of lastUse) {
    const made = partOf(producedAt.get(name)!);
    outputs[made].add(name);
    segments[made].kept.push(name);
    segments[last].release.push(name);
    for (let k = made + 1; k <= last; k++)
      if (segments[k].nodeIds.some((id) => index.nodes[id].inputs.includes(name))) inputs[k].add(name);
  }
  // A capture made in its own part is fetched there (it may be needed by nothing else).
  segments.forEach((s, k) => {
    for (const a of s.captures) {
      const at = producedAt.get(a);
      if (at !== undefined && partOf(at) === k) outputs[k].add(a);
    }
  });

  // Initializers each part's nodes read; a graph input of the same name (old exporters) stays.
  const declared = new Set(main.inputs.map((i) => i.name));
  const initializers = main.tensorIds
    .map((id) => index.tensors[id])
    .filter((t) => t.nodeId === undefined && !declared.has(t.name));
  segments.forEach((s, k) => {
    s.inputs = [...inputs[k]];
    s.outputs = [...outputs[k]];
    const read = new Set(s.nodeIds.flatMap((id) => index.nodes[id].inputs));
    s.unusedTensorIds = initializers.filter((t) => !read.has(t.name)).map((t) => t.id);
  });
  return segments;
}

/** The names under which a part of the model answers XᵀX of activation `name` and its rows. */
export function gramOutputs(name: string): { gram: string; shape: string } {
  return { gram: `${name}/big_shrink_xtx`, shape: `${name}/big_shrink_rows` };
}

/**
 * Edits that make a model compute XᵀX of activation `name` (rows of K values, float32 or float16) itself:
 * Reshape to [rows, K] (float16 cast to float32 first), Transpose, MatMul → [K, K] float32, and the
 * [rows, K] shape — onnxruntime's GEMM does in one call what a loop over rows would in JavaScript.
 */
export function gramEdits(graph: string, name: string, K: number, elemType: number): Edit[] {
  const out = gramOutputs(name);
  const p = (s: string) => `${name}/big_shrink_${s}`;
  const shape = new Uint8Array(new BigInt64Array([-1n, BigInt(K)]).buffer);
  const x = elemType === DataType.FLOAT16 ? p('f32') : name;
  return [
    { kind: 'addTensor', graph, name: p('dims'), tensor: { dtype: DataType.INT64, dims: [2], data: shape } },
    {
      kind: 'insertNodes',
      graph,
      nodes: [
        ...(x === name
          ? []
          : [{ opType: 'Cast', inputs: [name], outputs: [x], attributes: [{ name: 'to', i: 1 }] }]),
        { opType: 'Reshape', inputs: [x, p('dims')], outputs: [p('rows2d')] },
        { opType: 'Transpose', inputs: [p('rows2d')], outputs: [p('t')] },
        { opType: 'MatMul', inputs: [p('t'), p('rows2d')], outputs: [out.gram] },
        { opType: 'Shape', inputs: [p('rows2d')], outputs: [out.shape] },
      ],
    },
  ];
}
