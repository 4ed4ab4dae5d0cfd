import type { ByteSource } from '../io/byteSource';
import { FormatError } from '../errors';
import { DataType, rawByteLength } from '../tensor/dataType';
import { FieldHeader, WireReader, WireType } from './wireReader';
import { analyzeTensors } from './analyzeTensors';
import { checkExternalLocation } from './externalLocation';
import type {
  AttributeInfo,
  FieldSpan,
  GraphInfo,
  ModelIndex,
  NodeInfo,
  Payload,
  TensorInfo,
  TensorPart,
  TypedFieldNumber,
  TypedRange,
  ValueInfo,
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
const G = { node: 1, name: 2, initializer: 5, input: 11, output: 12, sparseInitializer: 15 };
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
const T = { dims: 1, dataType: 2, name: 8, rawData: 9, externalData: 13, dataLocation: 14 };
const TYPED_FIELDS = new Set<number>([4, 5, 6, 7, 10, 11]);
const F = { name: 1, input: 4, output: 5, node: 7, opset: 9, domain: 10 };

const span = (h: FieldHeader): FieldSpan => ({
  start: h.start,
  lenStart: h.lenStart,
  valueStart: h.valueStart,
  end: h.end,
});

/**
 * Scans an ONNX ModelProto once and records its header, every graph, node and weight tensor with the
 * byte ranges where they live. Tensor payloads are located, never read. Throws FormatError on bad input.
 */
export function indexModel(source: ByteSource, options: IndexOptions = {}): ModelIndex {
  return new Indexer(source, options).run();
}

class Indexer {
  private readonly r: WireReader;
  private readonly maxDepth: number;
  private readonly maxElements: number;
  private readonly model: ModelIndex;

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
          model.metadata.push(this.keyValue(h));
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
    if (!graphField) throw new FormatError('not an ONNX model: no graph (ModelProto field 7) found');
    if (model.irVersion <= 0 || model.irVersion > 1000) {
      throw new FormatError(`not an ONNX model: IR version ${model.irVersion}`);
    }
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

  private keyValue(h: FieldHeader): { key: string; value: string } {
    const { r } = this;
    r.expect(h, WireType.LEN);
    let key = '';
    let value = '';
    r.fields(h.valueStart, h.end, (f) => {
      if (f.field === 1) key = r.string(f);
      else if (f.field === 2) value = r.string(f);
    });
    return { key, value };
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
          graph.inputs.push(this.valueInfo(f));
          break;
        case G.output:
          graph.outputs.push(this.valueInfo(f));
          break;
        case G.initializer: {
          const part = this.tensor(f);
          this.addTensor(graph, part.name, part, 'initializer', inner);
          break;
        }
        case G.sparseInitializer: {
          const sparse = this.sparseTensor(f);
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
      for (const f of tensorFields) this.addConstant(graph, constantName, this.tensor(f), node, attr, inner);
    }
    if (isConstant && attr.name === 'sparse_value') {
      for (const f of sparseFields) {
        const tensor = this.addSparse(graph, { ...this.sparseTensor(f), name: constantName }, 'constant', inner);
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

  private valueInfo(h: FieldHeader): ValueInfo {
    const { r } = this;
    r.expect(h, WireType.LEN);
    const info: ValueInfo = { name: '', kind: 'unknown' };
    r.fields(h.valueStart, h.end, (f) => {
      if (f.field === 1) info.name = r.string(f);
      else if (f.field === 2 && f.wire === WireType.LEN) this.typeProto(f, info);
    });
    return info;
  }

  private typeProto(h: FieldHeader, info: ValueInfo): void {
    const { r } = this;
    const kinds: Record<number, ValueInfo['kind']> = {
      1: 'tensor',
      4: 'sequence',
      5: 'map',
      8: 'sparse_tensor',
      9: 'optional',
    };
    r.fields(h.valueStart, h.end, (f) => {
      const kind = kinds[f.field];
      if (!kind) return;
      info.kind = kind;
      if ((kind !== 'tensor' && kind !== 'sparse_tensor') || f.wire !== WireType.LEN) return;
      r.fields(f.valueStart, f.end, (t) => {
        if (t.field === 1) info.dtype = r.int(t);
        else if (t.field === 2 && t.wire === WireType.LEN) {
          const shape: (number | string | null)[] = [];
          r.fields(t.valueStart, t.end, (d) => {
            if (d.field !== 1 || d.wire !== WireType.LEN) return;
            let dim: number | string | null = null;
            r.fields(d.valueStart, d.end, (v) => {
              if (v.field === 1) dim = r.int(v);
              else if (v.field === 2) dim = r.string(v);
            });
            shape.push(dim);
          });
          info.shape = shape;
        }
      });
    });
  }

  /** A TensorProto: header fields read, payload located. */
  private tensor(h: FieldHeader): TensorPart & { name: string } {
    const { r } = this;
    r.expect(h, WireType.LEN);
    let name = '';
    let dtype = 0;
    const dims: number[] = [];
    let raw: FieldHeader | undefined;
    let external = false;
    const ext: Record<string, string> = {};
    let typedField: TypedFieldNumber | undefined;
    const typed: TypedRange[] = [];
    r.fields(h.valueStart, h.end, (f) => {
      switch (f.field) {
        case T.dims:
          r.ints(f, dims);
          break;
        case T.dataType:
          dtype = r.int(f);
          break;
        case T.name:
          name = r.string(f);
          break;
        case T.rawData:
          r.expect(f, WireType.LEN);
          raw = f;
          break;
        case T.dataLocation:
          external = r.int(f) === 1;
          break;
        case T.externalData: {
          const kv = this.keyValue(f);
          ext[kv.key] = kv.value;
          break;
        }
        default:
          if (TYPED_FIELDS.has(f.field)) {
            if (typedField !== undefined && typedField !== f.field) {
              throw new FormatError(
                `tensor ${name || '(unnamed)'} mixes typed payload fields ${typedField} and ${f.field}`,
                f.start,
              );
            }
            typedField = f.field as TypedFieldNumber;
            typed.push({
              offset: f.valueStart,
              length: f.end - f.valueStart,
              packed: f.wire === WireType.LEN && f.field !== 6,
            });
          }
      }
    });
    const label = name || '(unnamed tensor)';
    let count = 1;
    for (const d of dims) {
      if (!Number.isSafeInteger(d) || d < 0)
        throw new FormatError(`tensor ${label} has invalid dimension ${d}`, h.start);
      count *= d;
      if (count > this.maxElements)
        throw new FormatError(`tensor ${label} declares an absurd size (dims ${dims.join('×')})`, h.start);
    }
    let payload: Payload;
    if (external) {
      const location = ext.location;
      if (location === undefined)
        throw new FormatError(`tensor ${label} has external data without a location`, h.start);
      checkExternalLocation(location, label);
      const offset = ext.offset === undefined ? 0 : parseExternalNumber(ext.offset, 'offset', label);
      const length = ext.length === undefined ? undefined : parseExternalNumber(ext.length, 'length', label);
      payload = {
        kind: 'external',
        location,
        offset,
        length,
        ...(ext.checksum ? { checksum: ext.checksum } : {}),
      };
      if (!this.model.externalLocations.includes(location)) this.model.externalLocations.push(location);
    } else if (raw) {
      payload = { kind: 'raw', offset: raw.valueStart, length: raw.end - raw.valueStart };
    } else if (typedField !== undefined) {
      payload = { kind: 'typed', field: typedField, ranges: typed };
    } else {
      payload = { kind: 'empty' };
    }
    return { name, dtype, dims, payload, field: span(h) };
  }

  private sparseTensor(h: FieldHeader): {
    name: string;
    values: TensorPart & { name: string };
    indices: TensorPart;
    dims: number[];
    field: FieldSpan;
  } {
    const { r } = this;
    let values: (TensorPart & { name: string }) | undefined;
    let indices: TensorPart | undefined;
    const dims: number[] = [];
    r.fields(h.valueStart, h.end, (f) => {
      if (f.field === 1) values = this.tensor(f);
      else if (f.field === 2) indices = this.tensor(f);
      else if (f.field === 3) r.ints(f, dims);
    });
    if (!values || !indices) throw new FormatError('sparse tensor without values or indices', h.start);
    return { name: values.name, values, indices, dims, field: span(h) };
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
    sparse: { name: string; values: TensorPart; indices: TensorPart; dims: number[]; field: FieldSpan },
    where: TensorInfo['where'],
    ancestors: FieldSpan[],
  ): TensorInfo {
    let count = 1;
    for (const d of sparse.dims) {
      if (!Number.isSafeInteger(d) || d < 0)
        throw new FormatError(`sparse tensor ${sparse.name} has invalid dimension ${d}`);
      count *= d;
      if (count > this.maxElements)
        throw new FormatError(`sparse tensor ${sparse.name} declares an absurd size`);
    }
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

function parseExternalNumber(text: string, key: string, label: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new FormatError(`tensor ${label} has an invalid external data ${key} "${text}"`);
  }
  return Number(text);
}

function storageOf(payload: Payload): TensorInfo['storage'] {
  if (payload.kind === 'external') return 'external';
  if (payload.kind === 'raw') return 'raw';
  return 'typed';
}

function storedBytes(payload: Payload, dtype: number, count: number): number {
  switch (payload.kind) {
    case 'raw':
      return payload.length;
    case 'external':
      return payload.length ?? rawByteLength(dtype, count);
    case 'typed':
      return payload.ranges.reduce((a, r) => a + r.length, 0);
    case 'values':
      return rawByteLength(dtype, payload.values.length);
    case 'empty':
      return 0;
  }
}
