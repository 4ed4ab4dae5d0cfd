import type { ByteSource } from '../io/byteSource';
import { FormatError } from '../errors';
import { rawByteLength } from '../tensor/dataType';
import type { GraphInfo, ModelIndex, TensorInfo } from '../onnx/modelIndex';
import { WireReader } from '../onnx/wireReader';
import { applySplices, fieldHeader, type Piece, piecesLength, type Splice } from './pieces';
import {
  encodeNode,
  encodeOpset,
  encodeStringField,
  encodeInt64s,
  encodeTensorHeader,
  encodeVarint,
  type NewNode,
} from './protoEncode';
import { typedToRaw } from './typedToRaw';

/** New tensor contents: raw little-endian bytes, as pieces (possibly copied from the input) or one array. */
export interface TensorData {
  dtype: number;
  dims: number[];
  data: Uint8Array | Piece[];
}

/** One change to a model. Ids are those of the ModelIndex the edits were planned on. */
export type Edit =
  | { kind: 'replaceTensor'; tensorId: number; tensor: TensorData }
  | { kind: 'removeTensor'; tensorId: number }
  | { kind: 'addTensor'; graph: string; name: string; tensor: TensorData }
  | { kind: 'removeNode'; nodeId: number }
  | { kind: 'replaceNode'; nodeId: number; nodes: NewNode[] }
  | { kind: 'insertNodes'; graph: string; beforeNodeId?: number; nodes: NewNode[] }
  | { kind: 'setOpset'; domain: string; version: number }
  /** Sets ModelProto.ir_version (a transform that needs newer types, e.g. int4 at IR 10). */
  | { kind: 'setIrVersion'; version: number }
  /**
   * Stores a graph initializer as a GraphProto.sparse_initializer (SparseTensorProto) of the same name and
   * dims: `values` [NNZ] of the tensor's type, `indices` int64 [NNZ] (linear) or [NNZ, rank], ascending.
   */
  | { kind: 'replaceWithSparse'; tensorId: number; values: TensorData; indices: TensorData }
  /** Drops a graph's value_info entries (declared intermediate shapes) of these names: shapes that changed. */
  | { kind: 'removeValueInfo'; graph: string; names: string[] }
  /** Drops a graph's outputs of these names (a part of the model cut out to run alone). */
  | { kind: 'removeGraphOutputs'; graph: string; names: string[] };

export interface WriteOptions {
  /** Store every tensor whose raw size is at least `threshold` bytes in a new external data file. */
  externalData?: {
    location: string;
    threshold: number;
    alignment?: number;
    /**
     * Only new tensor contents go to the new file; untouched tensors keep their place (inline, or in the
     * input's external files, which the new model then refers to, like a candidate beside its original).
     */
    onlyNew?: boolean;
  };
  /** Bring every external tensor back into the model file. */
  inline?: boolean;
}

/** What to write: the model file's pieces and, when tensors move out, the new external data file's. */
export interface WritePlan {
  model: Piece[];
  modelBytes: number;
  external?: { location: string; pieces: Piece[]; bytes: number };
  /** External files of the input that the new model still refers to (they must sit beside it). */
  keptExternal: string[];
}

const PROTOBUF_LIMIT = 0x7fffffff;
/** TensorProto.DataType INT64: sparse indices are always int64. */
const INT64 = 7;
/** ModelProto.ir_version (a varint). */
const M_IR_VERSION = 1;
/** TensorProto fields that hold the type, shape or payload; everything else (name, doc, unknown) is kept. */
const TENSOR_DATA_FIELDS = new Set([1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 14]);
/** GraphProto.sparse_initializer; SparseTensorProto.values, .indices, .dims. */
const G_SPARSE_INITIALIZER = 15;
/** GraphProto.value_info. */
const G_OUTPUT = 12;
const G_VALUE_INFO = 13;
const SPARSE_VALUES = 1;
const SPARSE_INDICES = 2;
const SPARSE_DIMS = 3;

/**
 * Plans a new model from edits: every untouched byte range of the input is copied verbatim and only what
 * changed is encoded. With no edits and no options the plan is the input file, byte for byte.
 */
export function planWrite(
  index: ModelIndex,
  source: ByteSource,
  edits: Edit[],
  options: WriteOptions = {},
): WritePlan {
  return new Planner(index, source, options).plan(edits);
}

class Planner {
  private readonly splices: Splice[] = [];
  private readonly external: Piece[] = [];
  private externalBytes = 0;
  private readonly touched = new Set<number>();
  private readonly reader: WireReader;
  private readonly graphs: Map<string, GraphInfo>;

  constructor(
    private readonly index: ModelIndex,
    private readonly source: ByteSource,
    private readonly options: WriteOptions,
  ) {
    this.reader = new WireReader(source);
    this.graphs = new Map(index.graphs.map((g) => [g.path, g]));
  }

  plan(edits: Edit[]): WritePlan {
    for (const e of edits) this.apply(e);
    if ((this.options.externalData && !this.options.externalData.onlyNew) || this.options.inline) {
      for (const t of this.index.tensors) if (!this.touched.has(t.id)) this.relocate(t);
    }
    const model = applySplices(this.index.size, this.splices);
    const modelBytes = piecesLength(model);
    if (edits.length > 0 && modelBytes > PROTOBUF_LIMIT) {
      throw new FormatError(
        `the new model would be ${modelBytes} bytes, over protobuf's 2 GiB limit: store tensors as external data`,
      );
    }
    const keptExternal = new Set<string>();
    for (const t of this.index.tensors) {
      if (t.payload.kind === 'external' && !this.touched.has(t.id)) keptExternal.add(t.payload.location);
    }
    const ext = this.options.externalData;
    return {
      model,
      modelBytes,
      external:
        ext && this.externalBytes > 0
          ? { location: ext.location, pieces: this.external, bytes: this.externalBytes }
          : undefined,
      keptExternal: [...keptExternal],
    };
  }

  private apply(e: Edit): void {
    switch (e.kind) {
      case 'replaceTensor': {
        const t = this.tensor(e.tensorId);
        this.touch(t);
        this.splices.push({
          start: t.field.start,
          end: t.field.end,
          pieces: this.encodeTensor(t, t.name, e.tensor),
          ancestors: t.ancestors,
        });
        return;
      }
      case 'removeTensor': {
        const t = this.tensor(e.tensorId);
        this.touch(t);
        if (t.nodeId !== undefined) this.apply({ kind: 'removeNode', nodeId: t.nodeId });
        else
          this.splices.push({ start: t.field.start, end: t.field.end, pieces: [], ancestors: t.ancestors });
        return;
      }
      case 'addTensor': {
        const g = this.graph(e.graph);
        if (g.kind === 'function') throw new FormatError(`functions have no initializers (${e.graph})`);
        const at = g.field.end;
        this.splices.push({
          start: at,
          end: at,
          pieces: this.encodeTensor(undefined, e.name, e.tensor),
          ancestors: [...g.ancestors, g.field],
        });
        return;
      }
      case 'removeNode': {
        const n = this.node(e.nodeId);
        this.splices.push({ start: n.field.start, end: n.field.end, pieces: [], ancestors: n.ancestors });
        return;
      }
      case 'replaceNode': {
        const n = this.node(e.nodeId);
        const g = this.graph(n.graph);
        this.splices.push({
          start: n.field.start,
          end: n.field.end,
          pieces: this.encodeNodes(g, e.nodes),
          ancestors: n.ancestors,
        });
        return;
      }
      case 'insertNodes': {
        const g = this.graph(e.graph);
        const at = e.beforeNodeId === undefined ? g.field.end : this.node(e.beforeNodeId).field.start;
        this.splices.push({
          start: at,
          end: at,
          pieces: this.encodeNodes(g, e.nodes),
          ancestors: [...g.ancestors, g.field],
        });
        return;
      }
      case 'setOpset': {
        const value = encodeOpset(e.domain, e.version);
        const bytes = concat(fieldHeader(8, value.length), value);
        const existing = this.index.opsets.find(
          (o) => o.domain === e.domain || (e.domain === '' && o.domain === 'ai.onnx'),
        );
        if (existing)
          this.splices.push({
            start: existing.field.start,
            end: existing.field.end,
            pieces: [{ kind: 'bytes', bytes }],
            ancestors: [],
          });
        else {
          const at = this.index.opsets.at(-1)?.field.end ?? 0;
          this.splices.push({ start: at, end: at, pieces: [{ kind: 'bytes', bytes }], ancestors: [] });
        }
        return;
      }
      case 'replaceWithSparse': {
        const t = this.tensor(e.tensorId);
        if (t.where === 'constant' || this.graph(t.graph).kind !== 'graph')
          throw new FormatError(`${t.name} is not a graph initializer: only those can be sparse_initializer`);
        this.touch(t);
        this.splices.push({
          start: t.field.start,
          end: t.field.end,
          pieces: this.encodeSparse(t, e.values, e.indices),
          ancestors: t.ancestors,
        });
        return;
      }
      case 'removeValueInfo':
      case 'removeGraphOutputs': {
        const g = this.graph(e.graph);
        if (g.kind !== 'graph') return;
        const names = new Set(e.names);
        const field = e.kind === 'removeValueInfo' ? G_VALUE_INFO : G_OUTPUT;
        this.reader.fields(g.field.valueStart, g.field.end, (h) => {
          if (h.field !== field || h.wire !== 2) return;
          let name: string | undefined;
          this.reader.fields(h.valueStart, h.end, (f) => {
            if (f.field === 1 && f.wire === 2) name = this.reader.string(f);
          });
          if (name !== undefined && names.has(name))
            this.splices.push({
              start: h.start,
              end: h.end,
              pieces: [],
              ancestors: [...g.ancestors, g.field],
            });
        });
        return;
      }
      case 'setIrVersion': {
        if (!Number.isSafeInteger(e.version) || e.version <= 0)
          throw new FormatError(`invalid IR version ${e.version}`);
        const bytes = concat(encodeVarint(M_IR_VERSION << 3), encodeVarint(e.version));
        const field = this.index.irVersionField;
        // A model always has ir_version (the index refuses one without); place a missing one first anyway.
        const [start, end] = field ? [field.start, field.end] : [0, 0];
        this.splices.push({ start, end, pieces: [{ kind: 'bytes', bytes }], ancestors: [] });
        return;
      }
    }
  }

  /** With --external-data or --inline: move an untouched tensor if the options ask for it. */
  private relocate(t: TensorInfo): void {
    // Shape tables stay inline: ONNX Runtime's shape inference cannot read them from external data.
    if (t.sparse || (t.role === 'shape' && t.payload.kind !== 'external')) return;
    const ext = this.options.externalData;
    const rawBytes = rawByteLength(t.dtype, t.count);
    const goesOut = ext !== undefined && rawBytes >= ext.threshold && t.payload.kind !== 'empty';
    const comesIn = t.payload.kind === 'external' && !goesOut;
    if (!goesOut && !comesIn) return;
    if (t.payload.kind === 'values') return;
    this.touch(t);
    const tensor: TensorData = { dtype: t.dtype, dims: t.dims, data: this.payloadPieces(t) };
    this.splices.push({
      start: t.field.start,
      end: t.field.end,
      pieces: this.encodeTensor(t, t.name, tensor),
      ancestors: t.ancestors,
    });
  }

  /** The raw bytes of an existing tensor as pieces (copied, not read, where they already are raw). */
  private payloadPieces(t: TensorInfo): Piece[] {
    const p = t.payload;
    const length = rawByteLength(t.dtype, t.count);
    switch (p.kind) {
      case 'raw':
        return [{ kind: 'source', offset: p.offset, length: p.length }];
      case 'external':
        return [{ kind: 'external', location: p.location, offset: p.offset, length: p.length ?? length }];
      case 'typed':
      case 'values':
        return [{ kind: 'bytes', bytes: typedToRaw(this.source, t.dtype, t.count, p) }];
      case 'empty':
        return [];
    }
  }

  /**
   * A tensor field (tag 5: graph initializer, attribute `t` and NodeProto attribute all use 5; `tag` for
   * other holders, e.g. SparseTensorProto.values) holding the new contents. Fields of the original
   * TensorProto other than type, shape and payload are copied.
   */
  private encodeTensor(original: TensorInfo | undefined, name: string, data: TensorData, tag = 5): Piece[] {
    const payload =
      data.data instanceof Uint8Array ? [{ kind: 'bytes' as const, bytes: data.data }] : data.data;
    const length = piecesLength(payload);
    const expected = rawByteLength(
      data.dtype,
      data.dims.reduce((a, b) => a * b, 1),
    );
    if (length !== expected)
      throw new FormatError(`new data for ${name} has ${length} bytes, ${expected} expected`);
    const ext = this.options.externalData;
    let external: { location: string; offset: number; length: number } | undefined;
    if (ext && length >= ext.threshold && length > 0) {
      const align = ext.alignment ?? 4096;
      const offset = Math.ceil(this.externalBytes / align) * align;
      if (offset > this.externalBytes)
        this.external.push({ kind: 'bytes', bytes: new Uint8Array(offset - this.externalBytes) });
      this.external.push(...payload);
      this.externalBytes = offset + length;
      external = { location: ext.location, offset, length };
    }
    const parts: Piece[] = [{ kind: 'bytes', bytes: encodeTensorHeader(data.dtype, data.dims, external) }];
    const keptFrom = original?.sparse
      ? original.sparse.values.field
      : original?.payload.kind === 'values'
        ? undefined
        : original?.field;
    if (keptFrom) {
      this.reader.fields(keptFrom.valueStart, keptFrom.end, (h) => {
        if (!TENSOR_DATA_FIELDS.has(h.field))
          parts.push({ kind: 'source', offset: h.start, length: h.end - h.start });
      });
    } else if (original?.payload.kind !== 'values' && name) {
      parts.push({ kind: 'bytes', bytes: encodeStringField(8, name) });
    }
    if (!external) {
      parts.push({ kind: 'bytes', bytes: fieldHeader(9, length) }, ...payload);
    }
    const tensorBytes = piecesLength(parts);
    if (original?.payload.kind === 'values') {
      // value_float(s)/value_int(s) become a `value` tensor attribute: AttributeProto {name, type TENSOR, t}.
      const attrHead = concat(
        encodeStringField(1, 'value'),
        encodeVarint(20 << 3),
        encodeVarint(4),
        fieldHeader(5, tensorBytes),
      );
      return [
        { kind: 'bytes', bytes: fieldHeader(5, attrHead.length + tensorBytes) },
        { kind: 'bytes', bytes: attrHead },
        ...parts,
      ];
    }
    if (original?.nodeId !== undefined && original.sparse) {
      throw new FormatError(`replacing the sparse_value of Constant ${name} is not supported`);
    }
    return [{ kind: 'bytes', bytes: fieldHeader(tag, tensorBytes) }, ...parts];
  }

  /** A sparse_initializer field: values (keeping the original's name and other fields), indices, dims. */
  private encodeSparse(t: TensorInfo, values: TensorData, indices: TensorData): Piece[] {
    const nnz = values.dims[0];
    const rank = t.dims.length;
    if (values.dtype !== t.dtype || values.dims.length !== 1)
      throw new FormatError(`sparse values of ${t.name} must be ${t.dtype} [NNZ]`);
    const linear = indices.dims.length === 1 && indices.dims[0] === nnz;
    if (
      indices.dtype !== INT64 ||
      !(linear || (indices.dims.length === 2 && indices.dims[0] === nnz && indices.dims[1] === rank))
    )
      throw new FormatError(`sparse indices of ${t.name} must be int64 [${nnz}] or [${nnz}, ${rank}]`);
    if (indices.data instanceof Uint8Array) checkIndices(t, indices.data, nnz, linear);
    const body = [
      ...this.encodeTensor(t, t.name, values, SPARSE_VALUES),
      ...this.encodeTensor(undefined, '', indices, SPARSE_INDICES),
      { kind: 'bytes' as const, bytes: encodeInt64s(SPARSE_DIMS, t.dims) },
    ];
    return [{ kind: 'bytes', bytes: fieldHeader(G_SPARSE_INITIALIZER, piecesLength(body)) }, ...body];
  }

  private encodeNodes(g: GraphInfo, nodes: NewNode[]): Piece[] {
    const field = g.kind === 'function' ? 7 : 1;
    return nodes.map((n) => {
      const bytes = encodeNode(n);
      return { kind: 'bytes' as const, bytes: concat(fieldHeader(field, bytes.length), bytes) };
    });
  }

  private touch(t: TensorInfo): void {
    if (this.touched.has(t.id)) throw new FormatError(`tensor ${t.name} is edited twice`);
    this.touched.add(t.id);
  }

  private tensor(id: number): TensorInfo {
    const t = this.index.tensors[id];
    if (!t) throw new FormatError(`no tensor #${id}`);
    return t;
  }

  private node(id: number) {
    const n = this.index.nodes[id];
    if (!n) throw new FormatError(`no node #${id}`);
    return n;
  }

  private graph(path: string): GraphInfo {
    const g = this.graphs.get(path);
    if (!g) throw new FormatError(`no graph ${path}`);
    return g;
  }
}

/** Linear indices must ascend within the dense size ([NNZ, rank] coordinates are checked by ONNX Runtime). */
function checkIndices(t: TensorInfo, bytes: Uint8Array, nnz: number, linear: boolean): void {
  if (!linear) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let previous = -1;
  for (let i = 0; i < nnz; i++) {
    const index = view.getInt32(8 * i + 4, true) * 0x100000000 + view.getUint32(8 * i, true);
    if (index <= previous || index >= t.count)
      throw new FormatError(
        `sparse index ${index} of ${t.name} is out of order or past its ${t.count} elements`,
      );
    previous = index;
  }
}

/** The parts one after another, in one new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
