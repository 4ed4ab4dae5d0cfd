import type { ModelIndex, NodeInfo, TensorInfo } from '../onnx/modelIndex';
import { DataType, dataTypeName } from '../tensor/dataType';
import type { SkippedRow } from '../transform/transformReport';
import type { QuantizedTensorRow } from './planQuantize';

/** A weight to quantize: how each node to rewrite reads it, and who else reads it. */
export interface QuantTarget<U> {
  tensor: TensorInfo;
  uses: U[];
  /** Nodes that read it otherwise: the float weight stays for them. */
  others: NodeInfo[];
  /** Lists the weight as left in float, once per use (the rows name the nodes). */
  skip(reason: string): void;
  /** The first fields of its report row: the weight, the ops and nodes that read it, its shape and type. */
  row: Pick<QuantizedTensorRow, 'name' | 'graph' | 'op' | 'nodes' | 'dims' | 'beforeDtype'>;
}

export interface QuantTargetOptions {
  /** Weights with fewer elements are left in float. */
  minElements: number;
  /** Weights, or nodes reading them, whose name matches are left in float. */
  exclude?: RegExp;
  /** When set, weights whose name (or a reading node's) does not match are left in float. */
  only?: RegExp;
}

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16]);

/**
 * The weights the weight-only quantizers (MatMulNBits, DequantizeLinear) take, one at a time in model
 * order: constant float32/float16 weights read at input 1 by a node `asUse` accepts. What `asUse` refuses
 * (a string says why) and weights that fail the common checks — `shape` (the caller's), --min-elements,
 * --exclude, inside a function body, also a graph input — go to `skipped` as they are met, so the rows
 * keep model order with the caller's own.
 */
export function* quantTargets<U extends { node: NodeInfo }>(
  index: ModelIndex,
  options: QuantTargetOptions,
  skipped: SkippedRow[],
  asUse: (node: NodeInfo, t: TensorInfo) => U | string | undefined,
  shape: (t: TensorInfo) => string | undefined,
): Generator<QuantTarget<U>> {
  const graphs = new Map(index.graphs.map((g) => [g.path, g]));
  const graphInputs = new Map(index.graphs.map((g) => [g.path, new Set(g.inputs.map((i) => i.name))]));
  const { minElements, exclude, only } = options;
  /** Why a weight read by `uses` stays in float, whatever the format. */
  const refused = (t: TensorInfo, uses: U[]): string | undefined => {
    if (!FLOAT_TYPES.has(t.dtype)) return `${t.name} is ${dataTypeName(t.dtype)}, not float32/float16`;
    const badShape = shape(t);
    if (badShape) return badShape;
    if (t.count < minElements) return `${t.name} has ${t.count} elements (< ${minElements})`;
    if (exclude && (exclude.test(t.name) || uses.some((u) => exclude.test(u.node.name))))
      return 'excluded by --exclude';
    if (only && !only.test(t.name) && !uses.some((u) => only.test(u.node.name)))
      return 'not matched by --only';
    const graph = graphs.get(t.graph);
    if (!graph || graph.kind === 'function') return `${t.name} lives in a function body`;
    if (t.where === 'initializer' && graphInputs.get(t.graph)?.has(t.name))
      return `${t.name} is also a graph input (the caller may override it)`;
    return undefined;
  };
  for (const t of index.tensors) {
    if (t.consumers.length === 0) continue;
    const uses: U[] = [];
    const others: NodeInfo[] = [];
    for (const c of t.consumers) {
      const node = index.nodes[c.nodeId];
      const use = c.input === 1 ? asUse(node, t) : undefined;
      if (typeof use === 'string')
        skipped.push({
          name: node.name || t.name,
          op: node.opType,
          reason: use,
          tensor: t.name,
          bytes: t.storedBytes,
        });
      if (use && typeof use !== 'string') uses.push(use);
      else others.push(node);
    }
    if (uses.length === 0 || t.role !== 'weight') continue;
    const skip = (reason: string) => {
      for (const u of uses)
        skipped.push({
          name: u.node.name || t.name,
          op: u.node.opType,
          reason,
          tensor: t.name,
          bytes: t.storedBytes,
        });
    };
    const why = refused(t, uses);
    if (why) {
      skip(why);
      continue;
    }
    const row = {
      name: t.name,
      graph: t.graph,
      op: [...new Set(uses.map((u) => u.node.opType))].join('+'),
      nodes: uses.map((u) => u.node.name || `#${u.node.id}`),
      dims: t.dims,
      beforeDtype: dataTypeName(t.dtype),
    };
    yield { tensor: t, uses, others, skip, row };
  }
}
