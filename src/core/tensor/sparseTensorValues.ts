import { FormatError } from '../errors';
import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { SparseParts, TensorPart } from '../onnx/modelIndex';
import { DataType, type DataTypeCode, dataTypeName } from './dataType';
import { newChunk } from './decodeRawElements';
import type { ValueChunk, ValueStream } from './valueStream';

/** Dense sizes above this are refused: a sparse weight that large is more likely a corrupt file. */
// 2^25 values (128 MB as float32): a sparse tensor is streamed dense twice for statistics, so a larger
// cap lets a 100-byte file with empty [16384, 16384] sparse tensors keep a core busy for many seconds.
export const MAX_SPARSE_DENSE_ELEMENTS = 2 ** 25;

const INDEX_TYPES = new Set<DataTypeCode>([
  DataType.INT64,
  DataType.INT32,
  DataType.INT16,
  DataType.INT8,
  DataType.UINT64,
  DataType.UINT32,
  DataType.UINT16,
  DataType.UINT8,
]);

/** Opens the value stream of one part (values or indices) of the sparse tensor. */
export type PartReader = (part: TensorPart, source: ByteSource, resolve: ExternalDataResolver) => ValueStream;

/**
 * The dense values of a SparseTensorProto, produced chunk by chunk without ever holding the dense tensor:
 * zeros everywhere except at the indices, which may be linearized (`[NNZ]`) or coordinates (`[NNZ, rank]`),
 * and must be in range and strictly ascending (onnx.proto). Index problems throw a FormatError while
 * iterating.
 */
export function sparseTensorValues(
  sparse: SparseParts,
  dtype: DataTypeCode,
  dims: number[],
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  chunkElements: number,
  openPart: PartReader,
): ValueStream {
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new FormatError(`invalid sparse dimension ${d}`);
    count *= d;
  }
  if (count > MAX_SPARSE_DENSE_ELEMENTS) {
    throw new FormatError(
      `sparse tensor [${dims.join(', ')}] is ${count} elements dense; the limit is ${MAX_SPARSE_DENSE_ELEMENTS}`,
    );
  }
  const valuesDtype = sparse.values.dtype;
  if (valuesDtype !== dtype) {
    throw new FormatError(
      `sparse values are ${dataTypeName(valuesDtype)}, the tensor says ${dataTypeName(dtype)}`,
    );
  }
  if (!INDEX_TYPES.has(sparse.indices.dtype)) {
    throw new FormatError(`sparse indices must be integers, not ${dataTypeName(sparse.indices.dtype)}`);
  }
  const values = openPart(sparse.values, source, resolveExternal);
  const indices = openPart(sparse.indices, source, resolveExternal);
  const nnz = values.count;
  const rank = dims.length;
  const indexDims = sparse.indices.dims;
  const linear = indexDims.length === 1 && indices.count === nnz;
  const coordinates = indexDims.length === 2 && indexDims[0] === nnz && indexDims[1] === rank;
  if (!(linear || coordinates) || (nnz > 0 && rank === 0)) {
    throw new FormatError(
      `sparse indices [${indexDims.join(', ')}] do not match ${nnz} values of a rank-${rank} tensor`,
    );
  }
  if (nnz > count) throw new FormatError(`sparse tensor has ${nnz} values but only ${count} elements`);

  return {
    count,
    *chunks() {
      const valueCursor = new Cursor(values, 'values');
      const indexCursor = new Cursor(indices, 'indices');
      let taken = 0;
      let previous = -1;
      const nextIndex = (): number => {
        if (taken >= nnz) return Infinity;
        let index: number;
        if (linear) {
          index = indexCursor.next();
          if (!(Number.isInteger(index) && index >= 0 && index < count)) {
            throw new FormatError(`sparse index ${index} is outside [0, ${count})`);
          }
        } else {
          index = 0;
          for (let axis = 0; axis < rank; axis++) {
            const c = indexCursor.next();
            if (!(Number.isInteger(c) && c >= 0 && c < dims[axis])) {
              throw new FormatError(`sparse coordinate ${c} on axis ${axis} is outside [0, ${dims[axis]})`);
            }
            index = index * dims[axis] + c;
          }
        }
        if (index <= previous)
          throw new FormatError(`sparse indices are not strictly ascending at value ${taken}`);
        previous = index;
        return index;
      };
      let next = nextIndex();
      const out: ValueChunk = newChunk(dtype, Math.min(chunkElements, count));
      for (let start = 0; start < count; start += chunkElements) {
        const n = Math.min(chunkElements, count - start);
        out.fill(0, 0, n);
        const end = start + n;
        while (next < end) {
          out[next - start] = valueCursor.next();
          taken++;
          next = nextIndex();
        }
        yield out.subarray(0, n);
      }
    },
  };
}

/** Reads a stream one value at a time (sparse values and indices are walked in step). */
class Cursor {
  private readonly iterator: Iterator<ValueChunk>;
  private chunk: ValueChunk = new Float64Array(0);
  private position = 0;

  constructor(
    stream: ValueStream,
    private readonly what: string,
  ) {
    this.iterator = stream.chunks()[Symbol.iterator]();
  }

  next(): number {
    while (this.position >= this.chunk.length) {
      const r = this.iterator.next();
      if (r.done) throw new FormatError(`sparse ${this.what} ended early`);
      this.chunk = r.value;
      this.position = 0;
    }
    return this.chunk[this.position++];
  }
}
