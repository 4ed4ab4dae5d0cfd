import type { DataTypeCode } from '../tensor/dataType';

/**
 * Where one length-delimited protobuf field sits in the file: its tag at `start`, its length varint at
 * `lenStart`, its value in [valueStart, end). The writer rewrites the length of every field that encloses
 * an edit and copies everything else verbatim.
 */
export interface FieldSpan {
  start: number;
  lenStart: number;
  valueStart: number;
  end: number;
}

/** One stretch of bytes in the model file. */
export interface ByteRange {
  offset: number;
  length: number;
}

/** The TensorProto fields that hold typed (non-raw) payloads. */
export const TypedField = {
  float_data: 4,
  int32_data: 5,
  string_data: 6,
  int64_data: 7,
  double_data: 10,
  uint64_data: 11,
} as const;
export type TypedFieldNumber = (typeof TypedField)[keyof typeof TypedField];

/** A typed payload stretch: a packed run of values, or the bytes of one unpacked value. */
export interface TypedRange extends ByteRange {
  packed: boolean;
}

/** Where a tensor's element bytes are; nothing is copied while indexing. */
export type Payload =
  | { kind: 'raw'; offset: number; length: number }
  | { kind: 'typed'; field: TypedFieldNumber; ranges: TypedRange[] }
  | { kind: 'external'; location: string; offset: number; length: number | undefined; checksum?: string }
  /** Constant-node scalar/list attributes (`value_float(s)`, `value_int(s)`), decoded while indexing. */
  | { kind: 'values'; values: number[] }
  | { kind: 'empty' };

export type TensorWhere = 'initializer' | 'constant' | 'sparse_initializer';
export type TensorStorage = 'raw' | 'typed' | 'external';

/** What a tensor is for: learned weights are the ones a transform may touch. */
export type TensorRole = 'weight' | 'shape' | 'constant';

/** The values/indices pair of a SparseTensorProto. */
export interface SparseParts {
  values: TensorPart;
  indices: TensorPart;
}

/** A TensorProto as found in the file (also the parts of a sparse tensor). */
export interface TensorPart {
  dtype: DataTypeCode;
  dims: number[];
  payload: Payload;
  /** The TensorProto message itself. */
  field: FieldSpan;
}

/** A weight-like tensor: an initializer, a Constant node's value, or a sparse initializer. */
export interface TensorInfo {
  id: number;
  /** Initializer name; for a Constant node, the node's output. */
  name: string;
  dtype: DataTypeCode;
  dims: number[];
  /** Product of dims (1 for a scalar). */
  count: number;
  where: TensorWhere;
  /** "main", or the path of the subgraph / function that holds it. */
  graph: string;
  storage: TensorStorage;
  payload: Payload;
  /** Bytes the payload takes where it is stored (raw, typed or external). */
  storedBytes: number;
  /** The field to replace when the tensor changes (TensorProto, AttributeProto for value_* attrs, or SparseTensorProto). */
  field: FieldSpan;
  /** Enclosing fields, outermost first (graph, node, attribute …). */
  ancestors: FieldSpan[];
  /** The Constant node that produces it, if any. */
  nodeId?: number;
  /** The Constant attribute it came from (`value`, `value_floats`, `sparse_value`, …). */
  attribute?: string;
  sparse?: SparseParts;
  /** Filled after the scan. */
  consumers: Consumer[];
  role: TensorRole;
}

/** A node input slot that reads a tensor. */
export interface Consumer {
  nodeId: number;
  input: number;
}

export interface AttributeInfo {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: string;
  floats?: number[];
  ints?: number[];
  strings?: string[];
  /** Tensor ids (for Constant `value`/`sparse_value`, or tensor attributes of other nodes). */
  tensors?: number[];
  /** Paths of subgraphs held by this attribute. */
  graphs?: string[];
}

export interface NodeInfo {
  id: number;
  graph: string;
  /** Position among the graph's nodes. */
  index: number;
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: AttributeInfo[];
  field: FieldSpan;
  ancestors: FieldSpan[];
}

export interface ValueInfo {
  name: string;
  /** Element type of a tensor value; undefined for sequences, maps, … */
  dtype?: DataTypeCode;
  /** Dims: a number, a symbolic name, or null when unknown; undefined when the rank is unknown. */
  shape?: (number | string | null)[];
  kind: 'tensor' | 'sparse_tensor' | 'sequence' | 'map' | 'optional' | 'unknown';
}

export interface GraphInfo {
  path: string;
  name: string;
  /** The GraphProto (or FunctionProto) message; for the main graph, the ModelProto.graph field. */
  field: FieldSpan;
  ancestors: FieldSpan[];
  kind: 'graph' | 'function';
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** The graph's `value_info` (shapes of intermediate values), when the exporter wrote any. */
  valueInfo?: ValueInfo[];
  nodeIds: number[];
  tensorIds: number[];
  /** The node holding this subgraph (If/Loop/Scan); undefined for the main graph and functions. */
  parentNodeId?: number;
}

export interface OpsetImport {
  domain: string;
  version: number;
  field: FieldSpan;
}

export interface ModelIndex {
  /** Bytes of the .onnx file. */
  size: number;
  irVersion: number;
  /** Where the ir_version field (tag and varint) sits, so a writer can raise it. */
  irVersionField?: { start: number; end: number };
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  opsets: OpsetImport[];
  metadata: { key: string; value: string }[];
  graphs: GraphInfo[];
  nodes: NodeInfo[];
  tensors: TensorInfo[];
  /** Distinct external data locations, in order of first use. */
  externalLocations: string[];
}
