import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { TensorInfo } from '../onnx/modelIndex';
import { tensorValues } from '../tensor/tensorValues';

/** Tensors up to this many elements are kept once read; larger ones are read again when needed. */
const CACHE_ELEMENTS = 1 << 16;

/**
 * A tensor's values as one float32 array. Small ones (scalars, biases, per-unit constants, which the finder,
 * the importance and the slicing all read) are kept; a large weight is read again, so memory holds a few
 * weights at a time, not the model.
 */
export function weightCache(
  source: ByteSource,
  resolve: ExternalDataResolver,
): (t: TensorInfo) => Float32Array {
  const cache = new Map<number, Float32Array>();
  return (t) => {
    const hit = cache.get(t.id);
    if (hit) return hit;
    const out = new Float32Array(t.count);
    let at = 0;
    for (const chunk of tensorValues(t, source, resolve).chunks()) {
      if (chunk instanceof Float32Array) out.set(chunk, at);
      else for (let i = 0; i < chunk.length; i++) out[at + i] = Number(chunk[i]);
      at += chunk.length;
    }
    if (t.count <= CACHE_ELEMENTS) cache.set(t.id, out);
    return out;
  };
}
