import { DataType, isFloatType } from '../tensor/dataType';
import type { Consumer, GraphInfo, ModelIndex, NodeInfo, TensorInfo, TensorRole } from './modelIndex';

/**
 * Input slots that hold learned parameters, per op type ('*' = every slot). A float tensor read at one
 * of these is a weight; the same tensor read only as a shape, an axis list or a scalar is not.
 */
const WEIGHT_SLOTS: Record<string, number[] | '*'> = {
  MatMul: [0, 1],
  Gemm: [0, 1, 2],
  Conv: [1, 2],
  ConvTranspose: [1, 2],
  ConvInteger: [1],
  MatMulInteger: [1],
  LSTM: [1, 2, 3],
  GRU: [1, 2, 3],
  RNN: [1, 2, 3],
  Gather: [0],
  GatherND: [0],
  Einsum: '*',
  LayerNormalization: [1, 2],
  SimplifiedLayerNormalization: [1],
  SkipLayerNormalization: [2, 3, 4],
  SkipSimplifiedLayerNormalization: [2, 3],
  BatchNormalization: [1, 2, 3, 4],
  InstanceNormalization: [1, 2],
  GroupNormalization: [1, 2],
  PRelu: [1],
  Attention: [1, 2],
  MultiHeadAttention: [3],
  EmbedLayerNormalization: [2, 3, 4, 5, 6],
  FusedMatMul: [0, 1],
  FusedConv: [1, 2],
  BiasGelu: [1],
  FastGelu: [1],
  BiasAdd: [1, 2],
  MatMulNBits: [1, 2, 3, 5],
  DequantizeLinear: [0],
  QLinearMatMul: [3],
  QLinearConv: [3, 8],
  QGemm: [3],
  DynamicQuantizeMatMul: [1],
  Add: '*',
  Sub: '*',
  Mul: '*',
  Div: '*',
  // Layout ops applied to a weight before its real consumer (Transpose → MatMul in old exports).
  Transpose: [0],
  Reshape: [0],
  Cast: [0],
  Squeeze: [0],
  Unsqueeze: [0],
  Identity: [0],
};

/** Elementwise and layout ops count as weight readers only for tensors at least this large (biases, scales). */
const ELEMENTWISE = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Einsum',
  'Transpose',
  'Reshape',
  'Cast',
  'Squeeze',
  'Unsqueeze',
  'Identity',
]);
const MIN_ELEMENTWISE_WEIGHT = 16;
/** Integer codes read by these slots are quantized weights. */
const QUANTIZED_CODE_SLOTS: Record<string, number[]> = {
  DequantizeLinear: [0],
  MatMulNBits: [1],
  MatMulInteger: [1],
  ConvInteger: [1],
  QLinearMatMul: [3],
  QLinearConv: [3],
  QGemm: [3],
  DynamicQuantizeMatMul: [1],
  Gather: [0],
};
const CODE_TYPES = new Set<number>([
  DataType.INT8,
  DataType.UINT8,
  DataType.INT4,
  DataType.UINT4,
  DataType.INT16,
  DataType.UINT16,
]);

/**
 * Fills each tensor's consumers (resolving names through enclosing graphs) and its role. A float tensor
 * read only through Slice/Split/Concat/Transpose/Reshape/… on its way to a layer's weight input is a
 * learned weight too.
 */
export function analyzeTensors(model: ModelIndex): void {
  const graphs = new Map(model.graphs.map((g) => [g.path, g]));
  const byGraph = new Map<string, Map<string, TensorInfo>>();
  for (const t of model.tensors) {
    let names = byGraph.get(t.graph);
    if (!names) byGraph.set(t.graph, (names = new Map()));
    names.set(t.name, t);
  }
  const inputNames = new Map(model.graphs.map((g) => [g.path, new Set(g.inputs.map((i) => i.name))]));

  const resolve = (name: string, graph: GraphInfo): TensorInfo | undefined => {
    for (let g: GraphInfo | undefined = graph; g; ) {
      const found = byGraph.get(g.path)?.get(name);
      if (found) return found;
      // A subgraph input shadows outer names; the main graph's inputs may repeat initializer names (IR < 4).
      if (inputNames.get(g.path)?.has(name)) return undefined;
      if (g.parentNodeId === undefined) return undefined;
      g = graphs.get(model.nodes[g.parentNodeId].graph);
    }
    return undefined;
  };

  for (const node of model.nodes) {
    const graph = graphs.get(node.graph);
    if (!graph) continue;
    node.inputs.forEach((name, input) => {
      if (!name) return;
      const tensor = resolve(name, graph);
      if (tensor) tensor.consumers.push({ nodeId: node.id, input });
    });
  }
  const producers = new Map<string, string>();
  for (const n of model.nodes) for (const o of n.outputs) producers.set(o, n.opType);
  const readers = valueReaders(model);
  for (const t of model.tensors) {
    t.role = roleOf(t, model.nodes, producers);
    if (t.role === 'constant' && t.count > 1 && readsThroughToLayer(t, model.nodes, readers))
      t.role = 'weight';
  }
}

/**
 * Ops that pass (part of) a tensor on unchanged, and the inputs they pass: exporters split an LSTM's or a
 * fused projection's weight with Slice/Split and reorder it with Concat, Transpose or Reshape before the
 * op that learns it (PyTorch's LSTMCell → ONNX LSTM reorders the gates that way).
 */
const PASS_THROUGH: Record<string, number[] | '*'> = {
  Slice: [0],
  Split: [0],
  Squeeze: [0],
  Unsqueeze: [0],
  Transpose: [0],
  Reshape: [0],
  Flatten: [0],
  Identity: [0],
  Cast: [0],
  Concat: '*',
};
/** How many pass-through ops deep a weight is followed. */
const MAX_PASS_DEPTH = 8;

/** Node input slots that read each value name, per graph (a subgraph may read an outer value too). */
function valueReaders(model: ModelIndex): Map<string, Consumer[]> {
  const readers = new Map<string, Consumer[]>();
  for (const node of model.nodes) {
    node.inputs.forEach((name, input) => {
      if (!name) return;
      let list = readers.get(name);
      if (!list) readers.set(name, (list = []));
      list.push({ nodeId: node.id, input });
    });
  }
  return readers;
}

/**
 * Whether a float tensor reaches a layer's weight slot (MatMul, Gemm, Conv, LSTM … as WEIGHT_SLOTS says,
 * elementwise ops aside) through pass-through ops only.
 */
function readsThroughToLayer(
  tensor: TensorInfo,
  nodes: NodeInfo[],
  readers: Map<string, Consumer[]>,
): boolean {
  if (!isFloatType(tensor.dtype)) return false;
  const seen = new Set<number>();
  const reaches = (consumers: readonly Consumer[], depth: number): boolean => {
    for (const { nodeId, input } of consumers) {
      const node = nodes[nodeId];
      const slots = WEIGHT_SLOTS[node.opType];
      if (depth > 0 && slots && !ELEMENTWISE.has(node.opType) && (slots === '*' || slots.includes(input)))
        return true;
      const pass = PASS_THROUGH[node.opType];
      if (!pass || (pass !== '*' && !pass.includes(input)) || depth >= MAX_PASS_DEPTH) continue;
      if (seen.has(nodeId)) continue;
      seen.add(nodeId);
      for (const out of node.outputs) {
        const next = readers.get(out);
        if (next && reaches(next, depth + 1)) return true;
      }
    }
    return false;
  };
  return reaches(tensor.consumers, 0);
}

/** Ops whose output a following Add/Mul with a constant turns into a bias or a scale of a layer. */
const LAYER_OPS = new Set([
  'MatMul',
  'Gemm',
  'Conv',
  'ConvTranspose',
  'FusedMatMul',
  'MatMulNBits',
  'Einsum',
]);

function roleOf(tensor: TensorInfo, nodes: NodeInfo[], producers: Map<string, string>): TensorRole {
  const float = isFloatType(tensor.dtype);
  const codes = CODE_TYPES.has(tensor.dtype);
  if (!float && !codes) return 'shape';
  for (const { nodeId, input } of tensor.consumers) {
    const op = nodes[nodeId].opType;
    if (codes) {
      if (QUANTIZED_CODE_SLOTS[op]?.includes(input)) return 'weight';
      continue;
    }
    const slots = WEIGHT_SLOTS[op];
    if (!slots || (slots !== '*' && !slots.includes(input))) continue;
    if (!ELEMENTWISE.has(op)) {
      if (tensor.count > 1) return 'weight';
      continue;
    }
    if (tensor.count >= MIN_ELEMENTWISE_WEIGHT) return 'weight';
    // A small bias still is one when it is added to a layer's output (MatMul + Add exports of Linear).
    const other = nodes[nodeId].inputs[1 - input];
    if (tensor.count > 1 && input < 2 && other !== undefined && LAYER_OPS.has(producers.get(other) ?? ''))
      return 'weight';
  }
  return 'constant';
}
