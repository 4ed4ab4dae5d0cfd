/**
 * What a shrink report (`big-shrink shrink`) adds to the side panel's view of a report: the target and
 * what was achieved, the per-layer choices with their measured losses, the candidates tried (the size /
 * fidelity trade-off curve) and the uniform baselines. Precision ids (`int4`, `int8`, `float`, or ones a
 * newer engine adds) travel as given, with their labels from the report's `precisionLabels` when present.
 */

/** The worst output of a configuration on each metric (top-1 only for class-score outputs). */
export interface ShrinkFidelity {
  cosine: number;
  sqnrDb: number;
  top1?: number;
  /** Task figures (language models, labelled classifiers): see core/shrink/shrinkTarget's Fidelity. */
  pplDelta?: number;
  pplDeltaPct?: number;
  kl?: number;
  accPoints?: number;
}

/** One layer's measured loss at one precision, alone (the others left in float). */
export interface LayerLoss {
  choice: string;
  sqnrDb: number;
  cosine: number;
}

/** One MatMul/Gemm layer: the precision chosen and why. */
export interface ShrinkLayer {
  /** The weight's name (the model editor reveals it). */
  name: string;
  op: string;
  params: number;
  choice: string;
  why: string;
  /** Losses measured, one per precision tried (`losses`, else `int4` / `int8` of the report). */
  losses: LayerLoss[];
}

/** One layer moved one rung of its precision ladder. */
export interface LayerMove {
  name: string;
  from: string;
  to: string;
}

/** One configuration tried, in order. */
export interface ShrinkCandidate {
  step: number;
  /** Searching: the layer raised to make it from the previous candidate. */
  raised?: LayerMove;
  /** Backing off (after a fallback or with --refine): the layer lowered from the candidate written so far. */
  lowered?: LayerMove;
  /** Not a search step: the uniform configuration (a baseline id, `uniform8`) the search fell back to. */
  fallback?: string;
  counts: Record<string, number>;
  /** Bytes of the model file; undefined when the candidate could not be built. */
  bytes?: number;
  fidelity?: ShrinkFidelity;
  met: boolean;
  error?: string;
}

/** A uniform configuration of the same model (`uniform4`, `uniform8`, …). */
export interface ShrinkBaseline {
  id: string;
  label: string;
  bytes?: number;
  fidelity?: ShrinkFidelity;
  meetsTarget: boolean;
  error?: string;
}

/** Everything the panel draws of a shrink report. */
export interface ShrinkFigures {
  /** As the report states it: `cosine>=0.999`. */
  target: string;
  /** The metric and bound parsed from it (undefined when the text is not one the panel knows). */
  metric?: 'cosine' | 'sqnr' | 'top1' | 'ppl' | 'kl' | 'acc';
  min?: number;
  /** The written model's figure on the target's metric. */
  achieved?: number;
  /** The written model meets the target. */
  met: boolean;
  /** The step of the candidate that was written (`summary.chosenStep`; older reports: the last that met). */
  chosenStep?: number;
  /** The baseline id the search fell back to before backing off from it, when it did. */
  fallback?: string;
  /** Layers per precision id. */
  counts: Record<string, number>;
  /** Precision id -> label ("4-bit (block 32)"); ids without one are shown as they are. */
  labels: Record<string, string>;
  layers: ShrinkLayer[];
  candidates: ShrinkCandidate[];
  baselines: ShrinkBaseline[];
  /** What the search minimized (`summary.objective`; older reports: size). */
  objective?: 'size' | 'latency';
  /** Whole-model median latency before/after, measured by the verification (`summary.latency`). */
  latency?: { originalMs: number; candidateMs: number; runs: number };
}
