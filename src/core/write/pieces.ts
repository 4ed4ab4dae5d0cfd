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
    if (
      cur.start < prev.end ||
      (cur.start === prev.start && prev.start !== prev.end && cur.start !== cur.end)
    ) {
      throw new FormatError(`conflicting edits overlap at byte ${cur.start}`);
    }
  }
  // Size change inside every enclosing field, keyed by where its length varint starts. A splice counts
  // toward its innermost field; a field whose length varint grows or shrinks passes that on to its parent.
  const fields = new Map<number, { field: FieldSpan; depth: number; parent?: number; delta: number }>();
  for (const s of sorted) {
    s.ancestors.forEach((field, depth) => {
      if (s.start < field.valueStart || s.end > field.end) {
        throw new FormatError(
          `edit at ${s.start}..${s.end} is not inside its enclosing field ${field.start}..${field.end}`,
        );
      }
      if (!fields.has(field.lenStart))
        fields.set(field.lenStart, { field, depth, parent: s.ancestors[depth - 1]?.lenStart, delta: 0 });
    });
    const innermost = s.ancestors.at(-1);
    if (innermost) fields.get(innermost.lenStart)!.delta += piecesLength(s.pieces) - (s.end - s.start);
  }
  const rewrites: Splice[] = [...sorted];
  for (const f of [...fields.values()].sort((a, b) => b.depth - a.depth)) {
    if (f.delta === 0) continue;
    const newLength = f.field.end - f.field.valueStart + f.delta;
    if (newLength > 0x7fffffff) {
      throw new FormatError(
        'a message of the new model would exceed 2 GiB: store large tensors as external data',
      );
    }
    const header = encodeVarint(newLength);
    rewrites.push({
      start: f.field.lenStart,
      end: f.field.valueStart,
      pieces: [{ kind: 'bytes', bytes: header }],
      ancestors: [],
    });
    if (f.parent !== undefined)
      fields.get(f.parent)!.delta += f.delta + header.length - (f.field.valueStart - f.field.lenStart);
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
