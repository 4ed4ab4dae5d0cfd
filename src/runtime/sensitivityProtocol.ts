/**
 * Messages between the sensitivity pool (host) and its worker threads (dist/sensitivityWorker.js). Each
 * worker opens the model once (`open`), gets the inputs and the original's outputs, computed once by the
 * host (`reference`), then measures one candidate per `measure` message until `close`.
 */
import type { QuantizeOptions } from '../core/quant/planQuantize';
import type { Perturbation } from '../core/sensitivity/planOneWeight';
import type { WeightSweep } from '../core/sensitivity/sweepPoints';

/** An input tensor as it crosses threads (onnxruntime Tensors do not). */
export interface SerializedTensor {
  name: string;
  type: string;
  dims: number[];
  data: ArrayLike<number> | ArrayLike<bigint> | string[];
}

/** One float output of the original model, as float64 for the comparisons. */
export interface ReferenceOutput {
  name: string;
  dims: number[];
  values: Float64Array;
}

/** Sent first, so a worker loads onnxruntime and opens the model while the host runs the original. */
export interface SensitivityOpenMessage {
  type: 'sensitivity/open';
  modelPath: string;
  base: QuantizeOptions;
  /** onnxruntime intra-op threads per candidate session (1: the workers do not fight over cores). */
  threads: number;
}

/** The inputs and the original's outputs, once the host has them. */
export interface SensitivityReferenceMessage {
  type: 'sensitivity/reference';
  feeds: SerializedTensor[];
  reference: ReferenceOutput[];
}

/** The weight to change, and how. */
export interface MeasureJob {
  name: string;
  graph: string;
  perturbation: Perturbation;
  /** Also compute the weight's data-free sweep (sensitivity's report; shrink does not need it). */
  sweep?: boolean;
}

export interface SensitivityMeasureMessage {
  type: 'sensitivity/measure';
  id: number;
  job: MeasureJob;
}

export interface SensitivityCloseMessage {
  type: 'sensitivity/close';
}

export type ToSensitivityWorker =
  | SensitivityOpenMessage
  | SensitivityReferenceMessage
  | SensitivityMeasureMessage
  | SensitivityCloseMessage;

/** One output's fidelity with one layer changed. */
export interface SensitivityOutput {
  name: string;
  cosine: number;
  sqnrDb: number;
}

/** What one candidate measured. */
export interface LayerMeasurement {
  outputs: SensitivityOutput[];
  /** Worst output SQNR (dB) and cosine; NaN with an error. */
  outputSqnrDb: number;
  cosine: number;
  /** The weight's bytes after the change and its weight SQNR (NaN when no plan could be made). */
  afterBytes: number;
  weightSqnrDb: number;
  sweep?: WeightSweep;
  ms: number;
  error?: string;
}

export interface SensitivityMeasuredMessage {
  type: 'sensitivity/measured';
  id: number;
  result: LayerMeasurement;
}

export interface SensitivityErrorMessage {
  type: 'error';
  file: string;
  reason: string;
}

export type FromSensitivityWorker = SensitivityMeasuredMessage | SensitivityErrorMessage;
