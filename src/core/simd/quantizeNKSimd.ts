import {
  type BlockParams,
  type BlockQuantizer,
  MAX_BYTES,
  quantizeKernels as module,
  paramRegions,
  paramsInKernels,
  workBase,
} from './quantizeKernels';
import { layoutRegions } from './simdModule';

/**
 * The kernels' regions for one [N, K] weight, from `base`: mins, maxs, scale, recip, zps, one row's codes
 * (padded) and packed bytes, the weight's scales and zero points (float32 scales) then, only for a weight
 * outside the module's memory, the row.
 */
function regionsNK(
  K: number,
  N: number,
  blockSize: number,
  bits: number,
  fp16: boolean,
  copied: boolean,
  base = 0,
) {
  const kBlocks = Math.ceil(K / blockSize);
  const per = kBlocks * 4;
  const params = paramRegions(fp16, N, kBlocks, bits);
  const sizes = [per, per, per, per, per, kBlocks * blockSize, (kBlocks * blockSize * bits) / 8, ...params];
  return layoutRegions(copied ? [...sizes, K * 4] : sizes).map((x) => x + base);
}

/** Work bytes quantizeNKSimd needs after the scratch for an [N, K] weight read into it (quantizeScratch). */
export function workBytesNK(K: number, N: number, blockSize: number, bits: number): number {
  return regionsNK(K, N, blockSize, bits, false, false).at(-1)!;
}

/**
 * quantizeNK of quantizeBlockwise.ts (Gemm's transB=1 B [N, K], no alpha) on the SIMD kernels: row by row,
 * its blocks' ranges, float32 scales and zero points, codes (four values at a time) and packed bytes are
 * computed in the module's memory; fp16 scales still come from `params`, in JS. A weight already in that
 * memory (read into quantizeScratch) is worked on where it is; any other is copied in one row at a time.
 * The codes are bit-identical to the JS loop; the energies are summed in another order (equal to
 * rounding). Returns false (having done nothing) when SIMD is unavailable or a row is too large for it.
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
  const inPlace = w.buffer === k.memory.buffer;
  const at = regionsNK(K, N, blockSize, bits, q.fp16, !inPlace, workBase());
  if (at.at(-1)! > MAX_BYTES) return false;
  // Where w is in this memory it was sized for (quantizeScratch), so this does not grow and detach it.
  const wAt = w.byteOffset;
  const buffer = module.reserve(k.memory, at.at(-1)!);
  const [mins, maxs, scale, recip, zps] = [0, 1, 2, 3, 4].map(
    (i) => new Float32Array(buffer, at[i], kBlocks),
  );
  const packed = new Uint8Array(buffer, at[6], kBlocks * blob);
  const row = inPlace ? undefined : new Float32Array(buffer, at[9], K);
  const out = new Float64Array(4);
  const copyParams = q.fp16 ? undefined : paramsInKernels(q, buffer, at[7], at[8]);
  k.resetEnergy();
  for (let n = 0; n < N; n++) {
    let rowAt = wAt + n * K * 4;
    if (row) {
      row.set(w.subarray(n * K, (n + 1) * K));
      rowAt = at[9];
    }
    k.rangesNK(rowAt, K, blockSize, at[0], at[1]);
    if (copyParams) {
      const [sym, zpAt] = [q.symmetric ? 1 : 0, at[8] + n * q.zpRow];
      k.params(
        at[0],
        at[1],
        kBlocks,
        at[2],
        at[3],
        at[4],
        at[7] + n * kBlocks * 4,
        4,
        zpAt,
        0,
        0,
        bits,
        bits,
        sym,
      );
    } else {
      for (let kb = 0; kb < kBlocks; kb++) {
        params(n, kb, mins[kb], maxs[kb], out);
        scale[kb] = out[0];
        recip[kb] = out[1];
        zps[kb] = out[2];
      }
    }
    k.codesNK(rowAt, K, blockSize, at[3], at[4], at[2], at[5], qMax);
    k.packRun(at[5], kBlocks * blockSize, at[6], bits);
    q.b.set(packed, n * kBlocks * blob);
  }
  copyParams?.();
  q.signalEnergy = k.signal();
  q.errorEnergy = k.error();
  return true;
}
