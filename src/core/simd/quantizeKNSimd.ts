import {
  type BlockParams,
  type BlockQuantizer,
  FLT_MAX,
  MAX_BYTES,
  quantizeKernels as module,
} from './quantizeKernels';
import { layoutRegions } from './simdModule';

/**
 * quantizeKN of quantizeBlockwise.ts (MatMul's B [K, N], no alpha) on the SIMD kernels: per block of rows,
 * the rows are copied into the module's memory, their per-column ranges, codes and packed bytes computed
 * there, four columns at a time; scales and zero points still come from `params`, in JS. The codes are
 * bit-identical to the JS loops; the energies are summed in another order (equal to rounding).
 * Returns false (having done nothing) when SIMD is unavailable or the weight is too large for it.
 */
export function quantizeKNSimd(
  q: BlockQuantizer,
  w: Float32Array,
  K: number,
  N: number,
  params: BlockParams,
): boolean {
  const k = module.exports();
  if (!k) return false;
  const { blockSize, kBlocks, blob, bits, qMax } = q;
  const col = N * 4;
  // mins, maxs, scale, recip, zps, the block's rows, its codes, then the whole packed output.
  const at = layoutRegions([col, col, col, col, col, blockSize * col, blockSize * N, N * kBlocks * blob]);
  if (at[at.length - 1] > MAX_BYTES) return false;
  const buffer = module.reserve(k.memory, at[at.length - 1]);
  const view = (i: number, n: number) => new Float32Array(buffer, at[i], n);
  const [mins, maxs, scale, recip, zps] = [0, 1, 2, 3, 4].map((i) => view(i, N));
  const rows = new Float32Array(buffer, at[5], blockSize * N);
  const codes = new Uint8Array(buffer, at[6], blockSize * N);
  const out = new Float64Array(4);
  k.resetEnergy();
  for (let kb = 0; kb < kBlocks; kb++) {
    const k0 = kb * blockSize;
    const k1 = Math.min(K, k0 + blockSize);
    rows.set(w.subarray(k0 * N, k1 * N));
    mins.fill(FLT_MAX);
    maxs.fill(-FLT_MAX);
    k.ranges(at[5], k1 - k0, N, at[0], at[1]);
    for (let n = 0; n < N; n++) {
      params(n, kb, mins[n], maxs[n], out);
      scale[n] = out[0];
      recip[n] = out[1];
      zps[n] = out[2];
    }
    k.codes(at[5], k1 - k0, N, at[3], at[4], at[2], at[6], qMax);
    // Padding rows encode 0.0: the zero point.
    for (let r = k1; r < k0 + blockSize; r++) codes.set(zps, (r - k0) * N);
    k.pack(at[6], at[7] + kb * blob, N, kBlocks * blob, blob, bits);
  }
  q.b.set(new Uint8Array(buffer, at[7], q.b.length));
  q.signalEnergy = k.signal();
  q.errorEnergy = k.error();
  return true;
}
