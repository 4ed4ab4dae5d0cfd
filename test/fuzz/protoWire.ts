/**
 * A tiny protobuf wire-format parser/serializer with just enough of the ONNX schema (graphs, nodes,
 * attributes, tensors, sparse tensors, functions, key/value entries) for the fuzz mutator to find and
 * rewrite fields and still fix up every enclosing length. Independent of src/ on purpose.
 */

export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const I32 = 5;

/** Message types the mutator knows; LEN fields listed in SCHEMA are parsed as sub-messages. */
export type MsgType = 'Model' | 'Graph' | 'Node' | 'Attribute' | 'Tensor' | 'Sparse' | 'Function' | 'KV';

const SCHEMA: Record<MsgType, Record<number, MsgType>> = {
  Model: { 7: 'Graph', 14: 'KV', 25: 'Function' },
  Graph: { 1: 'Node', 5: 'Tensor', 15: 'Sparse' },
  Node: { 5: 'Attribute' },
  Attribute: { 5: 'Tensor', 6: 'Graph', 10: 'Tensor', 11: 'Graph', 22: 'Sparse', 23: 'Sparse' },
  Tensor: { 13: 'KV' },
  Sparse: { 1: 'Tensor', 2: 'Tensor' },
  Function: { 7: 'Node' },
  KV: {},
};

/** One field of a parsed message: a sub-message (`children`) or the encoded value bytes (`raw`). */
export interface Field {
  num: number;
  wire: number;
  /** VARINT: the varint bytes; I32/I64: the fixed bytes; LEN (not parsed): the payload. */
  raw?: Uint8Array;
  children?: Field[];
  type?: MsgType;
}

export function encodeVarint(value: number | bigint): Uint8Array {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return Uint8Array.from(out);
}

function readVarint(buf: Uint8Array, pos: number, end: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new Error('truncated varint');
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
  throw new Error('varint too long');
}

/** Parses a message; LEN fields of known sub-message types are parsed recursively. Throws on bad input. */
export function parseMessage(
  buf: Uint8Array,
  type: MsgType,
  start = 0,
  end = buf.length,
  depth = 0,
): Field[] {
  if (depth > 400) throw new Error('too deep for the mutator');
  const fields: Field[] = [];
  let pos = start;
  while (pos < end) {
    const [tag, afterTag] = readVarint(buf, pos, end);
    const num = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    pos = afterTag;
    switch (wire) {
      case VARINT: {
        const [, after] = readVarint(buf, pos, end);
        fields.push({ num, wire, raw: buf.slice(pos, after) });
        pos = after;
        break;
      }
      case I64:
      case I32: {
        const n = wire === I64 ? 8 : 4;
        if (pos + n > end) throw new Error('truncated fixed field');
        fields.push({ num, wire, raw: buf.slice(pos, pos + n) });
        pos += n;
        break;
      }
      case LEN: {
        const [lenBig, after] = readVarint(buf, pos, end);
        const len = Number(lenBig);
        if (after + len > end) throw new Error('LEN past end');
        const sub = SCHEMA[type][num];
        if (sub)
          fields.push({
            num,
            wire,
            type: sub,
            children: parseMessage(buf, sub, after, after + len, depth + 1),
          });
        else fields.push({ num, wire, raw: buf.slice(after, after + len) });
        pos = after + len;
        break;
      }
      default:
        throw new Error(`wire type ${wire}`);
    }
  }
  return fields;
}

/** Where each LEN field's length varint landed in a serialized message (for length lies). */
export interface LengthSite {
  /** Offset of the length varint. */
  at: number;
  /** Bytes the varint takes. */
  size: number;
  /** The encoded length. */
  length: number;
  /** Whether the field is a known sub-message. */
  message: boolean;
}

/** Serializes fields (recomputing every length); records the length sites when `sites` is given. */
export function serialize(fields: Field[], sites?: LengthSite[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    size += b.length;
  };
  const write = (fs: Field[], base: number) => {
    // Sub-messages are serialized first to know their length; sites are shifted by where they land.
    for (const f of fs) {
      push(encodeVarint((BigInt(f.num) << 3n) | BigInt(f.wire)));
      if (f.wire !== LEN) {
        push(f.raw ?? new Uint8Array(0));
        continue;
      }
      let payload: Uint8Array;
      const inner: LengthSite[] = [];
      if (f.children) payload = serialize(f.children, sites ? inner : undefined);
      else payload = f.raw ?? new Uint8Array(0);
      const len = encodeVarint(payload.length);
      if (sites) {
        sites.push({
          at: base + size,
          size: len.length,
          length: payload.length,
          message: Boolean(f.children),
        });
        const payloadAt = base + size + len.length;
        for (const s of inner) sites.push({ ...s, at: s.at + payloadAt });
      }
      push(len);
      push(payload);
    }
  };
  write(fields, 0);
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Every field of a given message type below `fields` (depth first), with its parent list. */
export function collect(
  fields: Field[],
  type: MsgType,
  selfType: MsgType = 'Model',
): { field: Field; parent: Field[] }[] {
  const out: { field: Field; parent: Field[] }[] = [];
  const walk = (fs: Field[], t: MsgType) => {
    for (const f of fs) {
      if (f.children && f.type) {
        if (f.type === type) out.push({ field: f, parent: fs });
        walk(f.children, f.type);
      }
    }
    void t;
  };
  walk(fields, selfType);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Builders (for hand-made cases)

const utf8 = new TextEncoder();

export function fVarint(num: number, value: number | bigint): Field {
  return { num, wire: VARINT, raw: encodeVarint(value) };
}
export function fBytes(num: number, value: Uint8Array | string): Field {
  return { num, wire: LEN, raw: typeof value === 'string' ? utf8.encode(value) : value };
}
export function fMsg(num: number, type: MsgType, children: Field[]): Field {
  return { num, wire: LEN, type, children };
}
export function packedVarints(num: number, values: (number | bigint)[]): Field {
  const parts = values.map(encodeVarint);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { num, wire: LEN, raw: bytes };
}

/** A float32 TensorProto with raw data. */
export function tensorFields(name: string, dims: number[], values: number[], dtype = 1): Field[] {
  const raw = new Uint8Array(new Float32Array(values).buffer);
  return [...dims.map((d) => fVarint(1, d)), fVarint(2, dtype), fBytes(8, name), fBytes(9, raw)];
}

/** A valid model whose then_branch subgraphs nest `depth` If nodes deep, each level with an initializer. */
export function nestedIfModel(depth: number): Uint8Array {
  let graph: Field[] = [
    fMsg(5, 'Tensor', tensorFields(`w${depth}`, [2], [1, 2])),
    fMsg(1, 'Node', [fBytes(1, `w${depth}`), fBytes(2, 'out'), fBytes(4, 'Identity')]),
    fBytes(2, `g${depth}`),
  ];
  for (let d = depth - 1; d >= 0; d--) {
    const ifNode = fMsg(1, 'Node', [
      fBytes(1, 'cond'),
      fBytes(2, 'out'),
      fBytes(3, `if${d}`),
      fBytes(4, 'If'),
      fMsg(5, 'Attribute', [fBytes(1, 'then_branch'), fVarint(20, 5), fMsg(6, 'Graph', graph)]),
      fMsg(5, 'Attribute', [
        fBytes(1, 'else_branch'),
        fVarint(20, 5),
        fMsg(6, 'Graph', [fBytes(2, `e${d}`)]),
      ]),
    ]);
    graph = [ifNode, fMsg(5, 'Tensor', tensorFields(`w${d}`, [1], [d])), fBytes(2, `g${d}`)];
  }
  return serialize(modelAround(graph));
}

/** ModelProto fields around a graph: IR 8, opset 13. */
export function modelAround(graph: Field[]): Field[] {
  return [
    fVarint(1, 8),
    fBytes(2, 'fuzz'),
    fMsg(7, 'Graph', graph),
    { num: 8, wire: LEN, raw: serialize([fBytes(1, ''), fVarint(2, 13)]) },
  ];
}

/**
 * A model whose graph holds one unknown length-delimited field nested `depth` times (field 999 in field
 * 999 …): a scanner that recurses into unknown fields, or that recurses per nesting level without a
 * limit, overflows the stack.
 */
export function deepUnknownNesting(depth: number, fieldNumber = 999): Uint8Array {
  let inner: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < depth; i++) inner = serialize([{ num: fieldNumber, wire: LEN, raw: inner }]);
  const graph: Field[] = [fBytes(2, 'g'), { num: fieldNumber, wire: LEN, raw: inner }];
  return serialize(modelAround(graph));
}

/**
 * 10,000 nested *known* messages: graph → node → attribute(g) → graph → … built directly as bytes
 * (every child is its parent's last field, so the file is the prefixes of all levels, outermost first,
 * then the leaf). The scanner must stop at its depth limit with a FormatError, not a stack overflow.
 */
export function deepKnownNesting(levels: number): Uint8Array {
  const leaf = serialize([fBytes(2, 'leaf')]);
  const attrHead = serialize([fBytes(1, 'then_branch'), fVarint(20, 5)]);
  const nodeHead = serialize([fBytes(1, 'c'), fBytes(2, 'o'), fBytes(4, 'If')]);
  const tag = (num: number) => encodeVarint((num << 3) | LEN);
  // Inside out: the length of each level's graph / node / attribute.
  const prefixes: Uint8Array[] = [];
  let graphLen = leaf.length;
  for (let i = 0; i < levels; i++) {
    const attrPrefix = [attrHead, tag(6), encodeVarint(graphLen)];
    const attrLen = attrPrefix.reduce((n, b) => n + b.length, 0) + graphLen;
    const nodePrefix = [nodeHead, tag(5), encodeVarint(attrLen)];
    const nodeLen = nodePrefix.reduce((n, b) => n + b.length, 0) + attrLen;
    const graphPrefix = [tag(1), encodeVarint(nodeLen)];
    graphLen = graphPrefix.reduce((n, b) => n + b.length, 0) + nodeLen;
    prefixes.push(concat([...graphPrefix, ...nodePrefix, ...attrPrefix]));
  }
  prefixes.reverse();
  return concat([serialize([fVarint(1, 8)]), tag(7), encodeVarint(graphLen), ...prefixes, leaf]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
