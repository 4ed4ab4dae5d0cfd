import {
  type BlockParams,
  type BlockQuantizer,
  MAX_BYTES,
  quantizeKernels as module,
} from './quantizeKernels';
import { layoutRegions } from './simdModule';

/**
 * quantizeNK of quantizeBlockwise.ts (Gemm's transB=1 B [N, K], no alpha) on the SIMD kernels: each row is
 * copied into the module's memory, where its blocks' ranges, codes (four values at a time) and packed bytes
 * are computed; scales and zero points still come from `params`, in JS. The codes are bit-identical to the
 * JS loop; the energies are summed in another order (equal to rounding). Returns false (having done
 * nothing) when SIMD is unavailable or a row is too large for it.
 */
export function quantizeNKSimd(
  q: BlockQuantizer,
  w: Float32Array,
  K: number,
  N: number,
  params: BlockParams,
): boolean {
  const k = module.exports();
  if (!k) return false;
  const { blockSize, kBlocks, blob, bits, qMax } = q;
  const per = kBlocks * 4;
  // the row, mins, maxs, scale, recip, zps, the row's codes (padded), its packed bytes
  const at = layoutRegions([K * 4, per, per, per, per, per, kBlocks * blockSize, kBlocks * blob]);
  if (at[at.length - 1] > MAX_BYTES) return false;
  const buffer = module.reserve(k.memory, at[at.length - 1]);
  const row = new Float32Array(buffer, at[0], K);
  const [mins, maxs, scale, recip, zps] = [1, 2, 3, 4, 5].map(
    (i) => new Float32Array(buffer, at[i], kBlocks),
  );
  const packed = new Uint8Array(buffer, at[7], kBlocks * blob);
  const out = new Float64Array(4);
  k.resetEnergy();
  for (let n = 0; n < N; n++) {
    row.set(w.subarray(n * K, (n + 1) * K));
    k.rangesNK(at[0], K, blockSize, at[1], at[2]);
    for (let kb = 0; kb < kBlocks; kb++) {
      params(n, kb, mins[kb], maxs[kb], out);
      scale[kb] = out[0];
      recip[kb] = out[1];
      zps[kb] = out[2];
    }
    k.codesNK(at[0], K, blockSize, at[4], at[5], at[3], at[6], qMax);
    k.packRun(at[6], kBlocks * blockSize, at[7], bits);
    q.b.set(packed, n * kBlocks * blob);
  }
  q.signalEnergy = k.signal();
  q.errorEnergy = k.error();
  return true;
}
