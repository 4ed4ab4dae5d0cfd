import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex } from '../onnx/modelIndex';
import { DEFAULT_QUANTIZE_OPTIONS, planQuantize } from '../quant/planQuantize';
import { type Precision, PRECISION_SPECS, PRECISIONS } from './precisions';

/**
 * Adds to `bytes` (by weight name, for the weights it already holds) what each allowed MatMulNBits
 * precision stores for that weight, from planQuantize itself — one whole-model plan per precision — so
 * shrink's search trades the bytes the written model will have.
 */
export function addNbitsBytes(
  model: { index: ModelIndex; source: ByteSource; resolveExternal: ExternalDataResolver },
  precisions: readonly Precision[],
  bytes: ReadonlyMap<string, Partial<Record<Precision, number>>>,
): void {
  for (const p of PRECISIONS) {
    const spec = PRECISION_SPECS[p];
    if (spec.kind !== 'nbits' || !precisions.includes(p)) continue;
    const plan = planQuantize(model.index, model.source, model.resolveExternal, {
      ...DEFAULT_QUANTIZE_OPTIONS,
      bits: spec.bits,
      blockSize: spec.blockSize,
    });
    for (const t of plan.tensors) {
      const b = bytes.get(t.name);
      if (b) b[p] = t.afterBytes;
    }
  }
}
