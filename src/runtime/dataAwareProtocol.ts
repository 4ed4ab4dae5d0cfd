/**
 * Messages between a host (the CLI) and a data-aware quantization worker thread (dist/dataAwareWorker.js).
 *
 * `capture` runs the model on the calibration inputs and answers with the activations' Gram matrices
 * (one per worker, which then closes; a shared flag cancels between batches, since a native run cannot be
 * interrupted); `captureSegments` does so part by part for several groups, one answer per part. `solve` quantizes one layer with its Gram matrix; a solve worker takes one after another
 * and the host terminates it when done or cancelled (pure JavaScript: safe to stop at any point). Large
 * arrays travel as transferables. (Beside the runtime because they carry runtime types.)
 */
import type { DataAwarePruneMethod, DataAwarePrunedLayer, PruneRule } from '../core/prune/dataAwarePrune';
import type { DataAwareLayer, QuantMethod } from '../core/quant/dataAwareQuantize';
import type { BlockwiseOptions } from '../core/quant/quantizeBlockwise';
import type { ActivationTarget, CalibrationOptions, CaptureResult } from './captureActivations';
import type { SegmentCapture } from './captureInSegments';

export interface CaptureRequest {
  type: 'capture';
  modelPath: string;
  targets: ActivationTarget[];
  options: CalibrationOptions;
  /** Int32Array over it: element 0 becomes 1 to cancel. */
  cancelFlag: SharedArrayBuffer;
}

/**
 * Captures several groups of activations part by part (captureInSegments): the worker answers each part
 * with `captureSegments/part` and waits for `captureSegments/next` before running the next one.
 */
export interface CaptureSegmentsRequest {
  type: 'captureSegments';
  modelPath: string;
  groups: ActivationTarget[][];
  options: CalibrationOptions;
  heldOut?: { batches: number; seedBase: number };
  /** Int32Array over it: element 0 becomes 1 to cancel. */
  cancelFlag: SharedArrayBuffer;
}

export interface SolveRequest {
  type: 'solve';
  id: number;
  weight: Float32Array;
  K: number;
  N: number;
  layout: 'KN' | 'NK';
  alpha: number;
  gram: Float64Array;
  /** XᵀX of held-out evaluation activations: the layer falls back to RTN when the method loses there. */
  heldOutGram?: Float64Array;
  /** Calibration rows behind `gram`. */
  rows: number;
  options: BlockwiseOptions;
  method: QuantMethod;
}

/** Prunes one layer with its Gram matrix (wanda, sparsegpt): answered by `prune/result`. */
export interface PruneSolveRequest {
  type: 'prune';
  id: number;
  /** As stored (`layout`), float32. */
  weight: Float32Array;
  K: number;
  N: number;
  layout: 'KN' | 'NK';
  gram: Float64Array;
  /** Calibration rows behind `gram`. */
  rows: number;
  /** XᵀX of held-out activations: the layer falls back to magnitude when the method loses there. */
  heldOutGram?: Float64Array;
  method: DataAwarePruneMethod;
  rule: PruneRule;
}

export type ToDataAwareWorker =
  | CaptureRequest
  | CaptureSegmentsRequest
  | { type: 'captureSegments/next' }
  | SolveRequest
  | PruneSolveRequest;

export type FromDataAwareWorker =
  | { type: 'capture/batch'; done: number; total: number; part?: number; parts?: number }
  | { type: 'capture/result'; result: CaptureResult }
  | { type: 'captureSegments/part'; capture: SegmentCapture }
  | { type: 'captureSegments/done' }
  | { type: 'captureSegments/unsupported'; reason: string }
  | { type: 'solve/rows'; id: number; done: number; total: number }
  | { type: 'solve/result'; id: number; layer: DataAwareLayer }
  | { type: 'prune/result'; id: number; layer: DataAwarePrunedLayer }
  | { type: 'cancelled' }
  | { type: 'error'; file: string; reason: string };
