import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex, TensorInfo } from '../onnx/modelIndex';
import { allFiniteInScratch, quantizeScratch } from '../simd/quantizeScratch';
import { allFinite } from '../tensor/allFinite';
import { DataType } from '../tensor/dataType';
import { rawFloat32At } from '../tensor/readFloat32Into';

/**
 * Reads the weights planQuantize quantizes, one at a time, into one reused buffer in the quantizer
 * kernels' memory (sized on the first read for every dense 2-D float32 tensor a MatMul or Gemm reads as
 * its B), so the kernels quantize each where it is: no fresh multi-MB array per weight and no copy of its
 * rows into the kernels. Each chunk is checked for NaN and infinities as it arrives (and reading stops at
 * the first). A weight that is not stored as raw float32 (or when SIMD is missing) comes from `fallback`.
 * Returns the values (valid until the next read), or undefined when one is NaN or infinite.
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
            x.consumers.some((c) => c.input === 1 && MATMULS.has(index.nodes[c.nodeId].opType)),
        ),
        blockSize,
        bits,
      ) ?? new Float32Array(0);
    const at = t.count <= scratch.length ? rawFloat32At(t, source, resolveExternal) : undefined;
    if (!at) return fallback(t);
    const values = scratch.subarray(0, t.count);
    // Read and checked a chunk at a time: the check finds the values in the cache the read just filled.
    for (let i = 0; i < t.count; i += CHUNK) {
      const part = values.subarray(i, Math.min(t.count, i + CHUNK));
      const bytes = new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
      if (at.file.readInto) at.file.readInto(at.offset + 4 * i, bytes);
      else bytes.set(at.file.read(at.offset + 4 * i, bytes.length));
      if (!(allFiniteInScratch(part) ?? allFinite(part))) return undefined;
    }
    return values;
  };
}

/** The readers of the weights planQuantize can quantize (at input 1). */
const MATMULS = new Set(['MatMul', 'Gemm']);

/** Values read and checked at a time (1 MiB). */
const CHUNK = 1 << 18;
