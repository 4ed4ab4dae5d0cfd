import type { BlockwiseWeight } from './quantizeBlockwise';

/** A layer's output energy and the part of it a weight error adds, both weighted by the activations. */
export interface WeightedNoise {
  signal: number;
  noise: number;
}

/**
 * How much a quantized weight disturbs its layer's output, from the activations' energy per input channel
 * (the diagonal of XᵀX): Σ_k d_k Σ_n (w_kn − ŵ_kn)² against Σ_k d_k Σ_n w_kn². It drops the cross terms
 * of XᵀX, so it needs only K numbers per activation instead of K², and it still sees what plain weight
 * error misses: a channel whose activations are large (an outlier) makes its weights' errors count more.
 * `weight` is stored as `layout` (MatMul B [K, N] or Gemm transB=1 [N, K]) with `alpha` folded in as
 * quantizeBlockwise reads it; `q` is its quantization (codes [N, kBlocks, blob], low bits first).
 */
export function weightedNoise(
  weight: Float32Array,
  layout: 'KN' | 'NK',
  alpha: number,
  q: BlockwiseWeight,
  bits: number,
  blockSize: number,
  diag: Float64Array,
): WeightedNoise {
  const { K, N, kBlocks } = q;
  const a = Math.fround(alpha);
  const blob = (blockSize * bits) / 8;
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const mid = 1 << (bits - 1);
  let signal = 0;
  let noise = 0;
  for (let n = 0; n < N; n++) {
    for (let kb = 0; kb < kBlocks; kb++) {
      const s = n * kBlocks + kb;
      const scale = q.scales[s];
      const slot = kb * bits;
      const zp = q.zeroPoints ? (q.zeroPoints[n * zpRow + (slot >> 3)] >> (slot & 7)) & mask : mid;
      const base = s * blob;
      const end = Math.min(K, (kb + 1) * blockSize);
      for (let k = kb * blockSize; k < end; k++) {
        const j = k - kb * blockSize;
        const code = (q.b[base + Math.floor(j / perByte)] >> ((j % perByte) * bits)) & mask;
        const stored = layout === 'KN' ? weight[k * N + n] : weight[n * K + k];
        const w = a === 1 ? stored : Math.fround(stored * a);
        const e = w - Math.fround((code - zp) * scale);
        signal += diag[k] * w * w;
        noise += diag[k] * e * e;
      }
    }
  }
  return { signal, noise };
}

/** The loss shrink's search reads, from a noise-to-signal ratio: output SQNR and the cosine it implies. */
export function lossOfNoise({ signal, noise }: WeightedNoise): { sqnrDb: number; cosine: number } {
  if (noise === 0) return { sqnrDb: Infinity, cosine: 1 };
  const ratio = signal > 0 ? noise / signal : Infinity;
  return { sqnrDb: -10 * Math.log10(ratio), cosine: 1 / Math.sqrt(1 + ratio) };
}
