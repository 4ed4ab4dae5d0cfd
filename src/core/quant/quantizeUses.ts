import type { TensorInfo } from '../onnx/modelIndex';
import { type Layout, type QuantizeOptions, roundToNearest, useKey } from './planQuantize';
import type { BlockwiseWeight } from './quantizeBlockwise';
import type { WeightRows } from '../simd/quantizeKernels';

/** One reader's view of a weight: its layout, the alpha folded in and the K×N it multiplies by. */
export interface WeightUse {
  layout: Layout;
  alpha: number;
  K: number;
  N: number;
}

/** A weight rounded to nearest for each of its readers, as planQuantize would (keyed by useKey). */
export interface QuantizedUses {
  /** False when a value is NaN or infinite (nothing was quantized). */
  finite: boolean;
  weights: Map<string, BlockwiseWeight>;
  /** What the codes, scales and zero points hold. */
  bytes: number;
}

/**
 * Rounds a weight's `values` (undefined: NaN or infinite) to nearest once per distinct layout and alpha
 * of its readers: what planQuantize writes for it, made ahead of the plan (on another thread).
 */
export function quantizeUses(
  values: Float32Array | WeightRows | undefined,
  t: TensorInfo,
  uses: readonly WeightUse[],
  options: Pick<QuantizeOptions, 'bits' | 'blockSize' | 'symmetric'>,
): QuantizedUses {
  const weights = new Map<string, BlockwiseWeight>();
  const notFinite = { finite: false, weights: new Map(), bytes: 0 };
  if (!values) return notFinite;
  for (const u of uses) {
    const key = useKey(u.layout, u.alpha);
    if (weights.has(key)) continue;
    const q = roundToNearest(values, t, options, u.layout, u.alpha, u.K, u.N);
    if (!q) return notFinite;
    weights.set(key, q);
  }
  const r = { finite: true, weights, bytes: 0 };
  r.bytes = transferables(r).reduce((s, b) => s + b.byteLength, 0);
  return r;
}

/** The buffers of `r` to hand to another thread, each once (a weight's scale bytes may view its scales). */
export function transferables(r: QuantizedUses): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const q of r.weights.values())
    for (const a of [q.b, q.scales, q.scaleBytes, q.zeroPoints]) if (a) out.add(a.buffer as ArrayBuffer);
  return [...out];
}
