import { MAX_BYTES, quantizeKernels, setWorkBase } from './quantizeKernels';
import { workBytesKN } from './quantizeKNSimd';
import { workBytesNK } from './quantizeNKSimd';

/** The weights a scratch buffer must hold: 2-D dims (either layout may read them). */
export interface ScratchWeight {
  dims: readonly number[];
}

/**
 * A Float32Array in the quantizer kernels' memory big enough for every one of `weights` (made once per
 * call: growing the memory detaches the previous one), to read weights into so the kernels quantize them
 * where they are instead of copying each block of rows in. The kernels' work regions for the largest of
 * them, in either layout, are reserved too, so no kernel call grows the memory (which would detach the
 * buffer while a weight is in it). Undefined without SIMD, or when it would not fit in the kernels' memory.
 */
export function quantizeScratch(
  weights: readonly ScratchWeight[],
  blockSize: number,
  bits: number,
): Float32Array | undefined {
  const k = quantizeKernels.exports();
  if (!k) return undefined;
  let count = 0;
  let work = 0;
  for (const { dims } of weights) {
    // Read as MatMul's B [K, N] = dims, or as Gemm's transB=1 B [N, K] = dims.
    const [a, b] = dims;
    count = Math.max(count, a * b);
    work = Math.max(work, workBytesKN(a, b, blockSize, bits), workBytesNK(b, a, blockSize, bits));
  }
  const end = Math.ceil((count * 4) / 16) * 16;
  if (end + work > MAX_BYTES) return undefined;
  setWorkBase(end);
  return new Float32Array(quantizeKernels.reserve(k.memory, end + work), 0, count);
}

/**
 * Whether no value of `values` is NaN or infinite, checked where they are when they lie in the kernels'
 * memory (read into quantizeScratch); undefined otherwise.
 */
export function allFiniteInScratch(values: Float32Array): boolean | undefined {
  const k = quantizeKernels.exports();
  if (!k || values.buffer !== k.memory.buffer) return undefined;
  return k.finite(values.byteOffset, values.length) === 1;
}
