import type { GraphInfo, ModelIndex, NodeInfo, TensorInfo, ValueInfo } from '../onnx/modelIndex';

/** Lookups over the main graph that the compaction matchers walk (findUnitGroups, findHeadBlocks). */
export interface GraphTables {
  main: GraphInfo;
  /** The node that makes each value. */
  producer: Map<string, NodeInfo>;
  /** The ids of the nodes (any graph) that read each value. */
  readers: Map<string, number[]>;
  /** The main graph's dense constant tensors by name. */
  constants: Map<string, TensorInfo>;
  inputs: Map<string, ValueInfo>;
  outputs: Set<string>;
}

/** Builds the main graph's lookups once per matcher run. */
export function graphTables(index: ModelIndex): GraphTables {
  const main = index.graphs[0];
  const producer = new Map<string, NodeInfo>();
  for (const id of main.nodeIds) for (const o of index.nodes[id].outputs) producer.set(o, index.nodes[id]);
  const readers = new Map<string, number[]>();
  for (const n of index.nodes)
    for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n.id]);
  const constants = new Map<string, TensorInfo>();
  for (const t of index.tensors)
    if (t.graph === 'main' && t.where !== 'sparse_initializer') constants.set(t.name, t);
  return {
    main,
    producer,
    readers,
    constants,
    inputs: new Map(main.inputs.map((i) => [i.name, i])),
    outputs: new Set(main.outputs.map((o) => o.name)),
  };
}
