import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex } from '../onnx/modelIndex';
import {
  planQuantize,
  type QuantizeOptions,
  type QuantizePlan,
  type TensorSink,
} from '../quant/planQuantize';
import { planFp16 } from '../quant/planFp16';
import { emptyPlan } from '../transform/transformPlan';
import { type Precision, PRECISION_SPECS, PRECISIONS } from './precisions';

export { type Precision, PRECISIONS };

/**
 * Plans a mixed precision: each weight named in `choices` at its precision (`float`, and weights not named,
 * stay as they are). Composed from one planner call per precision — `planQuantize` at that precision's bits
 * and block size, or `planFp16` — each with an `exclude` pattern that spares exactly that group's weights,
 * so every weight changes exactly as `quantize --bits N --block B` (or `convert --fp16`) would; the plans'
 * edits touch disjoint weights and nodes and are merged. New tensor names that would clash between the
 * groups (a Gemm bias shared across groups) block the plan.
 */
export function planMixed(
  index: ModelIndex,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  choices: ReadonlyMap<string, Precision>,
  base: QuantizeOptions,
  sink?: TensorSink,
): QuantizePlan {
  const merged: QuantizePlan = emptyPlan();
  const seen = { edits: new Set<string>(), skipped: new Set<string>(), names: new Set<string>() };
  const removed = new Set<number>();
  for (const precision of PRECISIONS) {
    const spec = PRECISION_SPECS[precision];
    if (spec.kind === 'float') continue;
    const names = [...choices].filter(([, p]) => p === precision).map(([n]) => n);
    if (names.length === 0) continue;
    const exclude = onlyWeights(index, names);
    const plan =
      spec.kind === 'fp16'
        ? planFp16(index, source, resolveExternal, { minElements: 0, exclude }, sink)
        : planQuantize(
            index,
            source,
            resolveExternal,
            { ...base, bits: spec.bits, blockSize: spec.blockSize, exclude },
            sink,
          );
    for (const e of plan.edits) {
      if (e.kind === 'setOpset' || e.kind === 'setIrVersion') {
        const key = JSON.stringify(e);
        if (seen.edits.has(key)) continue;
        seen.edits.add(key);
      }
      if (e.kind === 'removeTensor') {
        if (removed.has(e.tensorId)) continue;
        removed.add(e.tensorId);
      }
      if (e.kind === 'addTensor') {
        const key = `${e.graph}\u0000${e.name}`;
        if (seen.names.has(key)) merged.blockers.push(`two precision groups both add a tensor ${e.name}`);
        seen.names.add(key);
      }
      merged.edits.push(e);
    }
    merged.tensors.push(...plan.tensors);
    merged.nodes.push(...plan.nodes);
    merged.blockers.push(...plan.blockers);
    for (const s of plan.skipped) {
      const key = JSON.stringify(s);
      if (s.reason === 'excluded by --exclude' || seen.skipped.has(key)) continue;
      seen.skipped.add(key);
      merged.skipped.push(s);
    }
    for (const w of plan.warnings) if (!merged.warnings.includes(w)) merged.warnings.push(w);
    for (const c of plan.opsetChanges) if (!merged.opsetChanges.includes(c)) merged.opsetChanges.push(c);
  }
  return merged;
}

/**
 * An `exclude` pattern for planQuantize that spares the named weights: it matches every name except theirs
 * and their readers' (planQuantize leaves a weight in float when its name or a reader's name matches).
 */
export function onlyWeights(index: ModelIndex, names: readonly string[]): RegExp {
  const wanted = new Set(names);
  const keep = new Set<string>();
  for (const t of index.tensors) {
    if (!wanted.has(t.name)) continue;
    keep.add(t.name);
    for (const c of t.consumers) keep.add(index.nodes[c.nodeId].name);
  }
  const escaped = [...keep].map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^(?!(?:${escaped.join('|')})$)`);
}
