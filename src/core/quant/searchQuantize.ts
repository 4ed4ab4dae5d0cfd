import { type BlockCodes, emptyBlockCodes, setBlockRange } from './blockCodes';
import { quadraticForm } from './gramMatrix';
import { type BlockwiseOptions, quantCode } from './quantizeBlockwise';

/** Clipping ratios tried per block: 1 (round-to-nearest's range) first, down to 0.5 in steps of 1/40. */
export const CLIP_RATIOS: readonly number[] = Array.from({ length: 21 }, (_, i) => 1 - i / 40);

/**
 * Clipping search: per block of K of every output column, the block's range [min, max] is shrunk by each
 * ratio of `ratios` (RTN's scale and zero point of the clipped range, as MLAS would compute them) and the
 * candidate whose error e minimises eᵀ H_bb e is kept, H_bb being the block's diagonal block of the
 * calibration Gram matrix XᵀX: the block's own contribution to the layer's output error ‖X(W−Q)‖². (The
 * cross terms between blocks are left out so each block is chosen alone; GPTQ is the method that handles
 * them.) Ratio 1 comes first and only a strictly smaller error replaces it, so every block is at least as
 * good as round-to-nearest on that objective, and `ratios = [1]` is round-to-nearest itself.
 * `columns` is the weight as `[N, K]` (weightColumns).
 */
export function searchQuantize(
  columns: Float64Array,
  K: number,
  N: number,
  gram: Float64Array,
  options: BlockwiseOptions,
  ratios: readonly number[] = CLIP_RATIOS,
): BlockCodes {
  const bc = emptyBlockCodes(K, N, options);
  const bs = options.blockSize;
  const tmp = new Float64Array(4);
  const e = new Float64Array(K);
  const f32 = Math.fround;
  for (let n = 0; n < N; n++) {
    const col = n * K;
    for (let kb = 0; kb < bc.kBlocks; kb++) {
      const k0 = kb * bs;
      const k1 = Math.min(K, k0 + bs);
      let min = Infinity;
      let max = -Infinity;
      for (let k = k0; k < k1; k++) {
        const v = columns[col + k];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      let bestCost = Infinity;
      let bestRatio = 1;
      for (const r of ratios) {
        const s = setBlockRange(bc, n, kb, f32(min * r), f32(max * r), tmp);
        const scale = bc.scales[s];
        const recip = bc.recips[s];
        const zp = bc.zps[s];
        for (let k = k0; k < k1; k++) {
          const v = columns[col + k];
          const c = quantCode(v, recip, zp, bc.qMax);
          e[k] = v - f32((c - zp) * scale);
        }
        const cost = quadraticForm(gram, K, e, k0, k1);
        if (cost < bestCost) {
          bestCost = cost;
          bestRatio = r;
        }
      }
      const s = setBlockRange(bc, n, kb, f32(min * bestRatio), f32(max * bestRatio), tmp);
      writeBlockCodes(bc, columns, col, s, n, k0, k1);
    }
  }
  return bc;
}

/** The codes of values [k0, k1) of column n with block slot `s`'s parameters; padding gets the zero point. */
export function writeBlockCodes(
  bc: BlockCodes,
  columns: Float64Array,
  col: number,
  s: number,
  n: number,
  k0: number,
  k1: number,
): void {
  const bs = bc.options.blockSize;
  const row = n * bc.kBlocks * bs;
  for (let k = k0; k < k1; k++)
    bc.codes[row + k] = quantCode(columns[col + k], bc.recips[s], bc.zps[s], bc.qMax);
  for (let k = k1; k < k0 + bs; k++) bc.codes[row + k] = bc.zps[s];
}
