import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex, TensorInfo } from '../onnx/modelIndex';
import type { LazyTensors } from '../write/lazyTensors';
import {
  planQuantize,
  readFloat32,
  type QuantizedTensorRow,
  type QuantizeOptions,
  type TensorSink,
} from '../quant/planQuantize';
import { allFinite } from '../tensor/allFinite';
import { planPrune, type PruneHooks, type PrunePlan, type PruneOptions } from './planPrune';

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
 *
 * One weight at a time: each is pruned when the quantizer reads it and dropped once its codes are made.
 * With `lazy`, the weights that stay pruned dense (and the pruned float copy a quantized weight keeps for
 * other readers) are pruned again as the writer reaches them, so memory holds no more than a weight and
 * the 4-bit codes; their report rows are complete once the model is written. `decided`: wanda/sparsegpt's
 * pruned values (planPrune's hook), quantized like any pruned weight, so their pruned zeros stay 0 too.
 */
export function planPruneInt4(
  index: ModelIndex,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  prune: PruneOptions,
  quantize: QuantizeOptions,
  sink: TensorSink = (b) => b,
  lazy?: LazyTensors,
  decided?: PruneHooks['decided'],
): PruneInt4Plan {
  let prunedValues: (t: TensorInfo) => Float32Array | undefined = () => undefined;
  const plan = planPrune(index, source, resolveExternal, { ...prune, storage: 'dense' }, sink, {
    lazy,
    decided,
    onPlanned: (f) => (prunedValues = f),
  });
  if (plan.blockers.length > 0 || plan.tensors.length === 0) return { ...plan, quantized: [] };
  const pruned = new Set(plan.tensors.map((r) => `${r.graph}\n${r.name}`));
  const q = planQuantize(index, source, resolveExternal, quantize, sink, {
    read: (t: TensorInfo) => {
      // A Gemm's C that was not pruned is read as stored.
      const v = prunedValues(t) ?? readFloat32(t, source, resolveExternal);
      return v && allFinite(v) ? v : undefined;
    },
    accept: (t) => pruned.has(`${t.graph}\n${t.name}`),
  });
  // A quantized weight nothing else reads is removed: its pruned float copy is not written either.
  const removed = new Set(q.edits.flatMap((e) => (e.kind === 'removeTensor' ? [e.tensorId] : [])));
  const edits = plan.edits.filter((e) => !(e.kind === 'replaceTensor' && removed.has(e.tensorId)));
  const byName = new Map(q.tensors.map((r) => [`${r.graph}\n${r.name}`, r]));
  // Rows are changed in place: a weight the writer prunes fills in its row after planning.
  for (const r of plan.tensors) {
    const qr = byName.get(`${r.graph}\n${r.name}`);
    if (!qr) {
      const note = 'stays pruned dense (not a weight MatMulNBits takes)';
      r.note = r.note ? `${r.note}; ${note}` : note;
      continue;
    }
    const kept = qr.removed ? '' : '; the pruned float copy stays for its other readers';
    const note = `then ${qr.afterDtype}: the rounding's weight SQNR ${qr.weightSqnrDb} dB${kept}`;
    Object.assign(r, {
      afterDtype: qr.afterDtype,
      afterBytes: qr.afterBytes + (qr.removed ? 0 : r.denseBytes),
      storage: 'MatMulNBits' as const,
      note: r.note ? `${r.note}; ${note}` : note,
    });
  }
  return {
    ...plan,
    edits: [...edits, ...q.edits],
    skipped: [...plan.skipped, ...q.skipped],
    warnings: [...plan.warnings, ...q.warnings],
    nodes: q.nodes,
    opsetChanges: q.opsetChanges,
    blockers: q.blockers,
    quantized: q.tensors,
  };
}
