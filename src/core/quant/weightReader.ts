import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex, TensorInfo } from '../onnx/modelIndex';
import { allFiniteInScratch, quantizeScratch } from '../simd/quantizeScratch';
import { allFinite } from '../tensor/allFinite';
import { DataType } from '../tensor/dataType';
import { readFloat32Into } from '../tensor/readFloat32Into';

/**
 * Reads the weights planQuantize quantizes, one at a time, into one reused buffer in the quantizer
 * kernels' memory (sized on the first read for every dense 2-D float32 tensor some node reads as its
 * input 1, the B of MatMul and Gemm), so the kernels quantize each where it is: no fresh multi-MB array
 * per weight and no copy of its rows into the kernels. A weight that is not stored as raw float32 (or when
 * SIMD is missing) comes from `fallback`. Returns the values (valid until the next read), or undefined when
 * one is NaN or infinite.
 */
export function weightReader(
  index: ModelIndex,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  blockSize: number,
  bits: number,
  fallback: (t: TensorInfo) => Float32Array | undefined,
): (t: TensorInfo) => Float32Array | undefined {
  let scratch: Float32Array | undefined;
  return (t) => {
    scratch ??=
      quantizeScratch(
        index.tensors.filter(
          (x) =>
            x.dtype === DataType.FLOAT &&
            x.dims.length === 2 &&
            !x.sparse &&
            x.consumers.some((c) => c.input === 1),
        ),
        blockSize,
        bits,
      ) ?? new Float32Array(0);
    const values = scratch.subarray(0, t.count);
    if (t.count > scratch.length || !readFloat32Into(t, source, resolveExternal, values)) return fallback(t);
    return (allFiniteInScratch(values) ?? allFinite(values)) ? values : undefined;
  };
}
