import {
  type BlockParams,
  type BlockQuantizer,
  fillRows,
  MAX_BYTES,
  quantizeKernels as module,
  paramRegions,
  paramsInKernels,
  type SimdOutcome,
  type WeightRows,
} from './quantizeKernels';
import { layoutRegions } from './simdModule';

/** Bytes of rows put in the module's memory at a time (a few, so that a WeightRows reads in large pieces). */
const ROWS_BYTES = 1 << 19;

/**
 * quantizeNK of quantizeBlockwise.ts (Gemm's transB=1 B [N, K], no alpha) on the SIMD kernels: rows are
 * put in the module's memory a few at a time (copied from `w`, or read there when `w` is a WeightRows);
 * row by row, its blocks' ranges, float32 scales and zero points, codes (four values at a time) and packed
 * bytes are computed there; fp16 scales still come from `params`, in JS. The codes are bit-identical to
 * the JS loop; the energies are summed in another order (equal to rounding). Stops ('notFinite') at rows
 * of a WeightRows holding a NaN or an infinity; 'unavailable' (having done nothing) when SIMD is missing
 * or a row is too large for it.
 */
export function quantizeNKSimd(
  q: BlockQuantizer,
  w: Float32Array | WeightRows,
  K: number,
  N: number,
  params: BlockParams,
): SimdOutcome {
  const k = module.exports();
  if (!k) return 'unavailable';
  const { blockSize, kBlocks, blob, bits, qMax } = q;
  const per = kBlocks * 4;
  const group = Math.max(1, Math.min(N, Math.floor(ROWS_BYTES / (K * 4))));
  // mins, maxs, scale, recip, zps, the rows, one row's codes (padded) and packed bytes, the weight's scales
  // and zero points (float32 scales)
  const sizes = [per, per, per, per, per, group * K * 4, kBlocks * blockSize, kBlocks * blob];
  const at = layoutRegions([...sizes, ...paramRegions(q.fp16, N, kBlocks, bits)]);
  if (at.at(-1)! > MAX_BYTES) return 'unavailable';
  const buffer = module.reserve(k.memory, at.at(-1)!);
  const [mins, maxs, scale, recip, zps] = [0, 1, 2, 3, 4].map(
    (i) => new Float32Array(buffer, at[i], kBlocks),
  );
  const rows = new Float32Array(buffer, at[5], group * K);
  const packed = new Uint8Array(buffer, at[7], kBlocks * blob);
  const out = new Float64Array(4);
  const copyParams = q.fp16 ? undefined : paramsInKernels(q, buffer, at[8], at[9]);
  k.resetEnergy();
  for (let n = 0; n < N; n++) {
    const r = n % group;
    if (r === 0 && !fillRows(w, n * K, rows.subarray(0, Math.min(group, N - n) * K))) return 'notFinite';
    const rowAt = at[5] + r * K * 4;
    k.rangesNK(rowAt, K, blockSize, at[0], at[1]);
    if (copyParams) {
      const [sym, zpAt] = [q.symmetric ? 1 : 0, at[9] + n * q.zpRow];
      k.params(
        at[0],
        at[1],
        kBlocks,
        at[2],
        at[3],
        at[4],
        at[8] + n * kBlocks * 4,
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
    k.codesNK(rowAt, K, blockSize, at[3], at[4], at[2], at[6], qMax);
    k.packRun(at[6], kBlocks * blockSize, at[7], bits);
    q.b.set(packed, n * kBlocks * blob);
  }
  copyParams?.();
  q.signalEnergy = k.signal();
  q.errorEnergy = k.error();
  return 'done';
}
