import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { TensorInfo } from '../onnx/modelIndex';
import { allFiniteInKernels, type WeightRows } from '../simd/quantizeKernels';
import { allFinite } from '../tensor/allFinite';
import { rawFloat32At } from '../tensor/readFloat32Into';

/**
 * The weights planQuantize quantizes, as the quantizer reads them: a weight stored as raw float32 is a
 * WeightRows, read a few rows at a time straight into the kernels' memory while the quantizer goes (no
 * array of the whole weight, and each piece is still in the cache when the kernels work on it), each piece
 * checked for NaN and infinities as it arrives; any other comes whole from `fallback` (undefined: NaN or
 * infinite values).
 */
export function weightReader(
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  fallback: (t: TensorInfo) => Float32Array | undefined,
): (t: TensorInfo) => Float32Array | WeightRows | undefined {
  return (t) => {
    const at = rawFloat32At(t, source, resolveExternal);
    if (!at) return fallback(t);
    return {
      length: t.count,
      fill(from: number, into: Float32Array): boolean {
        const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
        if (at.file.readInto) at.file.readInto(at.offset + 4 * from, bytes);
        else bytes.set(at.file.read(at.offset + 4 * from, bytes.length));
        return allFiniteInKernels(into) ?? allFinite(into);
      },
    };
  };
}
