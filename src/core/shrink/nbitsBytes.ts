import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex } from '../onnx/modelIndex';
import { DEFAULT_QUANTIZE_OPTIONS, planQuantize, type QuantizedTensorRow } from '../quant/planQuantize';
import { type Precision, PRECISION_SPECS, PRECISIONS } from './precisions';

/**
 * Adds to `bytes` (by weight name; a weight it does not hold yet gets an entry) what each allowed
 * MatMulNBits precision stores for that weight, from planQuantize itself — one whole-model plan per
 * precision — so shrink's search trades the bytes the written model will have. Returns the weights the
 * planner quantizes, one row per name (the first plan's; a 4-bit plan when no MatMulNBits precision is
 * allowed), so a caller needs no plan of its own to know the layers.
 */
export function addNbitsBytes(
  model: { index: ModelIndex; source: ByteSource; resolveExternal: ExternalDataResolver },
  precisions: readonly Precision[],
  bytes: Map<string, Partial<Record<Precision, number>>>,
): QuantizedTensorRow[] {
  const plan = (bits: 2 | 4 | 8, blockSize: number) =>
    planQuantize(model.index, model.source, model.resolveExternal, {
      ...DEFAULT_QUANTIZE_OPTIONS,
      bits,
      blockSize,
    });
  let rows: QuantizedTensorRow[] | undefined;
  for (const p of PRECISIONS) {
    const spec = PRECISION_SPECS[p];
    if (spec.kind !== 'nbits' || !precisions.includes(p)) continue;
    const tensors = plan(spec.bits, spec.blockSize).tensors;
    rows ??= tensors;
    for (const t of tensors) {
      const b = bytes.get(t.name) ?? {};
      b[p] = t.afterBytes;
      bytes.set(t.name, b);
    }
  }
  rows ??= plan(4, DEFAULT_QUANTIZE_OPTIONS.blockSize).tensors;
  const seen = new Set<string>();
  return rows.filter((r) => !seen.has(r.name) && seen.add(r.name));
}
