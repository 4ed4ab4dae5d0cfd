import type { NodeChange } from '../quant/planQuantize';
import type { Edit } from '../write/planWrite';
import type { SkippedRow } from './transformReport';

/** What every transform plans (quantize, convert, prune): the writer's edits and the report's rows. */
export interface TransformPlan<Row> {
  edits: Edit[];
  tensors: Row[];
  nodes: NodeChange[];
  skipped: SkippedRow[];
  warnings: string[];
  /** Opset imports and IR version changed or added, and the node rewrites that took ("com.microsoft 1"). */
  opsetChanges: string[];
  /**
   * Why the plan must not be written (an opset raise that would change what a node computes, a keep-mask
   * that does not fit the model).
   */
  blockers: string[];
}

/** A plan with nothing in it yet. */
export function emptyPlan<Row>(): TransformPlan<Row> {
  return { edits: [], tensors: [], nodes: [], skipped: [], warnings: [], opsetChanges: [], blockers: [] };
}
