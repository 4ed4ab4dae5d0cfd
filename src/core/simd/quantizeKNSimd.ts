import {
  type BlockParams,
  type BlockQuantizer,
  FLT_MAX,
  MAX_BYTES,
  quantizeKernels as module,
  paramRegions,
  paramsInKernels,
  workBase,
} from './quantizeKernels';
import { layoutRegions } from './simdModule';

/**
 * The kernels' regions for one [K, N] weight, from `base`: mins, maxs, scale, recip, zps, the block's
 * codes, the whole packed output, the weight's scales and zero points (float32 scales), the 16×16 bytes
 * `pack` transposes then, only for a weight outside the module's memory, the block's rows.
 */
function regionsKN(
  K: number,
  N: number,
  blockSize: number,
  bits: number,
  fp16: boolean,
  copied: boolean,
  base = 0,
) {
  const col = N * 4;
  const kBlocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const params = paramRegions(fp16, N, kBlocks, bits);
  const sizes = [col, col, col, col, col, blockSize * N, N * kBlocks * blob, ...params, 256];
  return layoutRegions(copied ? [...sizes, blockSize * col] : sizes).map((x) => x + base);
}

/** Work bytes quantizeKNSimd needs after the scratch for a [K, N] weight read into it (quantizeScratch). */
export function workBytesKN(K: number, N: number, blockSize: number, bits: number): number {
  return regionsKN(K, N, blockSize, bits, false, false).at(-1)!;
}

/**
 * quantizeKN of quantizeBlockwise.ts (MatMul's B [K, N], no alpha) on the SIMD kernels: per block of rows,
 * their per-column ranges, float32 scales and zero points, codes and packed bytes are computed in the
 * module's memory (four columns at a time); fp16 scales still come from `params`, in JS. A weight already
 * in that memory (read into quantizeScratch) is worked on where it is; any other is copied in one block
 * of rows at a time. The codes are bit-identical to the JS loops; the energies are summed in another order
 * (equal to rounding). Returns false (having done nothing) when SIMD is unavailable or the weight is too
 * large for it.
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
  const inPlace = w.buffer === k.memory.buffer;
  const at = regionsKN(K, N, blockSize, bits, q.fp16, !inPlace, workBase());
  if (at.at(-1)! > MAX_BYTES) return false;
  // Where w is in this memory it was sized for (quantizeScratch), so this does not grow and detach it.
  const wAt = w.byteOffset;
  const buffer = module.reserve(k.memory, at.at(-1)!);
  const [mins, maxs, scale, recip, zps] = [0, 1, 2, 3, 4].map((i) => new Float32Array(buffer, at[i], N));
  const codes = new Uint8Array(buffer, at[5], blockSize * N);
  const rows = inPlace ? undefined : new Float32Array(buffer, at[10], blockSize * N);
  const out = new Float64Array(4);
  const copyParams = q.fp16 ? undefined : paramsInKernels(q, buffer, at[7], at[8]);
  mins.fill(FLT_MAX);
  maxs.fill(-FLT_MAX);
  k.resetEnergy();
  for (let kb = 0; kb < kBlocks; kb++) {
    const k0 = kb * blockSize;
    const k1 = Math.min(K, k0 + blockSize);
    let rowsAt = wAt + k0 * N * 4;
    if (rows) {
      rows.set(w.subarray(k0 * N, k1 * N));
      rowsAt = at[10];
    }
    k.ranges(rowsAt, k1 - k0, N, at[0], at[1]);
    if (copyParams) {
      const [sym, zpRow] = [q.symmetric ? 1 : 0, q.zpRow];
      k.params(
        at[0],
        at[1],
        N,
        at[2],
        at[3],
        at[4],
        at[7] + kb * 4,
        kBlocks * 4,
        at[8],
        zpRow,
        kb * bits,
        0,
        bits,
        sym,
      );
    } else {
      for (let n = 0; n < N; n++) {
        params(n, kb, mins[n], maxs[n], out);
        scale[n] = out[0];
        recip[n] = out[1];
        zps[n] = out[2];
      }
      mins.fill(FLT_MAX);
      maxs.fill(-FLT_MAX);
    }
    k.codes(rowsAt, k1 - k0, N, at[3], at[4], at[2], at[5], qMax);
    // Padding rows encode 0.0: the zero point.
    for (let r = k1; r < k0 + blockSize; r++) codes.set(zps, (r - k0) * N);
    k.pack(at[5], at[6] + kb * blob, N, kBlocks * blob, blob, bits, at[9]);
  }
  q.b.set(new Uint8Array(buffer, at[6], q.b.length));
  copyParams?.();
  q.signalEnergy = k.signal();
  q.errorEnergy = k.error();
  return true;
}
