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
  const at = rawFloat32At(tensor, source, resolveExternal);
  if (!at || target.length < tensor.count) return false;
  const bytes = new Uint8Array(target.buffer, target.byteOffset, tensor.count * 4);
  if (at.file.readInto) at.file.readInto(at.offset, bytes);
  else bytes.set(at.file.read(at.offset, bytes.length));
  return true;
}

/** Where a dense float32 tensor's raw little-endian values start, when it is stored that way. */
export function rawFloat32At(
  tensor: TensorInfo,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
): { file: ByteSource; offset: number } | undefined {
  const p = tensor.payload;
  if (tensor.dtype !== DataType.FLOAT || tensor.sparse) return undefined;
  const length = tensor.count * 4;
  if (p.kind === 'raw' && p.length === length) return { file: source, offset: p.offset };
  if (p.kind === 'external' && (p.length ?? length) === length) {
    const file = resolveExternal(p.location);
    return p.offset + length <= file.size ? { file, offset: p.offset } : undefined;
  }
  return undefined;
}
