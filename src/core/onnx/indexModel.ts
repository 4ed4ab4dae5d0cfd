import type { ByteSource } from '../io/byteSource';
import { FormatError } from '../errors';
import { DataType, rawByteLength } from '../tensor/dataType';
import { FieldHeader, WireReader, WireType } from './wireReader';
import { analyzeTensors } from './analyzeTensors';
import {
  type NamedTensorPart,
  readKeyValue,
  readSparseTensorProto,
  readTensorProto,
  type SparseTensorPart,
  span,
  storageOf,
  storedBytes,
} from './readTensorProto';
import { plainFormatError } from './plainFormatError';
import { readValueInfo } from './readValueInfo';
import type {
  AttributeInfo,
  FieldSpan,
  GraphInfo,
  ModelIndex,
  NodeInfo,
  TensorInfo,
  TensorPart,
} from './modelIndex';

export interface IndexOptions {
  /** Deepest subgraph nesting accepted (If inside Loop inside …). */
  maxGraphDepth?: number;
  /** Largest element count a tensor may declare. */
  maxElements?: number;
}

const DEFAULT_MAX_DEPTH = 64;
/** 2^48 elements: far beyond any real tensor, well inside exact Number arithmetic. */
const DEFAULT_MAX_ELEMENTS = 2 ** 48;

// Field numbers (onnx.proto3).
const M = {
  irVersion: 1,
  producerName: 2,
  producerVersion: 3,
  domain: 4,
  modelVersion: 5,
  docString: 6,
  graph: 7,
  opset: 8,
  metadata: 14,
  functions: 25,
};
const G = { node: 1, name: 2, initializer: 5, input: 11, output: 12, valueInfo: 13, sparseInitializer: 15 };
const N = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 };
const A = {
  name: 1,
  f: 2,
  i: 3,
  s: 4,
  t: 5,
  g: 6,
  floats: 7,
  ints: 8,
  strings: 9,
  tensors: 10,
  graphs: 11,
  type: 20,
  sparseTensor: 22,
  sparseTensors: 23,
};
const F = { name: 1, input: 4, output: 5, node: 7, opset: 9, domain: 10 };

/**
 * Scans an ONNX ModelProto once and records its header, every graph, node and weight tensor with the
 * byte ranges where they live. Tensor payloads are located, never read. Throws FormatError on bad input.
 */
export function indexModel(source: ByteSource, options: IndexOptions = {}): ModelIndex {
  const indexer = new Indexer(source, options);
  try {
    return indexer.run();
  } catch (e) {
    // Plain words first ("not an ONNX model", "truncated"), the scanner's detail after.
    if (e instanceof FormatError) throw plainFormatError(e, source, indexer.startsLikeOnnx);
    throw e;
  }
}

class Indexer {
  private readonly r: WireReader;
  private readonly maxDepth: number;
  private readonly maxElements: number;
  private readonly model: ModelIndex;

  /** An IR version was read at the top level: the file starts as a model does. */
  get startsLikeOnnx(): boolean {
    return this.model.irVersion > 0 && this.model.irVersion <= 1000;
  }

  constructor(source: ByteSource, options: IndexOptions) {
    this.r = new WireReader(source);
    this.maxDepth = options.maxGraphDepth ?? DEFAULT_MAX_DEPTH;
    this.maxElements = options.maxElements ?? DEFAULT_MAX_ELEMENTS;
    this.model = {
      size: source.size,
      irVersion: 0,
      producerName: '',
      producerVersion: '',
      domain: '',
      modelVersion: 0,
      docString: '',
      opsets: [],
      metadata: [],
      graphs: [],
      nodes: [],
      tensors: [],
      externalLocations: [],
    };
  }

  run(): ModelIndex {
    const { r, model } = this;
    if (r.size === 0) throw new FormatError('the file is empty');
    let graphField: FieldHeader | undefined;
    const functions: FieldHeader[] = [];
    r.fields(0, r.size, (h) => {
      switch (h.field) {
        case M.irVersion:
          model.irVersion = r.int(h);
          model.irVersionField = { start: h.start, end: h.end };
          break;
        case M.producerName:
          model.producerName = r.string(h);
          break;
        case M.producerVersion:
          model.producerVersion = r.string(h);
          break;
        case M.domain:
          model.domain = r.string(h);
          break;
        case M.modelVersion:
          model.modelVersion = r.int(h);
          break;
        case M.docString:
          model.docString = r.string(h);
          break;
        case M.opset:
          model.opsets.push(this.opset(h));
          break;
        case M.metadata:
          model.metadata.push(readKeyValue(this.r, h));
          break;
        case M.graph:
          r.expect(h, WireType.LEN);
          if (graphField) throw new FormatError('the model has two graphs', h.start);
          graphField = h;
          break;
        case M.functions:
          r.expect(h, WireType.LEN);
          functions.push(h);
          break;
      }
    });
    if (!graphField) throw new FormatError('not an ONNX model (no graph: ModelProto field 7 is missing)');
    if (!this.startsLikeOnnx) throw new FormatError(`not an ONNX model (IR version ${model.irVersion})`);
    this.graph(graphField, 'main', [], 0, undefined);
    for (const f of functions) this.func(f);
    analyzeTensors(model);
    return model;
  }

  private opset(h: FieldHeader): ModelIndex['opsets'][number] {
    const { r } = this;
    r.expect(h, WireType.LEN);
    let domain = '';
    let version = 0;
    r.fields(h.valueStart, h.end, (f) => {
      if (f.field === 1) domain = r.string(f);
      else if (f.field === 2) version = r.int(f);
    });
    return { domain, version, field: span(h) };
  }

  private graph(
    h: FieldHeader,
    path: string,
    ancestors: FieldSpan[],
    depth: number,
    parentNodeId: number | undefined,
  ): void {
    const { r, model } = this;
    if (depth > this.maxDepth)
      throw new FormatError(`subgraphs nest deeper than ${this.maxDepth} levels`, h.start);
    r.expect(h, WireType.LEN);
    const graph: GraphInfo = {
      path,
      name: '',
      field: span(h),
      ancestors,
      kind: 'graph',
      inputs: [],
      outputs: [],
      nodeIds: [],
      tensorIds: [],
      parentNodeId,
    };
    model.graphs.push(graph);
    const inner = [...ancestors, span(h)];
    r.fields(h.valueStart, h.end, (f) => {
      switch (f.field) {
        case G.name:
          graph.name = r.string(f);
          break;
        case G.input:
          graph.inputs.push(readValueInfo(this.r, f));
          break;
        case G.output:
          graph.outputs.push(readValueInfo(this.r, f));
          break;
        case G.valueInfo:
          (graph.valueInfo ??= []).push(readValueInfo(this.r, f));
          break;
        case G.initializer: {
          const part = this.readTensor(f);
          this.addTensor(graph, part.name, part, 'initializer', inner);
          break;
        }
        case G.sparseInitializer: {
          const sparse = readSparseTensorProto(this.r, f, this.maxElements);
          this.addSparse(graph, sparse, 'sparse_initializer', inner);
          break;
        }
        case G.node:
          this.node(f, graph, inner, depth);
          break;
      }
    });
  }

  private func(h: FieldHeader): void {
    const { r, model } = this;
    let name = '';
    let domain = '';
    // Names first: the path of the function's nodes depends on them, and fields may come in any order.
    r.fields(h.valueStart, h.end, (f) => {
      if (f.field === F.name) name = r.string(f);
      else if (f.field === F.domain) domain = r.string(f);
    });
    const graph: GraphInfo = {
      path: `function:${domain}:${name}`,
      name,
      field: span(h),
      ancestors: [],
      kind: 'function',
      inputs: [],
      outputs: [],
      nodeIds: [],
      tensorIds: [],
    };
    model.graphs.push(graph);
    const inner = [span(h)];
    r.fields(h.valueStart, h.end, (f) => {
      if (f.field === F.input) graph.inputs.push({ name: r.string(f), kind: 'unknown' });
      else if (f.field === F.output) graph.outputs.push({ name: r.string(f), kind: 'unknown' });
      else if (f.field === F.node) this.node(f, graph, inner, 1);
    });
  }

  private node(h: FieldHeader, graph: GraphInfo, ancestors: FieldSpan[], depth: number): void {
    const { r, model } = this;
    r.expect(h, WireType.LEN);
    const node: NodeInfo = {
      id: model.nodes.length,
      graph: graph.path,
      index: graph.nodeIds.length,
      name: '',
      opType: '',
      domain: '',
      inputs: [],
      outputs: [],
      attributes: [],
      field: span(h),
      ancestors,
    };
    model.nodes.push(node);
    graph.nodeIds.push(node.id);
    const attributeFields: FieldHeader[] = [];
    r.fields(h.valueStart, h.end, (f) => {
      switch (f.field) {
        case N.input:
          node.inputs.push(r.string(f));
          break;
        case N.output:
          node.outputs.push(r.string(f));
          break;
        case N.name:
          node.name = r.string(f);
          break;
        case N.opType:
          node.opType = r.string(f);
          break;
        case N.domain:
          node.domain = r.string(f);
          break;
        case N.attribute:
          r.expect(f, WireType.LEN);
          attributeFields.push(f);
          break;
      }
    });
    // Attributes after the rest: subgraph paths and Constant tensor names need the node's name and outputs.
    const inner = [...ancestors, span(h)];
    for (const f of attributeFields) node.attributes.push(this.attribute(f, node, graph, inner, depth));
  }

  private attribute(
    h: FieldHeader,
    node: NodeInfo,
    graph: GraphInfo,
    ancestors: FieldSpan[],
    depth: number,
  ): AttributeInfo {
    const { r } = this;
    const attr: AttributeInfo = { name: '', type: 0 };
    const graphFields: FieldHeader[] = [];
    const tensorFields: FieldHeader[] = [];
    const sparseFields: FieldHeader[] = [];
    r.fields(h.valueStart, h.end, (f) => {
      switch (f.field) {
        case A.name:
          attr.name = r.string(f);
          break;
        case A.type:
          attr.type = r.int(f);
          break;
        case A.f:
          attr.f = r.float(f);
          break;
        case A.i:
          attr.i = r.int(f);
          break;
        case A.s:
          attr.s = r.string(f);
          break;
        case A.floats:
          r.floats(f, (attr.floats ??= []));
          break;
        case A.ints:
          r.ints(f, (attr.ints ??= []));
          break;
        case A.strings:
          (attr.strings ??= []).push(r.string(f));
          break;
        case A.t:
        case A.tensors:
          r.expect(f, WireType.LEN);
          tensorFields.push(f);
          break;
        case A.sparseTensor:
        case A.sparseTensors:
          r.expect(f, WireType.LEN);
          sparseFields.push(f);
          break;
        case A.g:
        case A.graphs:
          r.expect(f, WireType.LEN);
          graphFields.push(f);
          break;
      }
    });
    const inner = [...ancestors, span(h)];
    const isConstant = node.opType === 'Constant' && (node.domain === '' || node.domain === 'ai.onnx');
    const constantName = node.outputs[0] ?? '';
    if (isConstant && (attr.name === 'value_float' || attr.name === 'value_int')) {
      const value = attr.name === 'value_float' ? attr.f : attr.i;
      this.addValues(
        graph,
        constantName,
        node,
        attr,
        value === undefined ? [] : [value],
        [],
        span(h),
        ancestors,
      );
    } else if (isConstant && (attr.name === 'value_floats' || attr.name === 'value_ints')) {
      const values = (attr.name === 'value_floats' ? attr.floats : attr.ints) ?? [];
      this.addValues(graph, constantName, node, attr, values, [values.length], span(h), ancestors);
    }
    // Only Constant values are model tensors: tensor attributes of other ops (ConstantOfShape's fill value, …)
    // are op parameters and stay in the node, as ONNX tools list them.
    if (isConstant && attr.name === 'value') {
      for (const f of tensorFields)
        this.addConstant(graph, constantName, this.readTensor(f), node, attr, inner);
    }
    if (isConstant && attr.name === 'sparse_value') {
      for (const f of sparseFields) {
        const tensor = this.addSparse(
          graph,
          { ...readSparseTensorProto(this.r, f, this.maxElements), name: constantName },
          'constant',
          inner,
        );
        tensor.nodeId = node.id;
        tensor.attribute = attr.name;
        (attr.tensors ??= []).push(tensor.id);
      }
    }
    if (isConstant && (attr.name === 'value_string' || attr.name === 'value_strings')) {
      const strings = attr.name === 'value_string' ? [attr.s ?? ''] : (attr.strings ?? []);
      const part: TensorPart = {
        dtype: DataType.STRING,
        dims: attr.name === 'value_string' ? [] : [strings.length],
        payload: { kind: 'empty' },
        field: span(h),
      };
      const tensor = this.addConstant(graph, constantName, part, node, attr, ancestors);
      tensor.storage = 'typed';
      tensor.storedBytes = strings.reduce((a, str) => a + str.length, 0);
    }
    graphFields.forEach((f, i) => {
      const owner = node.name || `${node.opType}#${node.index}`;
      const path = `${graph.path}/${owner}/${attr.name}${f.field === A.graphs ? `[${i}]` : ''}`;
      (attr.graphs ??= []).push(path);
      this.graph(f, path, inner, depth + 1, node.id);
    });
    return attr;
  }

  /** A TensorProto, remembering the external data files the model uses. */
  private readTensor(h: FieldHeader): NamedTensorPart {
    const part = readTensorProto(this.r, h, this.maxElements);
    const p = part.payload;
    if (p.kind === 'external' && !this.model.externalLocations.includes(p.location)) {
      this.model.externalLocations.push(p.location);
    }
    return part;
  }

  private addTensor(
    graph: GraphInfo,
    name: string,
    part: TensorPart,
    where: TensorInfo['where'],
    ancestors: FieldSpan[],
  ): TensorInfo {
    const count = part.dims.reduce((a, b) => a * b, 1);
    const tensor: TensorInfo = {
      id: this.model.tensors.length,
      name,
      dtype: part.dtype,
      dims: part.dims,
      count,
      where,
      graph: graph.path,
      storage: storageOf(part.payload),
      payload: part.payload,
      storedBytes: storedBytes(part.payload, part.dtype, count),
      field: part.field,
      ancestors,
      consumers: [],
      role: 'constant',
    };
    this.model.tensors.push(tensor);
    graph.tensorIds.push(tensor.id);
    return tensor;
  }

  private addSparse(
    graph: GraphInfo,
    sparse: SparseTensorPart,
    where: TensorInfo['where'],
    ancestors: FieldSpan[],
  ): TensorInfo {
    const part: TensorPart = {
      dtype: sparse.values.dtype,
      dims: sparse.dims,
      payload: sparse.values.payload,
      field: sparse.field,
    };
    const tensor = this.addTensor(graph, sparse.name, part, where, ancestors);
    tensor.sparse = { values: sparse.values, indices: sparse.indices };
    tensor.storedBytes =
      storedBytes(
        sparse.values.payload,
        sparse.values.dtype,
        sparse.values.dims.reduce((a, b) => a * b, 1),
      ) +
      storedBytes(
        sparse.indices.payload,
        sparse.indices.dtype,
        sparse.indices.dims.reduce((a, b) => a * b, 1),
      );
    return tensor;
  }

  private addConstant(
    graph: GraphInfo,
    name: string,
    part: TensorPart,
    node: NodeInfo,
    attr: AttributeInfo,
    ancestors: FieldSpan[],
  ): TensorInfo {
    const tensor = this.addTensor(graph, name, part, 'constant', ancestors);
    tensor.nodeId = node.id;
    tensor.attribute = attr.name;
    (attr.tensors ??= []).push(tensor.id);
    return tensor;
  }

  private addValues(
    graph: GraphInfo,
    name: string,
    node: NodeInfo,
    attr: AttributeInfo,
    values: number[],
    dims: number[],
    field: FieldSpan,
    ancestors: FieldSpan[],
  ): void {
    const dtype = attr.name.startsWith('value_float') ? 1 : 7;
    const tensor = this.addTensor(
      graph,
      name,
      { dtype, dims, payload: { kind: 'values', values }, field },
      'constant',
      ancestors,
    );
    tensor.storage = 'typed';
    tensor.storedBytes = rawByteLength(dtype, values.length);
    tensor.nodeId = node.id;
    tensor.attribute = attr.name;
    (attr.tensors ??= []).push(tensor.id);
  }
}
