import kernels from './pruneKernels.wat';
import { SimdModule, type WasmGlobal } from './simdModule';

interface PruneKernels {
  below: WasmGlobal;
  zeros: WasmGlobal;
  nnz: WasmGlobal;
  changed: WasmGlobal;
  keepWindow(p: number, n: number, first: number, last: number, out: number): number;
  zeroBelow(p: number, n: number, t: number, left: number, keep: number, acc: number): number;
}

const module = new SimdModule<PruneKernels>(kernels);

/**
 * The module's memory: the lane sums of zeroBelow, one block's keep-mask, one block's kept keys, one block
 * of values copied in (when they are not in this memory already) and, from DATA on, the scratch buffer the
 * pruner reads each weight into (pruneScratch), so the kernels work on it where it is.
 */
const ACC = 0;
const BLOCK = 1 << 16;
const KEEP = 0x100;
const OUT = KEEP + BLOCK;
const STAGE = OUT + 4 * BLOCK;
const DATA = STAGE + 4 * BLOCK;

/**
 * A Float32Array of `count` values in the kernels' memory, for reading weights into so the kernels do not
 * copy them; undefined without SIMD. Every call returns the same region (one pruning plan at a time per
 * thread), and one asking for more grows the memory, which detaches the arrays returned before.
 */
export function pruneScratch(count: number): Float32Array | undefined {
  const k = module.exports();
  if (!k) return undefined;
  return new Float32Array(module.reserve(k.memory, DATA + 4 * count), DATA, count);
}

/**
 * Over values[0, n) (n a multiple of 4): the keys below the window (keys k with k < `first`), returned, and
 * those inside it ((k - first) ≤ `last` unsigned), handed to `take` block by block in reading order (a view
 * valid during the call). Undefined, having done nothing, without SIMD.
 */
export function keepWindowSimd(
  values: Float32Array,
  n: number,
  first: number,
  last: number,
  take: (keys: Int32Array) => void,
): number | undefined {
  const k = module.exports();
  if (!k) return undefined;
  const buffer = k.memory.buffer;
  let below = 0;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    const kept = k.keepWindow(addressOf(values, start, end, buffer), end - start, first, last, OUT);
    below += k.below.value as number;
    if (kept > 0) take(new Int32Array(buffer, OUT, kept));
  }
  return below;
}

/** What zeroBelowSimd counted. */
export interface ZeroBelowCounts {
  left: number;
  zeros: number;
  nnz: number;
  changed: boolean;
}

/**
 * zeroBelowCut's loop over values[0, n) (n a multiple of 4) on the kernels: `acc` holds the lane sums
 * (energy of lanes 0–3, then pruned energy of lanes 0–3) and is added to. Undefined, having done nothing,
 * without SIMD.
 */
export function zeroBelowSimd(
  values: Float32Array,
  n: number,
  threshold: number,
  ties: number,
  keep: Uint8Array | undefined,
  acc: Float64Array,
): ZeroBelowCounts | undefined {
  const k = module.exports();
  if (!k) return undefined;
  const buffer = k.memory.buffer;
  const sums = new Float64Array(buffer, ACC, 8);
  sums.set(acc);
  k.zeros.value = 0;
  k.nnz.value = 0;
  k.changed.value = 0;
  const inPlace = values.buffer === buffer;
  const stage = new Float32Array(buffer, STAGE, BLOCK);
  let left = ties;
  // Values in this memory without a keep-mask: one call does the tensor; else block by block, through the
  // staging block and the keep-mask block.
  const step = inPlace && !keep ? Math.max(n, 1) : BLOCK;
  for (let start = 0; start < n; start += step) {
    const end = Math.min(n, start + step);
    left = k.zeroBelow(
      addressOf(values, start, end, buffer),
      end - start,
      threshold,
      left,
      keep ? KEEP : 0,
      ACC,
    );
    if (!inPlace) values.set(stage.subarray(0, end - start), start);
    if (keep) keep.set(new Uint8Array(buffer, KEEP, end - start), start);
  }
  acc.set(sums);
  return {
    left,
    zeros: k.zeros.value as number,
    nnz: k.nnz.value as number,
    changed: k.changed.value !== 0,
  };
}

/** Address of values[start, end) in the module's memory: where they are, or copied into the staging block. */
function addressOf(values: Float32Array, start: number, end: number, buffer: ArrayBuffer): number {
  if (values.buffer === buffer) return values.byteOffset + 4 * start;
  new Float32Array(buffer, STAGE, end - start).set(values.subarray(start, end));
  return STAGE;
}
