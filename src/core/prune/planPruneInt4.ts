import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex, TensorInfo } from '../onnx/modelIndex';
import {
  planQuantize,
  type QuantizedTensorRow,
  type QuantizeOptions,
  type TensorSink,
} from '../quant/planQuantize';
import { allFinite } from '../tensor/allFinite';
import { planPrune, type PrunePlan, type PruneOptions } from './planPrune';

/** A prune plan whose MatMul/Gemm weights are then stored as 4-bit MatMulNBits. */
export interface PruneInt4Plan extends PrunePlan {
  /** The quantization's rows, as `big-shrink quantize` reports them. */
  quantized: QuantizedTensorRow[];
}

/**
 * Prunes as asked, then quantizes the pruned MatMul/Gemm weights to `com.microsoft::MatMulNBits` exactly as
 * `big-shrink quantize` does (planQuantize, round-to-nearest), from the pruned values. A pruned zero stays
 * exactly 0: RTN maps 0 to the block's zero point (asymmetric blocks always span 0; symmetric ones use
 * 2^(bits-1)), which dequantizes to (zp - zp) × scale. Weights MatMulNBits cannot take (Conv, recurrent,
 * 1-D, Gemm with transA …) stay pruned dense. Weights that were not pruned (--keep-first-last, --exclude)
 * are not quantized either.
 */
export function planPruneInt4(
  index: ModelIndex,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  prune: PruneOptions,
  quantize: QuantizeOptions,
  sink: TensorSink = (b) => b,
): PruneInt4Plan {
  const pruned = new Map<number, Float32Array>();
  const plan = planPrune(index, source, resolveExternal, { ...prune, storage: 'dense' }, sink, {
    onPruned: (t, v) => pruned.set(t.id, v),
  });
  if (plan.blockers.length > 0 || plan.tensors.length === 0) return { ...plan, quantized: [] };
  const q = planQuantize(index, source, resolveExternal, quantize, sink, {
    read: (t: TensorInfo) => {
      const v = pruned.get(t.id);
      if (!v) throw new Error(`unreachable: ${t.name} was not pruned`);
      return allFinite(v) ? v : undefined;
    },
    accept: (t) => pruned.has(t.id),
  });
  // A quantized weight nothing else reads is removed: its pruned float copy is not written either.
  const removed = new Set(q.edits.flatMap((e) => (e.kind === 'removeTensor' ? [e.tensorId] : [])));
  const edits = plan.edits.filter((e) => !(e.kind === 'replaceTensor' && removed.has(e.tensorId)));
  const byName = new Map(q.tensors.map((r) => [`${r.graph}\n${r.name}`, r]));
  const tensors = plan.tensors.map((r) => {
    const qr = byName.get(`${r.graph}\n${r.name}`);
    if (!qr) {
      const note = 'stays pruned dense (not a weight MatMulNBits takes)';
      return { ...r, note: r.note ? `${r.note}; ${note}` : note };
    }
    const kept = qr.removed ? '' : '; the pruned float copy stays for its other readers';
    const note = `then ${qr.afterDtype}: the rounding's weight SQNR ${qr.weightSqnrDb} dB${kept}`;
    return {
      ...r,
      afterDtype: qr.afterDtype,
      afterBytes: qr.afterBytes + (qr.removed ? 0 : r.denseBytes),
      storage: 'MatMulNBits' as const,
      note: r.note ? `${r.note}; ${note}` : note,
    };
  });
  return {
    ...plan,
    edits: [...edits, ...q.edits],
    tensors,
    nodes: q.nodes,
    skipped: [...plan.skipped, ...q.skipped],
    warnings: [...plan.warnings, ...q.warnings],
    opsetChanges: q.opsetChanges,
    blockers: q.blockers,
    quantized: q.tensors,
  };
}
