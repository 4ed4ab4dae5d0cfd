import {
  BLOCK,
  fixEdges,
  mergeBlock,
  type Pass1,
  type Pass2,
  pass1Careful,
  pass2Careful,
} from '../stats/statsPasses';
import kernels from './statsKernels.wat';
import { SimdModule, type WasmGlobal } from './simdModule';

interface StatsKernels {
  min: WasmGlobal;
  max: WasmGlobal;
  zeros: WasmGlobal;
  sq0: WasmGlobal;
  sq1: WasmGlobal;
  near: WasmGlobal;
  pass1(p: number, n: number, mask: number): number;
  pass2(
    p: number,
    n: number,
    fine: number,
    lanes: number,
    mean: number,
    first: number,
    fineNorm: number,
    toCoarse: number,
    low: number,
    high: number,
    nearLimit: number,
  ): number;
  hash(p: number, n: number, state: number): void;
  addBytes(dst: number, src: number, n: number): void;
  countAtLeast(p: number, n: number, need: number): number;
  finite(p: number, n: number): number;
  countGroups4(p: number, groups: number, need: number): number;
}

const module = new SimdModule<StatsKernels>(kernels);

/**
 * The module's memory: fixed regions for the fine histogram's four lanes, one block's zero mask, one block
 * of values copied in (when they are not in this memory already), the hash state, a chunk's zero mask
 * (statsMask) and the N:M counters of one row; from DATA on, the scratch buffer tensors are read into
 * (statsScratch), so the kernels read them where they are.
 */
const FINE = 0;
/** Fine bins the kernel's lanes hold (computeStats asks for 8192 with the default 64 bins). */
const MAX_FINE_BINS = 1 << 14;
const MASK = 0x41000;
const STAGE = 0x45000;
const STATE = 0x55000;
const CHUNK_MASK = 0x60000;
const CHUNK_MASK_BYTES = 1 << 20;
const NM = CHUNK_MASK + CHUNK_MASK_BYTES;
const NM_BYTES = 1 << 16;
const DATA = NM + NM_BYTES;

/** The kernels and views of the fixed regions, remade when the memory grows (which detaches old views). */
function kernelsAndViews() {
  const k = module.exports();
  if (!k) return undefined;
  const buffer = k.memory.buffer;
  if (views?.buffer !== buffer) {
    views = {
      buffer,
      fine: new Int32Array(buffer, FINE, 4 * (MAX_FINE_BINS + 1)),
      mask: new Uint8Array(buffer, MASK, BLOCK),
      stage: new Float32Array(buffer, STAGE, BLOCK),
      stageWords: new Uint32Array(buffer, STAGE, BLOCK),
      state: new Int32Array(buffer, STATE, 8),
    };
  }
  return { k, v: views };
}
let views:
  | {
      buffer: ArrayBuffer;
      fine: Int32Array;
      mask: Uint8Array;
      stage: Float32Array;
      stageWords: Uint32Array;
      state: Int32Array;
    }
  | undefined;

/** Address of a[start, end) in the module's memory: where it is, or copied into the staging block. */
function addressOf(
  a: Float32Array | Uint32Array,
  start: number,
  end: number,
  buffer: ArrayBuffer,
  stage: Float32Array | Uint32Array,
): number {
  if (a.buffer === buffer) return a.byteOffset + 4 * start;
  stage.set(a.subarray(start, end) as Float32Array & Uint32Array);
  return STAGE;
}

/**
 * A Float32Array of `count` values in the kernels' memory (reused: valid until the next call), for reading
 * a tensor into so the statistics do not copy it again; undefined without SIMD. Growing the memory
 * detaches the previous one (its length reads 0).
 */
export function statsScratch(count: number): Float32Array | undefined {
  const k = module.exports();
  if (!k) return undefined;
  const buffer = module.reserve(k.memory, DATA + 4 * count);
  return new Float32Array(buffer, DATA, count);
}

/**
 * A zero mask of `length` bytes for computeStats in the kernels' memory (pass 1 then writes it in place,
 * and the N:M counters read it there); undefined without SIMD or for chunks larger than its region. Valid
 * until the next call.
 */
export function statsMask(length: number): Uint8Array | undefined {
  const kv = kernelsAndViews();
  if (!kv || length > CHUNK_MASK_BYTES) return undefined;
  return new Uint8Array(kv.v.buffer, CHUNK_MASK, length);
}

/** pass1F32 on the kernels (bit-identical); false, having done nothing, without SIMD. */
export function pass1F32Simd(a: Float32Array, acc: Pass1, zero: Uint8Array): boolean {
  const kv = kernelsAndViews();
  if (!kv) return false;
  const { k, v } = kv;
  const n = a.length;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    const end4 = start + ((end - start) & ~3);
    const inPlace = zero.buffer === v.buffer;
    const s = k.pass1(
      addressOf(a, start, end4, v.buffer, v.stage),
      end4 - start,
      inPlace ? zero.byteOffset + start : MASK,
    );
    if (!inPlace) zero.set(v.mask.subarray(0, end4 - start), start);
    const [min, max, zeros] = [k.min.value, k.max.value, k.zeros.value] as number[];
    mergeBlock(acc, a, start, end4, s, min, max, zeros, zero);
    pass1Careful(a, end4, end, acc, zero);
  }
  return true;
}

/**
 * pass2F32 on the kernels (bit-identical): the kernel counts into its own lanes, added to `p.fine` after
 * the chunk. False, having done nothing, without SIMD or with more fine bins than the lanes hold.
 */
export function pass2F32Simd(a: Float32Array, p: Pass2): boolean {
  const lanes = p.fineTotal.length + 1;
  if (lanes > MAX_FINE_BINS + 1) return false;
  const kv = kernelsAndViews();
  if (!kv) return false;
  const { k, v } = kv;
  const fine = v.fine.subarray(0, 4 * lanes);
  fine.fill(0);
  const toCoarse = 2 ** -p.shift;
  const low = p.tolerance * toCoarse;
  k.sq0.value = 0;
  k.sq1.value = 0;
  k.near.value = 0;
  const n = a.length;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    const end4 = start + ((end - start) & ~3);
    const at = addressOf(a, start, end4, v.buffer, v.stage);
    const suspicious = k.pass2(
      at,
      end4 - start,
      FINE,
      lanes,
      p.mean,
      p.first,
      p.fineNorm,
      toCoarse,
      low,
      1 - low,
      p.nearLimit,
    );
    fixEdges(a, start, end4, p, suspicious);
    pass2Careful(a, p, end4, end);
  }
  for (let i = 0; i < fine.length; i++) p.fine[i] += fine[i];
  p.squares += (k.sq0.value as number) + (k.sq1.value as number);
  p.near += k.near.value as number;
  return true;
}

/**
 * The four-words-at-a-time loop of ContentHasher over words[from, to) (a multiple of 4 words), lanes
 * a0..a3 and b0..b3 read from and written back to `state`; false without SIMD.
 */
export function hashWordsSimd(words: Uint32Array, from: number, to: number, state: Int32Array): boolean {
  const kv = kernelsAndViews();
  if (!kv) return false;
  const { k, v } = kv;
  v.state.set(state);
  for (let start = from; start < to; start += BLOCK) {
    const end = Math.min(to, start + BLOCK);
    k.hash(addressOf(words, start, end, v.buffer, v.stageWords), end - start, STATE);
  }
  state.set(v.state);
  return true;
}

/**
 * N:M counters of LayoutMetrics on the kernels, for one chunk whose zero mask is in the kernels' memory
 * (statsMask): nmBegin copies the open groups' counters in (false, having done nothing, when that cannot be
 * done), nmAdd adds mask[i, i + run) to counters [j, j + run), nmCount counts and resets the first `inner`
 * counters, nmEnd copies them back out.
 */
export function nmBegin(zero: Uint8Array, counters: Uint8Array): boolean {
  const kv = kernelsAndViews();
  if (!kv || zero.buffer !== kv.v.buffer || counters.length > NM_BYTES) return false;
  new Uint8Array(kv.v.buffer, NM, counters.length).set(counters);
  nmMask = zero.byteOffset;
  return true;
}
let nmMask = 0;

export function nmAdd(j: number, i: number, run: number): void {
  module.exports()!.addBytes(NM + j, nmMask + i, run);
}

export function nmCount(inner: number, need: number): number {
  return module.exports()!.countAtLeast(NM, inner, need);
}

export function nmEnd(counters: Uint8Array): void {
  counters.set(new Uint8Array(module.exports()!.memory.buffer, NM, counters.length));
}

/** Whether no value is NaN or ±Inf, on the kernels (blocks copied in unless already there); undefined without SIMD. */
export function allFiniteSimd(a: Float32Array): boolean | undefined {
  const kv = kernelsAndViews();
  if (!kv) return undefined;
  const { k, v } = kv;
  for (let start = 0; start < a.length; start += BLOCK) {
    const end = Math.min(a.length, start + BLOCK);
    if (!k.finite(addressOf(a, start, end, v.buffer, v.stage), end - start)) return false;
  }
  return true;
}

/**
 * N:M groups of four consecutive zero-mask bytes, zero[i, i + 4 * groups): how many hold at least `need`
 * zeros; undefined (nothing done) without SIMD or when the mask is not in the kernels' memory (statsMask).
 */
export function nmGroups4(zero: Uint8Array, i: number, groups: number, need: number): number | undefined {
  const kv = kernelsAndViews();
  if (!kv || zero.buffer !== kv.v.buffer) return undefined;
  return kv.k.countGroups4(zero.byteOffset + i, groups, need);
}
