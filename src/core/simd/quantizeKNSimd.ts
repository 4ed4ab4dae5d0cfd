import {
  type BlockParams,
  type BlockQuantizer,
  fillRows,
  FLT_MAX,
  MAX_BYTES,
  PAD_CODE,
  quantizeKernels as module,
  paramRegions,
  paramsInKernels,
  type SimdOutcome,
  type WeightRows,
} from './quantizeKernels';
import { layoutRegions } from './simdModule';

/**
 * quantizeKN of quantizeBlockwise.ts (MatMul's B [K, N], no alpha) on the SIMD kernels: per block of rows,
 * put in the module's memory (copied from `w`, or read there when `w` is a WeightRows), their per-column
 * ranges, float32 scales and zero points, codes and packed bytes are computed there (four columns at a
 * time); fp16 scales still come from `params`, in JS. The codes are bit-identical to the JS loops; the
 * energies are summed in another order (equal to rounding). Stops ('notFinite') at a block of a
 * WeightRows holding a NaN or an infinity; 'unavailable' (having done nothing) when SIMD is missing or
 * the weight is too large for it.
 */
export function quantizeKNSimd(
  q: BlockQuantizer,
  w: Float32Array | WeightRows,
  K: number,
  N: number,
  params: BlockParams,
): SimdOutcome {
  const k = module.exports();
  if (!k) return 'unavailable';
  const { blockSize, kBlocks, blob, bits, qMax } = q;
  const col = N * 4;
  // mins, maxs, scale, recip, zps, the block's rows, its codes, the whole packed output, the weight's
  // scales and zero points (float32 scales), the 16×16 bytes `pack` transposes
  const sizes = [col, col, col, col, col, blockSize * col, blockSize * N, N * kBlocks * blob];
  const at = layoutRegions([...sizes, ...paramRegions(q.fp16, N, kBlocks, bits), 256]);
  if (at.at(-1)! > MAX_BYTES) return 'unavailable';
  const buffer = module.reserve(k.memory, at.at(-1)!);
  const [mins, maxs, scale, recip, zps] = [0, 1, 2, 3, 4].map((i) => new Float32Array(buffer, at[i], N));
  const rows = new Float32Array(buffer, at[5], blockSize * N);
  const codes = new Uint8Array(buffer, at[6], blockSize * N);
  const out = new Float64Array(4);
  const copyParams = q.fp16 ? undefined : paramsInKernels(q, buffer, at[8], at[9]);
  mins.fill(FLT_MAX);
  maxs.fill(-FLT_MAX);
  k.resetEnergy();
  for (let kb = 0; kb < kBlocks; kb++) {
    const k0 = kb * blockSize;
    const k1 = Math.min(K, k0 + blockSize);
    if (!fillRows(w, k0 * N, rows.subarray(0, (k1 - k0) * N))) return 'notFinite';
    k.ranges(at[5], k1 - k0, N, at[0], at[1]);
    if (copyParams) {
      const [sym, zpRow] = [q.symmetric ? 1 : 0, q.zpRow];
      k.params(
        at[0],
        at[1],
        N,
        at[2],
        at[3],
        at[4],
        at[8] + kb * 4,
        kBlocks * 4,
        at[9],
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
    k.codes(at[5], k1 - k0, N, at[3], at[4], at[2], at[6], qMax);
    codes.fill(PAD_CODE, (k1 - k0) * N, blockSize * N);
    k.pack(at[6], at[7] + kb * blob, N, kBlocks * blob, blob, bits, at[10]);
  }
  q.b.set(new Uint8Array(buffer, at[7], q.b.length));
  copyParams?.();
  q.signalEnergy = k.signal();
  q.errorEnergy = k.error();
  return 'done';
}
