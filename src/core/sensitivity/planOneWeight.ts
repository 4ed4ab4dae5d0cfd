import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex, TensorInfo } from '../onnx/modelIndex';
import { DEFAULT_PRUNE_OPTIONS, planPrune } from '../prune/planPrune';
import { planFp16 } from '../quant/planFp16';
import { planQuantize, type QuantizeOptions, type QuantizedTensorRow } from '../quant/planQuantize';
import { onlyWeights } from '../shrink/planMixed';
import type { PrecisionSpec } from '../shrink/precisions';
import type { Edit } from '../write/planWrite';

/**
 * What a sensitivity candidate does to its one weight: quantize it (MatMulNBits), store it as float16, or
 * zero its smallest-magnitude fraction (per-layer magnitude pruning, as `prune --sparsity` does).
 */
export type Perturbation = Exclude<PrecisionSpec, { kind: 'float' }> | { kind: 'prune'; sparsity: number };

/** The one-weight plan: its edits and the weight's row (bytes after, weight SQNR), or why it cannot be made. */
export interface OneWeightPlan {
  edits: Edit[];
  row?: QuantizedTensorRow;
  error?: string;
}

/** `int4 block 32`, `fp16`, `50% magnitude sparsity`: for messages and reports. */
export function describePerturbation(p: Perturbation): string {
  if (p.kind === 'nbits') return `${p.bits}-bit (block ${p.blockSize})`;
  if (p.kind === 'fp16') return 'float16';
  return `${Math.round(p.sparsity * 100)}% magnitude sparsity`;
}

/**
 * Plans the model with only `t` changed by `p`, through the same planner the whole-model command uses
 * (quantize, convert --fp16, prune) restricted to that weight, so a candidate changes the weight exactly
 * as the command would. A plan that changes any other weight, or is blocked, is refused.
 */
export function planOneWeight(
  index: ModelIndex,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  t: TensorInfo,
  p: Perturbation,
  base: QuantizeOptions,
): OneWeightPlan {
  const exclude = onlyWeights(index, [t.name]);
  const plan =
    p.kind === 'nbits'
      ? planQuantize(index, source, resolveExternal, {
          ...base,
          bits: p.bits,
          blockSize: p.blockSize,
          exclude,
        })
      : p.kind === 'fp16'
        ? planFp16(index, source, resolveExternal, { minElements: 0, exclude })
        : planPrune(index, source, resolveExternal, {
            ...DEFAULT_PRUNE_OPTIONS,
            method: 'magnitude',
            scope: 'layer',
            sparsity: p.sparsity,
            exclude,
          });
  if (plan.blockers.length > 0) return { edits: [], error: plan.blockers.join('; ') };
  const rows = plan.tensors.filter((r) => r.name === t.name);
  if (plan.tensors.length !== 1 || rows.length !== 1) {
    const why = plan.skipped.find((s) => s.name === t.name)?.reason;
    return {
      edits: [],
      error: why
        ? `${describePerturbation(p)} leaves it alone: ${why}`
        : `the one-weight plan changed ${plan.tensors.length} weights`,
    };
  }
  // A prune row's `method` says how its mask was chosen, not a quantization method.
  return { edits: plan.edits, row: { ...rows[0], method: undefined } };
}
