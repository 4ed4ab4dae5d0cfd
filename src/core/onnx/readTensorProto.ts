import { FormatError } from '../errors';
import { rawByteLength } from '../tensor/dataType';
import { checkExternalLocation } from './externalLocation';
import type { FieldSpan, Payload, TensorInfo, TensorPart, TypedFieldNumber, TypedRange } from './modelIndex';
import { type FieldHeader, type WireReader, WireType } from './wireReader';

/** A TensorProto as read, with its own name (initializers are named by it). */
export type NamedTensorPart = TensorPart & { name: string };

/** A SparseTensorProto as read: `dims` are the dense dims. */
export interface SparseTensorPart {
  name: string;
  values: NamedTensorPart;
  indices: TensorPart;
  dims: number[];
  field: FieldSpan;
}

const T = { dims: 1, dataType: 2, name: 8, rawData: 9, externalData: 13, dataLocation: 14 };
const TYPED_FIELDS = new Set<number>([4, 5, 6, 7, 10, 11]);

export const span = (h: FieldHeader): FieldSpan => ({
  start: h.start,
  lenStart: h.lenStart,
  valueStart: h.valueStart,
  end: h.end,
});

/** The element count of `dims`, refusing negative, fractional or absurd dims (a FormatError naming `label`). */
export function checkedCount(dims: number[], label: string, maxElements: number, at?: number): number {
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new FormatError(`${label} has invalid dimension ${d}`, at);
    count *= d;
    if (count > maxElements)
      throw new FormatError(`${label} declares an absurd size (dims ${dims.join('×')})`, at);
  }
  return count;
}

/**
 * A TensorProto: header fields read, payload located (raw, typed ranges or external), never read.
 * Dims are checked (non-negative, product at most `maxElements`) and external locations made safe.
 */
export function readTensorProto(r: WireReader, h: FieldHeader, maxElements: number): NamedTensorPart {
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
        const kv = readKeyValue(r, f);
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
  checkedCount(dims, `tensor ${label}`, maxElements, h.start);
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
  } else if (raw) {
    payload = { kind: 'raw', offset: raw.valueStart, length: raw.end - raw.valueStart };
  } else if (typedField !== undefined) {
    payload = { kind: 'typed', field: typedField, ranges: typed };
  } else {
    payload = { kind: 'empty' };
  }
  return { name, dtype, dims, payload, field: span(h) };
}

/** A SparseTensorProto: its values and indices tensors and the dense dims (checked like a tensor's). */
export function readSparseTensorProto(r: WireReader, h: FieldHeader, maxElements: number): SparseTensorPart {
  let values: (TensorPart & { name: string }) | undefined;
  let indices: TensorPart | undefined;
  const dims: number[] = [];
  r.fields(h.valueStart, h.end, (f) => {
    if (f.field === 1) values = readTensorProto(r, f, maxElements);
    else if (f.field === 2) indices = readTensorProto(r, f, maxElements);
    else if (f.field === 3) r.ints(f, dims);
  });
  if (!values || !indices) throw new FormatError('sparse tensor without values or indices', h.start);
  checkedCount(dims, `sparse tensor ${values.name || '(unnamed)'}`, maxElements, h.start);
  return { name: values.name, values, indices, dims, field: span(h) };
}

/** A StringStringEntryProto (metadata, external data entries). */
export function readKeyValue(r: WireReader, h: FieldHeader): { key: string; value: string } {
  r.expect(h, WireType.LEN);
  let key = '';
  let value = '';
  r.fields(h.valueStart, h.end, (f) => {
    if (f.field === 1) key = r.string(f);
    else if (f.field === 2) value = r.string(f);
  });
  return { key, value };
}

function parseExternalNumber(text: string, key: string, label: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new FormatError(`tensor ${label} has an invalid external data ${key} "${text}"`);
  }
  return Number(text);
}

/** How a payload is stored, as reports name it. */
export function storageOf(payload: Payload): TensorInfo['storage'] {
  if (payload.kind === 'external') return 'external';
  if (payload.kind === 'raw') return 'raw';
  return 'typed';
}

/** Bytes a payload takes where it is stored. */
export function storedBytes(payload: Payload, dtype: number, count: number): number {
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
