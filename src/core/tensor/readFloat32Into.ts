import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { TensorInfo } from '../onnx/modelIndex';
import { DataType } from './dataType';

/**
 * Reads a dense float32 tensor stored as raw bytes (inline raw_data or external data) straight into
 * `target` (its first `count` values), with no intermediate buffer where the source can fill one: callers
 * reuse `target` tensor after tensor, since fresh multi-MB buffers cost page faults. False, and nothing
 * read, when the tensor is not such a tensor or its payload length is off (tensorValues then reports the
 * problem); `target` must hold at least `count` values.
 */
export function readFloat32Into(
  tensor: TensorInfo,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  target: Float32Array,
): boolean {
  const p = tensor.payload;
  if (tensor.dtype !== DataType.FLOAT || tensor.sparse || target.length < tensor.count) return false;
  const length = tensor.count * 4;
  let file: ByteSource;
  let offset: number;
  if (p.kind === 'raw' && p.length === length) [file, offset] = [source, p.offset];
  else if (p.kind === 'external' && (p.length ?? length) === length) {
    [file, offset] = [resolveExternal(p.location), p.offset];
    if (offset + length > file.size) return false;
  } else return false;
  const bytes = new Uint8Array(target.buffer, target.byteOffset, length);
  if (file.readInto) file.readInto(offset, bytes);
  else bytes.set(file.read(offset, length));
  return true;
}
