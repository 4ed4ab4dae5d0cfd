import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { TensorInfo } from '../onnx/modelIndex';
import { tensorValues } from '../tensor/tensorValues';

/**
 * A tensor's values as one float32 array, read once and kept for the plan's later steps (the
 * finder's scalars, the importance, the slicing all read the same few weights).
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
    cache.set(t.id, out);
    return out;
  };
}
