import { type BlockCodes, emptyBlockCodes, setBlockRange } from './blockCodes';
import { chunkRows, jsProducts, type Products } from './products';
import { PAD_CODE } from '../simd/quantizeKernels';
import { type BlockwiseOptions, quantCode } from './quantizeBlockwise';

/** Clipping ratios tried per block: 1 (round-to-nearest's range) first, down to 0.5 in steps of 1/40. */
export const CLIP_RATIOS: readonly number[] = Array.from({ length: 21 }, (_, i) => 1 - i / 40);

/**
 * Clipping search: per block of K of every output column, the block's range [min, max] is shrunk by each
 * ratio of `ratios` (for asymmetric blocks also one end at a time; RTN's scale and zero point of the clipped
 * range, as MLAS would compute them) and the candidate whose error e minimises eᵀ H_bb e is kept, H_bb being
 * the block's diagonal block of the calibration Gram matrix XᵀX: the block's own contribution to the layer's
 * output error ‖X(W−Q)‖². (The cross terms between blocks are left out so each block is chosen alone; GPTQ is
 * the method that handles them.) Ratio 1 comes first and only a strictly smaller error replaces it, so every
 * block is at least as good as round-to-nearest on that objective, and `ratios = [1]` is round-to-nearest
 * itself.
 * `columns` is the weight as `[N, K]` (weightColumns); the quadratic forms go through `products`.
 */
export async function searchQuantize(
  columns: Float64Array,
  K: number,
  N: number,
  gram: Float64Array,
  options: BlockwiseOptions,
  ratios: readonly number[] = CLIP_RATIOS,
  products: Products = jsProducts,
): Promise<BlockCodes> {
  const bc = emptyBlockCodes(K, N, options);
  const bs = options.blockSize;
  const pairs = clipPairs(ratios, options.symmetric);
  const unseen = unseenBlocks(gram, K, bs);
  for (let kb = 0; kb < bc.kBlocks; kb++) {
    const k0 = kb * bs;
    const k1 = Math.min(K, k0 + bs);
    await searchBlocks(bc, columns, k0, k1, gram, unseen[kb] ? RTN_PAIR : pairs, products);
    for (let n = 0; n < N; n++) writeBlockCodes(bc, columns, n * K, n * bc.kBlocks + kb, n, k0, k1);
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
 * Sets block [k0, k1) of every column n (values `columns[n*K + k]`, read as float32) to the candidate range
 * of `pairs` whose error e minimizes eᵀ H e over the block's rows of H = `gram`; the first pair wins ties.
 * The quadratic forms of all columns and candidates go to `products` with the block's `[bs, bs]` part of
 * H, a few thousand columns at a time (one at a time in JavaScript they were most of a GPTQ solve's time).
 */
export async function searchBlocks(
  bc: BlockCodes,
  columns: Float64Array,
  k0: number,
  k1: number,
  gram: Float64Array,
  pairs: readonly number[],
  products: Products,
): Promise<void> {
  const { K, N, qMax } = bc;
  const f32 = Math.fround;
  const tmp = new Float64Array(4);
  const kb = (k0 / bc.options.blockSize) | 0;
  const width = k1 - k0;
  const count = pairs.length / 2;
  const mins = new Float64Array(N);
  const maxs = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let min = Infinity;
    let max = -Infinity;
    for (let k = n * K + k0; k < n * K + k1; k++) {
      const v = f32(columns[k]);
      if (v < min) min = v;
      if (v > max) max = v;
    }
    mins[n] = min;
    maxs[n] = max;
  }
  const setPair = (n: number, p: number) =>
    setBlockRange(bc, n, kb, f32(mins[n] * pairs[2 * p]), f32(maxs[n] * pairs[2 * p + 1]), tmp);
  if (count === 1) {
    for (let n = 0; n < N; n++) setPair(n, 0);
    return;
  }
  const h = new Float64Array(width * width);
  for (let i = 0; i < width; i++) h.set(gram.subarray((k0 + i) * K + k0, (k0 + i) * K + k1), i * width);
  const per = chunkRows(count * width);
  // e[(i·count + p)·width + k]: the error at row k0 + k of column n0 + i under pair p.
  const errors = new Float64Array(Math.min(per, N) * count * width);
  const values = new Float64Array(width);
  for (let n0 = 0; n0 < N; n0 += per) {
    const cols = Math.min(per, N - n0);
    const e = errors.subarray(0, cols * count * width);
    for (let i = 0; i < cols; i++) {
      for (let k = 0, col = (n0 + i) * K + k0; k < width; k++) values[k] = f32(columns[col + k]);
      for (let p = 0; p < count; p++) {
        const s = setPair(n0 + i, p);
        const scale = bc.scales[s];
        const recip = bc.recips[s];
        const zp = bc.zps[s];
        for (let k = 0, at = (i * count + p) * width; k < width; k++) {
          const v = values[k];
          e[at + k] = v - f32((quantCode(v, recip, zp, qMax) - zp) * scale);
        }
      }
    }
    const costs = await products.quadraticForms(e, h, cols * count, width);
    for (let i = 0; i < cols; i++) {
      let best = 0;
      for (let p = 1; p < count; p++) if (costs[i * count + p] < costs[i * count + best]) best = p;
      setPair(n0 + i, best);
    }
  }
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
