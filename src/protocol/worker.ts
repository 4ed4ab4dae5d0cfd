/**
 * Messages between the extension host (or CLI) and a statistics worker thread.
 *
 * The worker opens a model by path, keeps it open under a `key` chosen by the host (one key per
 * document generation, so a refresh never reads a stale index) and computes per-tensor statistics in
 * batches. Each computed tensor is posted as a `stats/tensor` event as soon as it is done; the batch
 * ends with a `stats/computed` answer. The same batches carry the data-free bit-width/sparsity sweeps
 * (`what: 'sweep'`): each tensor's result then holds `sweep` instead of `stats`.
 */
import type { InspectReport } from '../core/inspect/inspectReport';
import type { WeightSweep } from '../core/sensitivity/sweepPoints';
import type { TensorStats } from '../core/stats/tensorStats';

/** What the worker computed for one tensor. */
export interface TensorStatsResult {
  id: number;
  stats?: TensorStats;
  /** Only for already-quantized weights: statistics of the dequantized values. */
  dequantized?: TensorStats;
  /** Content hash, to find byte-identical duplicates. */
  hash?: string;
  /** Weight SQNR at 2/3/4/8 bits and 25/50/75% sparsity (sweep requests only). */
  sweep?: WeightSweep;
  /** Why this one tensor could not be read (the rest of the model still can). */
  error?: string;
}

// ---- host -> worker ----

/** Open (or reopen) the model and answer with its summary (`model/indexed`). */
export interface IndexModelRequest {
  type: 'model/index';
  path: string;
  key: string;
  messageId?: number;
  inReplyTo?: number;
}

/** Compute statistics for `tensorIds`; streams `stats/tensor`, answers `stats/computed`. */
export interface ComputeStatsRequest {
  type: 'stats/compute';
  path: string;
  key: string;
  tensorIds: number[];
  bins: number;
  /** Statistics (default) or the sweep of each tensor. */
  what?: 'stats' | 'sweep';
  /** Sweep block size along K (default 32). */
  blockSize?: number;
  messageId?: number;
  inReplyTo?: number;
}

/** Forget the model opened under `key` (the document closed or was refreshed). */
export interface CloseModelMessage {
  type: 'model/close';
  key: string;
  messageId?: number;
  inReplyTo?: number;
}

export type ToWorker = IndexModelRequest | ComputeStatsRequest | CloseModelMessage;

// ---- worker -> host ----

export interface ModelIndexedReply {
  type: 'model/indexed';
  report: InspectReport;
  /** Milliseconds the worker spent opening and indexing. */
  elapsedMs: number;
  messageId?: number;
  inReplyTo?: number;
}

/** One tensor done, while a `stats/compute` request (`requestId`) is running. */
export interface TensorStatsEvent {
  type: 'stats/tensor';
  requestId: number;
  result: TensorStatsResult;
  messageId?: number;
  inReplyTo?: number;
}

export interface StatsComputedReply {
  type: 'stats/computed';
  count: number;
  messageId?: number;
  inReplyTo?: number;
}

/** A request failed; `file` and `reason` as in ModelError. */
export interface WorkerErrorReply {
  type: 'error';
  file: string;
  reason: string;
  messageId?: number;
  inReplyTo?: number;
}

export type FromWorker = ModelIndexedReply | TensorStatsEvent | StatsComputedReply | WorkerErrorReply;
