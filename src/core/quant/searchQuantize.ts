import { type BlockCodes, emptyBlockCodes, setBlockRange } from './blockCodes';
import { quadraticForm } from './gramMatrix';
import { PAD_CODE } from '../simd/quantizeKernels';
import { type BlockwiseOptions, quantCode } from './quantizeBlockwise';

/** Clipping ratios tried per block: 1 (round-to-nearest's range) first, down to 0.5 in steps of 1/40. */
export const CLIP_RATIOS: readonly number[] = Array.from({ length: 21 }, (_, i) => 1 - i / 40);

/**
 * Clipping search: per block of K of every output column, the block's range [min, max] is shrunk by each
 * ratio of `ratios` (for asymmetric blocks also one end at a time; RTN's scale and zero point of the clipped range, as MLAS would compute them) and the
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
  const scratch = { tmp: new Float64Array(4), e: new Float64Array(K) };
  const pairs = clipPairs(ratios, options.symmetric);
  const unseen = unseenBlocks(gram, K, bs);
  for (let n = 0; n < N; n++) {
    for (let kb = 0; kb < bc.kBlocks; kb++) {
      const k0 = kb * bs;
      const k1 = Math.min(K, k0 + bs);
      const s = searchBlock(bc, columns, n, k0, k1, gram, unseen[kb] ? RTN_PAIR : pairs, scratch);
      writeBlockCodes(bc, columns, n * K, s, n, k0, k1);
    }
  }
  return bc;
}

/** Round-to-nearest's range alone. */
export const RTN_PAIR: readonly number[] = [1, 1];

/**
 * Per block of K: true when one of its input channels has no calibration energy (a zero diagonal of
 * H = XᵀX). Such a block keeps round-to-nearest's range, so the unseen channels keep round-to-nearest's
 * codes: clipping them costs nothing on the calibration rows, but inputs that do reach them would pay.
 */
export function unseenBlocks(gram: Float64Array, K: number, blockSize: number): boolean[] {
  const out = new Array<boolean>(Math.ceil(K / blockSize)).fill(false);
  for (let k = 0; k < K; k++) if (!(gram[k * K + k] > 0)) out[(k / blockSize) | 0] = true;
  return out;
}

/**
 * The (min ratio, max ratio) pairs tried: both ends shrunk alike, then (asymmetric) one end at a time,
 * since a block's outlier is usually on one side. `[1]` gives round-to-nearest's range alone.
 */
export function clipPairs(ratios: readonly number[], symmetric: boolean): number[] {
  const pairs: number[] = ratios.flatMap((r) => [r, r]);
  if (!symmetric) for (const r of ratios.slice(1)) pairs.push(r, 1, 1, r);
  return pairs;
}

/**
 * Sets block [k0, k1) of column n (values `columns[n*K + k]`, read as float32) to the candidate range of
 * `pairs` whose error e minimizes eᵀ H e over the block's rows of H = `gram`; returns the block's slot.
 * The first pair wins ties.
 */
export function searchBlock(
  bc: BlockCodes,
  columns: Float64Array,
  n: number,
  k0: number,
  k1: number,
  gram: Float64Array,
  pairs: readonly number[],
  scratch: { tmp: Float64Array; e: Float64Array },
): number {
  const { K, qMax } = bc;
  const { tmp, e } = scratch;
  const f32 = Math.fround;
  const col = n * K;
  const kb = (k0 / bc.options.blockSize) | 0;
  let min = Infinity;
  let max = -Infinity;
  for (let k = k0; k < k1; k++) {
    const v = f32(columns[col + k]);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  let bestCost = Infinity;
  let best = 0;
  for (let p = 0; p < pairs.length; p += 2) {
    const s = setBlockRange(bc, n, kb, f32(min * pairs[p]), f32(max * pairs[p + 1]), tmp);
    const scale = bc.scales[s];
    const recip = bc.recips[s];
    const zp = bc.zps[s];
    for (let k = k0; k < k1; k++) {
      const v = f32(columns[col + k]);
      e[k] = v - f32((quantCode(v, recip, zp, qMax) - zp) * scale);
    }
    const cost = quadraticForm(gram, K, e, k0, k1);
    if (cost < bestCost) {
      bestCost = cost;
      best = p;
    }
  }
  return setBlockRange(bc, n, kb, f32(min * pairs[best]), f32(max * pairs[best + 1]), tmp);
}

/** The codes of values [k0, k1) of column n with block slot `s`'s parameters; padding gets PAD_CODE. */
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
  bc.codes.fill(PAD_CODE, row + k1, row + k0 + bs);
}
