import { FormatError } from '../errors';
import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { Payload, SparseParts } from '../onnx/modelIndex';
import { DataType, type DataTypeCode, dataTypeName, rawByteLength } from './dataType';
import { LITTLE_ENDIAN, canDecode, chunkKind, decodeRawElements, newChunk } from './decodeRawElements';
import { sparseTensorValues } from './sparseTensorValues';
import { TypedValueReader } from './typedValueReader';
import { type ValueChunk, type ValueStream, normalizeChunkElements } from './valueStream';

/** The parts of a TensorInfo / TensorPart that say where its values are. */
export interface TensorSource {
  dtype: DataTypeCode;
  dims: number[];
  payload: Payload;
  /** Set for sparse tensors: `dims` are then the dense dims and `payload` is ignored. */
  sparse?: SparseParts;
}

export interface TensorValuesOptions {
  /** Values per chunk (rounded up to a multiple of 8); default 1M. */
  chunkElements?: number;
}

/** Elements of a tensor with these dims; refuses dims that are negative, fractional or absurd. */
export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new FormatError(`invalid dimension ${d} in [${dims.join(', ')}]`);
    count *= d;
  }
  if (!Number.isSafeInteger(count)) throw new FormatError(`dims [${dims.join(', ')}] hold too many elements`);
  return count;
}

/**
 * A tensor's values as a re-iterable stream of number chunks, read from `source` (the model file) or
 * its external data file by offset, `chunkElements` at a time. Problems that can be seen without reading
 * the values (a payload shorter or longer than the dims need, a range past the end of its file, a dtype
 * that is not numeric) throw a FormatError here; problems inside typed or sparse payloads throw one while
 * iterating.
 */
export function tensorValues(
  part: TensorSource,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  options: TensorValuesOptions = {},
): ValueStream {
  const chunkElements = normalizeChunkElements(options.chunkElements);
  const { dtype, dims, payload } = part;
  const count = elementCount(dims);
  if (part.sparse !== undefined) {
    const openPart = (p: TensorSource, s: ByteSource, r: ExternalDataResolver) =>
      tensorValues(p, s, r, { chunkElements });
    return sparseTensorValues(part.sparse, dtype, dims, source, resolveExternal, chunkElements, openPart);
  }
  if (!canDecode(dtype)) throw new FormatError(`cannot read ${dataTypeName(dtype)} values as numbers`);
  const what = `${dataTypeName(dtype)} [${dims.join(', ')}]`;
  const needed = rawByteLength(dtype, count);
  switch (payload.kind) {
    case 'empty':
      if (count !== 0) throw new FormatError(`tensor ${what} has no data`);
      return { count: 0, chunks: () => [] };
    case 'values': {
      if (payload.values.length !== count) {
        throw new FormatError(`attribute holds ${payload.values.length} values; ${what} needs ${count}`);
      }
      const values = newChunk(dtype, count);
      values.set(payload.values);
      return {
        count,
        *chunks() {
          for (let s = 0; s < count; s += chunkElements)
            yield values.subarray(s, Math.min(count, s + chunkElements));
        },
      };
    }
    case 'raw':
      if (payload.length !== needed) {
        throw new FormatError(
          `raw_data has ${payload.length} bytes; ${what} needs ${needed}`,
          payload.offset,
        );
      }
      checkInside(source, payload.offset, needed, 'raw_data');
      return rawStream(dtype, count, source, payload.offset, chunkElements);
    case 'external': {
      const file = resolveExternal(payload.location);
      const length = payload.length ?? needed;
      if (length !== needed) {
        throw new FormatError(
          `external data '${payload.location}' length is ${length} bytes; ${what} needs ${needed}`,
        );
      }
      if (!Number.isSafeInteger(payload.offset) || payload.offset < 0) {
        throw new FormatError(`external data '${payload.location}' has an invalid offset ${payload.offset}`);
      }
      checkInside(file, payload.offset, needed, `external data '${payload.location}'`);
      return rawStream(dtype, count, file, payload.offset, chunkElements);
    }
    case 'typed': {
      // Constructing a reader validates the ranges; each pass gets a fresh one.
      new TypedValueReader(source, payload.field, payload.ranges, dtype, count);
      return {
        count,
        *chunks() {
          const reader = new TypedValueReader(source, payload.field, payload.ranges, dtype, count);
          const out = newChunk(dtype, Math.min(chunkElements, count));
          for (let produced = 0; produced < count; ) {
            const n = reader.fill(out);
            produced += n;
            yield out.subarray(0, n);
          }
        },
      };
    }
  }
}

function checkInside(file: ByteSource, offset: number, length: number, what: string): void {
  if (offset + length > file.size) {
    throw new FormatError(
      `${what} of ${length} bytes at ${offset} is past the end of the file (${file.size} bytes)`,
    );
  }
}

/** Values stored raw (raw_data or external data): fixed width, little endian, 4-bit types packed. */
function rawStream(
  dtype: DataTypeCode,
  count: number,
  file: ByteSource,
  offset: number,
  chunkElements: number,
): ValueStream {
  const direct = LITTLE_ENDIAN && (dtype === DataType.FLOAT || dtype === DataType.DOUBLE);
  const width = dtype === DataType.FLOAT ? 4 : 8;
  return {
    count,
    *chunks() {
      let out: ValueChunk | undefined;
      for (let start = 0; start < count; start += chunkElements) {
        const n = Math.min(chunkElements, count - start);
        // chunkElements is a multiple of 8, so a chunk of a 4-bit type starts on a byte.
        const bytes = file.read(offset + rawByteLength(dtype, start), rawByteLength(dtype, n));
        if (direct && bytes.byteOffset % width === 0) {
          // Zero-copy: a typed view of the bytes the source returned.
          yield chunkKind(dtype) === 'float32'
            ? new Float32Array(bytes.buffer, bytes.byteOffset, n)
            : new Float64Array(bytes.buffer, bytes.byteOffset, n);
          continue;
        }
        out ??= newChunk(dtype, Math.min(chunkElements, count));
        decodeRawElements(dtype, bytes, n, out);
        yield out.length === n ? out : out.subarray(0, n);
      }
    },
  };
}
