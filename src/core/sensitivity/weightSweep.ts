import { roundHalfAway, sqnrDb } from '../quant/quantizeBlockwise';
import { float16ToNumber, numberToFloat16Bits } from '../tensor/float16';
import {
  SWEEP_BITS,
  SWEEP_SPARSITY,
  type SweepBits,
  type SweepSparsity,
  type WeightSweep,
} from './sweepPoints';

export interface SweepOptions {
  /** Values of K per block (default 32). */
  blockSize?: number;
  /** How the weight is stored: MatMul's B `[K, N]` ('KN', default) or Gemm transB=1 `[N, K]` ('NK'). */
  layout?: 'KN' | 'NK';
  /** A Gemm's alpha, folded into the weight before quantizing (as planQuantize does). */
  alpha?: number;
  /** The scales' type: float16 weights store fp16 scales, and the rounded scale is what quantizes. */
  scaleType?: 'float32' | 'float16';
}

const f32 = Math.fround;
const FLT_MAX = 3.4028234663852886e38;

/**
 * Data-free sensitivity of one 2-D weight: its SQNR after blockwise round-to-nearest at 2, 3, 4 and 8 bits
 * and after magnitude pruning at 25, 50 and 75%. The quantizer is quantizeBlockwise's asymmetric one (the
 * same float32 operations: lo = min(bmin, 0), hi = max(bmax, 0), scale = (hi - lo) / (2^bits - 1),
 * zp = clamp(roundf(-lo / scale)), q = clamp(roundf(v / scale + zp))), so the 2/4/8-bit figures equal the
 * weight SQNR `quantize` reports; 3 bits use the same formulas with 7 levels (no MatMulNBits kernel, but a
 * point on the curve). Sparsity error is exact (ties at the threshold cost the same whichever is pruned)
 * and found without sorting: two counting passes over the float32 magnitude keys, as magnitudeCut does.
 * Works on the values in memory; nothing is allocated per value.
 */
export function weightSweep(
  values: Float32Array,
  K: number,
  N: number,
  options: SweepOptions = {},
): WeightSweep {
  const blockSize = options.blockSize ?? 32;
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`block size ${blockSize}`);
  if (!(Number.isSafeInteger(K) && K > 0 && Number.isSafeInteger(N) && N > 0))
    throw new RangeError(`K=${K}, N=${N} must be positive integers`);
  if (values.length !== K * N) throw new RangeError(`weight holds ${values.length} values, K*N is ${K * N}`);
  const alpha = f32(options.alpha ?? 1);
  const q = new BitSweep(options.scaleType === 'float16');
  if ((options.layout ?? 'KN') === 'KN') sweepKN(q, values, K, N, blockSize, alpha);
  else sweepNK(q, values, K, N, blockSize, alpha);
  const bits = {} as Record<SweepBits, number>;
  SWEEP_BITS.forEach((b, i) => (bits[b] = round3(sqnrDb(q.signal, q.error[i]))));
  return { bits, sparsity: sparsitySqnr(values) };
}

/** Running energies of the four bit widths. */
class BitSweep {
  signal = 0;
  /** Σ (w - dequantized w)² per entry of SWEEP_BITS. */
  readonly error = new Float64Array(SWEEP_BITS.length);
  constructor(readonly fp16: boolean) {}

  /** quantizeBlockwise's asymmetric blockParams for `bits`: [scale, 1/scale, zp] into `out` at `at`. */
  params(bits: number, min: number, max: number, out: Float64Array, at: number): void {
    const qMax = (1 << bits) - 1;
    const lo = Math.min(min, 0);
    const hi = Math.max(max, 0);
    const scaleF = f32(f32(hi - lo) / qMax);
    const zpF = scaleF !== 0 ? -f32(lo / scaleF) : lo;
    const zp = zpF < 0 ? 0 : zpF > qMax ? qMax : roundHalfAway(zpF);
    const scale = this.fp16 ? float16ToNumber(numberToFloat16Bits(scaleF)) : scaleF;
    out[at] = scale;
    out[at + 1] = scale !== 0 ? f32(1 / scale) : 0;
    out[at + 2] = zp;
  }
}

/** Squared rounding error of one value (quantizeBlockwise's code formula, float32 steps). */
function err2(v: number, scale: number, recip: number, zp: number, qMax: number): number {
  let c = (f32(f32(v * recip) + zp) + 0.5) | 0;
  c = c < 0 ? 0 : c > qMax ? qMax : c;
  const d = v - f32((c - zp) * scale);
  return d * d;
}

/** [K, N] row-major: blocks run down each column; one block of rows at a time, rows in memory order. */
function sweepKN(q: BitSweep, w: Float32Array, K: number, N: number, blockSize: number, alpha: number): void {
  const mins = new Float32Array(N);
  const maxs = new Float32Array(N);
  const p = new Float64Array(N * 3);
  for (let k0 = 0; k0 < K; k0 += blockSize) {
    const from = k0 * N;
    const to = Math.min(K, k0 + blockSize) * N;
    mins.fill(FLT_MAX);
    maxs.fill(-FLT_MAX);
    for (let row = from; row < to; row += N) {
      for (let n = 0; n < N; n++) {
        const v = alpha === 1 ? w[row + n] : f32(w[row + n] * alpha);
        if (v < mins[n]) mins[n] = v;
        if (v > maxs[n]) maxs[n] = v;
        q.signal += v * v;
      }
    }
    SWEEP_BITS.forEach((bits, i) => {
      const qMax = (1 << bits) - 1;
      for (let n = 0; n < N; n++) q.params(bits, mins[n], maxs[n], p, n * 3);
      let e = 0;
      for (let row = from; row < to; row += N) {
        for (let n = 0; n < N; n++) {
          const v = alpha === 1 ? w[row + n] : f32(w[row + n] * alpha);
          e += err2(v, p[n * 3], p[n * 3 + 1], p[n * 3 + 2], qMax);
        }
      }
      q.error[i] += e;
    });
  }
}

/** [N, K] (Gemm transB=1): every block is a contiguous run of one row. */
function sweepNK(q: BitSweep, w: Float32Array, K: number, N: number, blockSize: number, alpha: number): void {
  const p = new Float64Array(3);
  for (let n = 0; n < N; n++) {
    for (let k0 = 0; k0 < K; k0 += blockSize) {
      const from = n * K + k0;
      const to = n * K + Math.min(K, k0 + blockSize);
      let min = FLT_MAX;
      let max = -FLT_MAX;
      for (let i = from; i < to; i++) {
        const v = alpha === 1 ? w[i] : f32(w[i] * alpha);
        if (v < min) min = v;
        if (v > max) max = v;
        q.signal += v * v;
      }
      SWEEP_BITS.forEach((bits, b) => {
        const qMax = (1 << bits) - 1;
        q.params(bits, min, max, p, 0);
        let e = 0;
        for (let i = from; i < to; i++) {
          const v = alpha === 1 ? w[i] : f32(w[i] * alpha);
          e += err2(v, p[0], p[1], p[2], qMax);
        }
        q.error[b] += e;
      });
    }
  }
}

const BUCKETS = 1 << 16;

/**
 * SQNR after zeroing the round(p% × count) smallest magnitudes, for each p of SWEEP_SPARSITY (the count
 * planPrune uses). Pass 1: count and energy per bucket of the top 16 bits of |x|'s float32 key; pass 2:
 * counts of the low 16 bits within the buckets where a cut falls. A key fixes |x|, so the energy of the
 * values pruned inside the boundary bucket is count × x² per low key.
 */
export function sparsitySqnr(values: Float32Array): Record<SweepSparsity, number> {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const count = new Float64Array(BUCKETS);
  const energy = new Float64Array(BUCKETS);
  let signal = 0;
  for (let i = 0; i < bits.length; i++) {
    const v = values[i];
    const h = (bits[i] & 0x7fffffff) >>> 16;
    count[h]++;
    energy[h] += v * v;
    signal += v * v;
  }
  const cuts = SWEEP_SPARSITY.map((p) => {
    const k = Math.round((p / 100) * values.length);
    let below = 0;
    let belowEnergy = 0;
    let bucket = 0;
    for (; bucket < BUCKETS; bucket++) {
      if (below + count[bucket] >= k) break;
      below += count[bucket];
      belowEnergy += energy[bucket];
    }
    return { p, k, bucket, below, belowEnergy };
  });
  const low = new Map<number, Float64Array>();
  for (const c of cuts) if (c.k > c.below && !low.has(c.bucket)) low.set(c.bucket, new Float64Array(BUCKETS));
  if (low.size > 0) {
    for (let i = 0; i < bits.length; i++) {
      const key = bits[i] & 0x7fffffff;
      const hist = low.get(key >>> 16);
      if (hist) hist[key & 0xffff]++;
    }
  }
  const key = new Uint32Array(1);
  const asFloat = new Float32Array(key.buffer);
  const out = {} as Record<SweepSparsity, number>;
  for (const c of cuts) {
    let pruned = c.belowEnergy;
    let left = c.k - c.below;
    const hist = low.get(c.bucket);
    for (let j = 0; left > 0 && hist && j < BUCKETS; j++) {
      if (hist[j] === 0) continue;
      const take = Math.min(left, hist[j]);
      key[0] = ((c.bucket << 16) | j) >>> 0;
      pruned += take * asFloat[0] * asFloat[0];
      left -= take;
    }
    out[c.p] = round3(sqnrDb(signal, pruned));
  }
  return out;
}

function round3(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;
}
