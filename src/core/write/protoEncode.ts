import { Writer } from 'protobufjs/minimal';

/** Bytes a non-negative varint takes. */
export function varintLength(value: number): number {
  let n = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** A non-negative integer (exact below 2^53) as a protobuf varint. */
export function encodeVarint(value: number): Uint8Array {
  if (value < 0 || !Number.isSafeInteger(value)) throw new RangeError(`cannot encode ${value} as a varint`);
  const out = new Uint8Array(varintLength(value));
  let i = 0;
  while (value >= 128) {
    out[i++] = value % 128 | 0x80;
    value = Math.floor(value / 128);
  }
  out[i] = value;
  return out;
}

/** An ONNX attribute of a new node. */
export type NewAttribute =
  | { name: string; i: number }
  | { name: string; f: number }
  | { name: string; s: string }
  | { name: string; ints: number[] }
  | { name: string; floats: number[] };

/** A node the writer inserts (new nodes are small: encoded whole with protobufjs's Writer). */
export interface NewNode {
  opType: string;
  domain?: string;
  name?: string;
  inputs: string[];
  outputs: string[];
  attributes?: NewAttribute[];
}

// AttributeProto.AttributeType
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 };

/** NodeProto bytes (without the enclosing field header). */
export function encodeNode(node: NewNode): Uint8Array {
  const w = Writer.create();
  for (const input of node.inputs) w.uint32((1 << 3) | 2).string(input);
  for (const output of node.outputs) w.uint32((2 << 3) | 2).string(output);
  if (node.name) w.uint32((3 << 3) | 2).string(node.name);
  w.uint32((4 << 3) | 2).string(node.opType);
  for (const a of node.attributes ?? []) w.uint32((5 << 3) | 2).bytes(encodeAttribute(a));
  if (node.domain) w.uint32((7 << 3) | 2).string(node.domain);
  return w.finish();
}

function encodeAttribute(a: NewAttribute): Uint8Array {
  const w = Writer.create();
  w.uint32((1 << 3) | 2).string(a.name);
  if ('f' in a)
    w.uint32((2 << 3) | 5)
      .float(a.f)
      .uint32(20 << 3)
      .int32(ATTR.FLOAT);
  else if ('i' in a)
    w.uint32(3 << 3)
      .int64(a.i)
      .uint32(20 << 3)
      .int32(ATTR.INT);
  else if ('s' in a)
    w.uint32((4 << 3) | 2)
      .string(a.s)
      .uint32(20 << 3)
      .int32(ATTR.STRING);
  else if ('floats' in a) {
    w.uint32((7 << 3) | 2).fork();
    for (const f of a.floats) w.float(f);
    w.ldelim()
      .uint32(20 << 3)
      .int32(ATTR.FLOATS);
  } else {
    w.uint32((8 << 3) | 2).fork();
    for (const i of a.ints) w.int64(i);
    w.ldelim()
      .uint32(20 << 3)
      .int32(ATTR.INTS);
  }
  return w.finish();
}

/** OperatorSetIdProto bytes. */
export function encodeOpset(domain: string, version: number): Uint8Array {
  const w = Writer.create();
  if (domain) w.uint32((1 << 3) | 2).string(domain);
  w.uint32(2 << 3).int64(version);
  return w.finish();
}

/**
 * The header of a TensorProto: dims, data_type and, for external data, the location entries.
 * The payload (raw_data) follows as separate pieces so large tensors are never copied into one buffer.
 */
export function encodeTensorHeader(
  dtype: number,
  dims: number[],
  external?: { location: string; offset: number; length: number },
): Uint8Array {
  const w = Writer.create();
  for (const d of dims) w.uint32(1 << 3).int64(d);
  w.uint32(2 << 3).int32(dtype);
  if (external) {
    const entry = (key: string, value: string) => {
      w.uint32((13 << 3) | 2).fork();
      w.uint32((1 << 3) | 2).string(key);
      w.uint32((2 << 3) | 2).string(value);
      w.ldelim();
    };
    entry('location', external.location);
    entry('offset', String(external.offset));
    entry('length', String(external.length));
    w.uint32(14 << 3).int32(1);
  }
  return w.finish();
}

/** A string field (tag + length + UTF-8). */
export function encodeStringField(field: number, value: string): Uint8Array {
  return Writer.create()
    .uint32((field << 3) | 2)
    .string(value)
    .finish();
}

/** A repeated int64 field, unpacked (as proto2 ONNX writes `dims`). */
export function encodeInt64s(field: number, values: readonly number[]): Uint8Array {
  const w = Writer.create();
  for (const v of values) w.uint32(field << 3).int64(v);
  return w.finish();
}
