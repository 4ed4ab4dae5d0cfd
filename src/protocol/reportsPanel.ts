/**
 * Messages between the extension host and the Big Shrink side panel (the `bigShrink.reports` webview
 * view): the diff of the last transform and the history of compaction reports in the workspace.
 *
 * The panel says `ready` (with the report it showed before it was hidden, from getState); the host
 * answers with `reports/init`, the whole state. After that the host sends `reports/history` when the
 * list of `*.report.json` files changes, `reports/current` when another report is shown (a transform
 * ended, the user picked one, its file changed) and `reports/running` while a transform runs.
 * Reports are summaries already (one row per changed tensor or node): no tensor data crosses.
 */

import type { PruneSizes } from '../core/prune/pruneReport';
import type { NextStep } from '../core/transform/nextSteps';
import type { ShrinkFigures } from './shrinkFigures';

/** pass / warn / fail from the report's verification (min output cosine ≥ 0.99 / ≥ 0.95 / lower or broken). */
export type FidelityStatus = 'pass' | 'warn' | 'fail' | 'unverified';

/** One `*.report.json` in the history list. */
export interface ReportEntry {
  /** Absolute path of the report JSON (the key of a report). */
  file: string;
  /** Workspace-relative path for display (absolute when outside the workspace). */
  label: string;
  /** quantize, convert, prune, … */
  transform: string;
  /** What the transform did, for people: "4-bit MatMulNBits, block 32", "fp16 weights". */
  variant: string;
  /** Base names of the input and output models. */
  model: string;
  output: string;
  createdAt: string;
  bytesBefore: number;
  bytesAfter: number;
  ratio: number;
  status: FidelityStatus;
}

/** One weight the transform changed. */
export interface TensorChange {
  name: string;
  graph: string;
  op: string;
  dims: number[];
  beforeDtype: string;
  afterDtype: string;
  beforeBytes: number;
  afterBytes: number;
  /**
   * Weight SQNR in dB (absent when the transform does not measure it); `null` when the weight came out
   * unchanged (an infinite SQNR, which JSON, and so a webview message, cannot carry).
   */
  weightSqnrDb?: number | null;
  /** Share of zeros before and after (pruning reports). */
  sparsityBefore?: number;
  sparsityAfter?: number;
  /** False when another reader still needs the original weight. */
  removed?: boolean;
  /** Pruning: how the output stores it (`dense`, `sparse_initializer`). */
  storage?: string;
  /** Pruning: payload bytes as a dense tensor and as a sparse tensor (values + int64 indices). */
  denseBytes?: number;
  sparseBytes?: number;
  /** Pruning: "2:4 along axis 1" (N:M), a note ("zeroed channels still output their bias"). */
  pattern?: string;
  note?: string;
  /** Channel pruning: the axis, the channel count and the zeroed channel indices. */
  channels?: { axis: number; total: number; zeroed: number[] };
}

/** The size effects of pruning, as the prune report states them (its `sizes`). */
export type { PruneSizes };

/** What a prune report adds to the summary. */
export interface PruneFigures {
  /** Zeros among the pruned weights' elements, before and after. */
  sparsityBefore: number;
  sparsityAfter: number;
  /** The fraction asked for (magnitude: of weights; channel: of channels). */
  target?: number;
  /** Global magnitude: the |w| threshold. */
  threshold?: number;
  /** Elements of the pruned weights. */
  weights: number;
  sizes?: PruneSizes;
}

/** What stayed float after quantization: the summary line and its groups, largest first. */
export interface StayedFloatView {
  summary: string;
  tensors: number;
  bytes: number;
  groups: { label: string; tensors: number; bytes: number; names: string[] }[];
}

/** One node the transform rewrote. */
export interface NodeChangeRow {
  node: string;
  graph: string;
  from: string;
  to: string;
  weight: string;
  note?: string;
}

/** Output fidelity of one model output. */
export interface OutputFidelity {
  name: string;
  cosine: number;
  sqnrDb: number;
  maxAbsError: number;
  top1Agreement?: number;
}

/** The task figures of a verification (report `verification.metrics`), shown before the outputs. */
export interface TaskFigures {
  task: 'lm' | 'classification' | 'generic';
  pplOriginal?: number;
  pplCandidate?: number;
  klMean?: number;
  klMax?: number;
  top1Agreement?: number;
  tokens?: number;
  accuracyOriginal?: number;
  accuracyCandidate?: number;
  /** Evaluation samples compared. */
  samples?: number;
}

/** One report, shown in full. */
export interface ReportView extends ReportEntry {
  /** The model the transform read (tensor rows reveal their tensor there) and the one it wrote. */
  inputPath: string;
  outputPath: string;
  /** The Markdown report beside the JSON, when it exists. */
  markdownPath?: string;
  options: Record<string, string | number | boolean>;
  fidelity: {
    status: FidelityStatus;
    minCosine?: number;
    error?: string;
    outputs: OutputFidelity[];
    /** Task metrics, when the report has them. */
    task?: TaskFigures;
    /** True unless the report's `data.source` says the inputs were the user's files. */
    synthetic: boolean;
    original?: { loadMs: number; medianMs: number };
    candidate?: { loadMs: number; medianMs: number };
  };
  tensors: TensorChange[];
  nodes: NodeChangeRow[];
  /** Candidates left unchanged. */
  skipped: number;
  /** Quantize reports: the learned weights still in float, grouped by why (the report's `stayedFloat`). */
  stayedFloat?: StayedFloatView;
  warnings: string[];
  opsetChanges: string[];
  /** Prune reports only. */
  prune?: PruneFigures;
  /** Shrink reports only: target, layers, candidates, baselines. */
  shrink?: ShrinkFigures;
  /** After a fidelity FAIL: what to try next (core/transform/nextSteps; the host runs the chosen one). */
  nextSteps?: NextStepOffer[];
}

/** A next step as the panel offers it: a button with a tooltip. */
export type NextStepOffer = Pick<NextStep, 'kind' | 'label' | 'detail'>;

/** A transform in progress (shown above the diff). */
export interface RunningInfo {
  title: string;
  message: string;
}

/** A report file that could not be read. */
export interface PanelError {
  file: string;
  reason: string;
}

/** Everything the panel shows. */
export interface PanelState {
  history: ReportEntry[];
  current?: ReportView;
  running?: RunningInfo;
  error?: PanelError;
  /** True once the workspace has been searched (before that an empty history means "not yet"). */
  scanned: boolean;
  /** True in the editor-tab copy of the panel (it offers no "Open in Editor" of its own). */
  inEditor?: boolean;
}

// ---- host -> panel ----

export interface InitMessage {
  type: 'reports/init';
  state: PanelState;
  messageId?: number;
  inReplyTo?: number;
}

export interface HistoryMessage {
  type: 'reports/history';
  history: ReportEntry[];
  messageId?: number;
  inReplyTo?: number;
}

export interface CurrentMessage {
  type: 'reports/current';
  current?: ReportView;
  error?: PanelError;
  messageId?: number;
  inReplyTo?: number;
}

export interface RunningMessage {
  type: 'reports/running';
  running?: RunningInfo;
  messageId?: number;
  inReplyTo?: number;
}

export type ToPanel = InitMessage | HistoryMessage | CurrentMessage | RunningMessage;

// ---- panel -> host ----

export interface ReadyMessage {
  type: 'ready';
  /** The report the panel showed before it was hidden (getState). */
  selected?: string;
  messageId?: number;
  inReplyTo?: number;
}

/** Show another report of the history. */
export interface SelectMessage {
  type: 'report/select';
  file: string;
  messageId?: number;
  inReplyTo?: number;
}

/** Open one of a report's files in an editor. */
export interface OpenMessage {
  type: 'report/open';
  file: string;
  /** `compare`: open the compare view of the input and output models. */
  what: 'markdown' | 'json' | 'input' | 'output' | 'compare';
  messageId?: number;
  inReplyTo?: number;
}

/** Open the report's input model in the model editor with tensor `name` selected. */
export interface RevealTensorMessage {
  type: 'tensor/reveal';
  file: string;
  name: string;
  messageId?: number;
  inReplyTo?: number;
}

/** What the panel has put on screen (tests read it). */
export interface RenderedMessage {
  type: 'view/rendered';
  current?: string;
  tensorRows: number;
  /** Columns of the tensor table (`sparsity` for prune reports). */
  tensorColumns: string[];
  /** Size figures the summary drew (`file`, `gzip`, `dense`, `sparse`, `runtime` for prune reports). */
  figures: string[];
  /** The next-step buttons drawn (their labels). */
  nextSteps?: string[];
  nodeRows: number;
  historyRows: number;
  /**
   * Shrink reports: layer and candidate rows drawn, points plotted (candidates + baselines), comparison rows,
   * the layer table's columns.
   */
  shrink?: {
    layerRows: number;
    candidateRows: number;
    plotted: number;
    comparison: string[];
    layerColumns: string[];
  };
  messageId?: number;
  inReplyTo?: number;
}

/** Commands the panel's own buttons run (the empty state offers "Quantize a Model…" and "Prune a Model…"). */
export interface RunCommandMessage {
  type: 'command/run';
  command: 'quantize' | 'prune' | 'shrink' | 'refresh' | 'openInEditor';
  messageId?: number;
  inReplyTo?: number;
}

/** Run one of the next steps the shown report offers (the host decides again what it runs). */
export interface RunNextStepMessage {
  type: 'nextStep/run';
  file: string;
  kind: NextStepOffer['kind'];
  messageId?: number;
  inReplyTo?: number;
}

export type FromPanel =
  | ReadyMessage
  | RunNextStepMessage
  | SelectMessage
  | OpenMessage
  | RevealTensorMessage
  | RunCommandMessage
  | RenderedMessage;
