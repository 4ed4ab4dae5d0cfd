import { FormatError } from '../errors';
import type { FieldSpan } from '../onnx/modelIndex';
import { encodeVarint, varintLength } from './protoEncode';

/** A stretch of output: bytes copied from the model or an external data file, or new bytes. */
export type Piece =
  | { kind: 'source'; offset: number; length: number }
  | { kind: 'external'; location: string; offset: number; length: number }
  | { kind: 'bytes'; bytes: Uint8Array };

/** Replace [start, end) of the model file with `pieces`; `ancestors` are the fields that enclose the range. */
export interface Splice {
  start: number;
  end: number;
  pieces: Piece[];
  ancestors: FieldSpan[];
}

export function pieceLength(p: Piece): number {
  return p.kind === 'bytes' ? p.bytes.length : p.length;
}

export function piecesLength(pieces: Piece[]): number {
  let n = 0;
  for (const p of pieces) n += pieceLength(p);
  return n;
}

/**
 * Turns splices into the pieces of the new file: every untouched byte range is copied verbatim, and
 * the length prefix of every field that encloses a splice is re-encoded with its new length. With no
 * splices the result is the whole file, one copy.
 */
export function applySplices(size: number, splices: Splice[]): Piece[] {
  const sorted = [...splices].sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (cur.start < prev.end || (cur.start === prev.start && prev.start !== prev.end && cur.start !== cur.end)) {
      throw new FormatError(`conflicting edits overlap at byte ${cur.start}`);
    }
  }
  // Length change of every enclosing field, keyed by where its length varint starts.
  const grown = new Map<number, { field: FieldSpan; delta: number }>();
  for (const s of sorted) {
    const delta = piecesLength(s.pieces) - (s.end - s.start);
    if (delta === 0) continue;
    for (const field of s.ancestors) {
      if (s.start < field.valueStart || s.end > field.end) {
        throw new FormatError(`edit at ${s.start}..${s.end} is not inside its enclosing field ${field.start}..${field.end}`);
      }
      const entry = grown.get(field.lenStart);
      if (entry) entry.delta += delta;
      else grown.set(field.lenStart, { field, delta });
    }
  }
  const rewrites: Splice[] = [...sorted];
  for (const { field, delta } of grown.values()) {
    const newLength = field.end - field.valueStart + delta;
    if (newLength > 0x7fffffff) {
      throw new FormatError('a message of the new model would exceed 2 GiB: store large tensors as external data');
    }
    rewrites.push({ start: field.lenStart, end: field.valueStart, pieces: [{ kind: 'bytes', bytes: encodeVarint(newLength) }], ancestors: [] });
  }
  rewrites.sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Piece[] = [];
  let pos = 0;
  for (const r of rewrites) {
    if (r.start > pos) out.push({ kind: 'source', offset: pos, length: r.start - pos });
    out.push(...r.pieces);
    pos = Math.max(pos, r.end);
  }
  if (pos < size) out.push({ kind: 'source', offset: pos, length: size - pos });
  return out;
}

/** A length-delimited field header (tag + length) for a value of `length` bytes. */
export function fieldHeader(field: number, length: number): Uint8Array {
  const tag = encodeVarint(field * 8 + 2);
  const out = new Uint8Array(tag.length + varintLength(length));
  out.set(tag, 0);
  out.set(encodeVarint(length), tag.length);
  return out;
}
