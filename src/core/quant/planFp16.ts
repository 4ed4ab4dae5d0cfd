import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex } from '../onnx/modelIndex';
import { DataType, rawByteLength } from '../tensor/dataType';
import { decodeFloat16, encodeFloat16 } from '../tensor/float16';
import { emptyPlan } from '../transform/transformPlan';
import { uniqueName, usedNames } from '../write/newNames';
import type { NewNode } from '../write/protoEncode';
import { type QuantizePlan, readFloat32, type TensorSink } from './planQuantize';
import { sqnrDb } from './quantizeBlockwise';

/** What to store as float16. */
export interface Fp16Options {
  /** Weights whose name matches stay float32. */
  exclude?: RegExp;
  /** Weights with fewer elements stay float32 (default 64: below that the Cast costs more than it saves). */
  minElements: number;
}

export const DEFAULT_FP16_OPTIONS: Fp16Options = { minElements: 64 };

/** float16's largest finite value. */
const FP16_MAX = 65504;

/**
 * Plans float16 storage of float32 weights: each learned float32 weight (role `weight`, wherever it lives:
 * initializer, Constant node, subgraph) becomes a float16 initializer `<name>_fp16` and a `Cast(to=FLOAT)`
 * at the start of its graph produces the original name, so every reader, the model's inputs and outputs
 * and its opset stay as they were (ONNX Runtime folds the Cast at load: the file halves, the session
 * computes in float32 with the rounded weights). Rounding is to nearest even (numpy's astype). Weights
 * with a value beyond float16's range (±65504) stay float32, as do shape tables, fixed constants, graph
 * inputs and tiny tensors.
 */
export function planFp16(
  index: ModelIndex,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  options: Fp16Options = DEFAULT_FP16_OPTIONS,
  sink: TensorSink = (bytes) => bytes,
): QuantizePlan {
  const plan: QuantizePlan = emptyPlan();
  const names = usedNames(index);
  const graphs = new Map(index.graphs.map((g) => [g.path, g]));
  const graphInputs = new Map(index.graphs.map((g) => [g.path, new Set(g.inputs.map((i) => i.name))]));
  const casts = new Map<string, NewNode[]>();
  let underflow = 0;

  for (const t of index.tensors) {
    if (t.role !== 'weight' || t.dtype !== DataType.FLOAT || t.consumers.length === 0) continue;
    const op = [...new Set(t.consumers.map((c) => index.nodes[c.nodeId].opType))].join('+');
    const skip = (reason: string) => plan.skipped.push({ name: t.name, op, reason });
    if (t.sparse) {
      skip('sparse initializer');
      continue;
    }
    if (t.count < options.minElements) {
      skip(`${t.count} elements (< ${options.minElements}): the Cast would cost more than it saves`);
      continue;
    }
    if (options.exclude?.test(t.name)) {
      skip('excluded by --exclude');
      continue;
    }
    if (graphs.get(t.graph)?.kind !== 'graph') {
      skip('lives in a function body');
      continue;
    }
    if (t.where === 'initializer' && graphInputs.get(t.graph)?.has(t.name)) {
      skip('also a graph input (the caller may override it)');
      continue;
    }
    const values = readFloat32(t, source, resolveExternal);
    if (!values) {
      skip('holds NaN or infinite values');
      continue;
    }
    let max = 0;
    for (let i = 0; i < values.length; i++) {
      const a = Math.abs(values[i]);
      if (a > max) max = a;
    }
    if (max > FP16_MAX) {
      skip(`|values| up to ${max.toPrecision(4)}, beyond float16's ±65504`);
      continue;
    }
    const half = encodeFloat16(values);
    const back = decodeFloat16(half);
    let signal = 0;
    let error = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      const d = v - back[i];
      signal += v * v;
      error += d * d;
      if (v !== 0 && back[i] === 0) underflow++;
    }
    const name = uniqueName(names, `${t.name}_fp16`);
    plan.edits.push(
      {
        kind: 'addTensor',
        graph: t.graph,
        name,
        tensor: {
          dtype: DataType.FLOAT16,
          dims: t.dims,
          data: sink(new Uint8Array(half.buffer, half.byteOffset, half.byteLength)),
        },
      },
      { kind: 'removeTensor', tensorId: t.id },
    );
    const cast = uniqueName(names, `${t.name}_Cast`);
    const list = casts.get(t.graph) ?? [];
    list.push({
      opType: 'Cast',
      name: cast,
      inputs: [name],
      outputs: [t.name],
      attributes: [{ name: 'to', i: DataType.FLOAT }],
    });
    casts.set(t.graph, list);
    plan.nodes.push({
      node: cast,
      graph: t.graph,
      from: t.where === 'constant' ? 'Constant' : 'initializer',
      to: 'Cast',
      weight: t.name,
      note: `float16 ${name} → float32 ${t.name} (folded by ONNX Runtime at load)`,
    });
    plan.tensors.push({
      name: t.name,
      graph: t.graph,
      op,
      nodes: t.consumers.map((c) => index.nodes[c.nodeId].name || `#${c.nodeId}`),
      dims: t.dims,
      beforeDtype: 'float32',
      afterDtype: 'float16 (+ Cast to float32)',
      beforeBytes: rawByteLength(DataType.FLOAT, t.count),
      afterBytes: rawByteLength(DataType.FLOAT16, t.count),
      weightSqnrDb: Number.isFinite(sqnrDb(signal, error))
        ? Math.round(sqnrDb(signal, error) * 1000) / 1000
        : Infinity,
      removed: true,
    });
  }
  for (const [graph, nodes] of casts) {
    plan.edits.push({ kind: 'insertNodes', graph, beforeNodeId: graphs.get(graph)!.nodeIds[0], nodes });
  }
  if (underflow > 0) {
    plan.warnings.push(
      `${underflow} nonzero weight values are below float16's smallest subnormal and became 0`,
    );
  }
  return plan;
}
