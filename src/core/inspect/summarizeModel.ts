import { dataTypeName } from '../tensor/dataType';
import type { ModelIndex, NodeInfo, TensorInfo, ValueInfo } from '../onnx/modelIndex';
import { parameterCount, storedTypeName } from './storedCodes';
import type { FileSummary, InspectReport, IoSummary, TensorSummary } from './inspectReport';

/** The input of each op that holds already-quantized weight codes. */
const QUANTIZED_CODE_SLOT: Record<string, number> = {
  DequantizeLinear: 0,
  MatMulNBits: 1,
  MatMulInteger: 1,
  ConvInteger: 1,
  QLinearMatMul: 3,
  QLinearConv: 3,
  QGemm: 3,
  DynamicQuantizeMatMul: 1,
};

/** The overview and the tensor table of a model, straight from its index (no tensor is read). */
export function summarizeModel(index: ModelIndex, file: FileSummary): InspectReport {
  const main = index.graphs.find((g) => g.path === 'main');
  const mainInitializers = new Set(index.tensors.filter((t) => t.graph === 'main').map((t) => t.name));
  const ops: Record<string, number> = {};
  for (const n of index.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  const byDtype: InspectReport['model']['byDtype'] = {};
  let parameters = 0;
  let weightBytes = 0;
  let quantizedParameters = 0;
  let sparseParameters = 0;
  for (const t of index.tensors) {
    if (t.role !== 'weight') continue;
    // Weights, not stored elements: packed 4-bit codes count one each, scales and zero points none.
    const count = parameterCount(index, t);
    parameters += count;
    weightBytes += t.storedBytes;
    const d = (byDtype[storedTypeName(index, t)] ??= { tensors: 0, parameters: 0, bytes: 0 });
    d.tensors++;
    d.parameters += count;
    d.bytes += t.storedBytes;
    if (t.consumers.some((c) => QUANTIZED_CODE_SLOT[index.nodes[c.nodeId].opType] === c.input))
      quantizedParameters += count;
    if (t.sparse) sparseParameters += count;
  }
  const opsets: Record<string, number> = {};
  for (const o of index.opsets) opsets[o.domain || 'ai.onnx'] = o.version;
  return {
    file,
    model: {
      irVersion: index.irVersion,
      producerName: index.producerName,
      producerVersion: index.producerVersion,
      opsets,
      // IR < 4 models list initializers among the inputs too: those are not inputs a user feeds.
      inputs: (main?.inputs ?? []).filter((i) => !mainInitializers.has(i.name)).map(io),
      outputs: (main?.outputs ?? []).map(io),
      nodeCount: index.nodes.length,
      ops,
      parameters,
      weightBytes,
      metadata: Object.fromEntries(index.metadata.map((m) => [m.key, m.value])),
      graphs: index.graphs.map((g) => g.path),
      byDtype,
      quantizedParameters,
      sparseParameters,
    },
    tensors: index.tensors.map((t) => summarizeTensor(t, index)),
  };
}

/** A node's display name: its own, or op type and position when the exporter left it empty. */
export function nodeLabel(node: NodeInfo): string {
  return node.name || `${node.opType}#${node.index}`;
}

function summarizeTensor(t: TensorInfo, index: ModelIndex): TensorSummary {
  const nodes = index.nodes;
  return {
    id: t.id,
    name: t.name,
    dtype: dataTypeName(t.dtype),
    dims: t.dims,
    where: t.where,
    graph: t.graph,
    storage: t.storage,
    bytes: t.storedBytes,
    consumers: t.consumers.map((c) => nodeLabel(nodes[c.nodeId])),
    consumerOps: t.consumers.map((c) => nodes[c.nodeId].opType),
    learned: t.role === 'weight',
    role: t.role,
    parameters: t.role === 'weight' ? parameterCount(index, t) : 0,
  };
}

function io(v: ValueInfo): IoSummary {
  const dtype = v.kind === 'tensor' || v.kind === 'sparse_tensor' ? dataTypeName(v.dtype ?? 0) : v.kind;
  return { name: v.name, dtype, shape: v.shape ?? null };
}
