/**
 * Messages between the extension host and the model editor's webview.
 *
 * The webview says `ready`; the host answers with `editor/init`, the whole state it has for the
 * document (cached, so a webview that was hidden and shown again gets everything without a
 * recomputation). After that the host streams `model/overview`, `stats/rows` and `stats/done`, and
 * `editor/reveal` when another view (the side panel) asks to show a tensor. A selected weight's sweep is
 * asked with `sweep/request` and arrives in `sweep/rows` (with the background sweeps); the measured
 * sensitivity in `sensitivity/report`. postMessage is JSON: an infinite SQNR arrives as null.
 * The webview receives summaries (stats, histograms, 7 sweep figures) and never tensor data.
 */
import type { FunctionalCoreView } from '../core/compact/functionalCoreView';
import type { DataPreview, DataSection } from '../core/data/dataSection';
import type { GraphModel } from '../core/graph/graphModel';
import type { GraphLayout } from '../core/graph/layoutGraph';
import type { InspectReport } from '../core/inspect/inspectReport';
import type { SensitivitySummary } from '../core/sensitivity/sensitivitySummary';
import type { WeightSweep } from '../core/sensitivity/sweepPoints';
import type { TensorStatsResult } from './worker';

/** Where the document's analysis stands. */
export type EditorStatus = 'indexing' | 'computing' | 'done' | 'error' | 'cancelled';

export interface StatsProgress {
  /** Tensors done / to do. */
  done: number;
  total: number;
  /** Stored bytes of the tensors done / to do. */
  bytesDone: number;
  bytesTotal: number;
  /** Since statistics started. */
  elapsedMs: number;
}

/** A file that is not a valid model: which file and why. */
export interface EditorError {
  file: string;
  reason: string;
}

/** Statistics of one tensor as the webview gets them (no hash). */
export type TensorRowStats = Omit<TensorStatsResult, 'hash'>;

/** The data-free sweep of one tensor (7 numbers), or why it has none. */
export interface TensorSweepRow {
  id: number;
  sweep?: WeightSweep;
  error?: string;
}

/** Everything the host knows about one document. */
export interface EditorSnapshot {
  /** Base name of the model file. */
  fileName: string;
  status: EditorStatus;
  /** Model summary and tensors without stats (absent while indexing or after an error). */
  report?: InspectReport;
  /** Statistics computed so far, in arrival order. */
  rows: TensorRowStats[];
  /** Tensor id -> names of byte-identical tensors (known once all statistics are in). */
  duplicates: Record<number, string[]>;
  progress: StatsProgress;
  error?: EditorError;
  timings: { indexMs?: number; statsMs?: number };
  /** Sweeps computed so far (the selected tensor's at once, the others in the background). */
  sweeps: TensorSweepRow[];
  /** The measured sensitivity (`<model>.sensitivity.json`), when there is one. */
  sensitivity?: SensitivitySummary;
}

// ---- host -> webview ----

/** The whole state: the answer to `ready`, and sent again when a refresh starts. */
export interface InitMessage {
  type: 'editor/init';
  snapshot: EditorSnapshot;
  messageId?: number;
  inReplyTo?: number;
}

export interface OverviewMessage {
  type: 'model/overview';
  report: InspectReport;
  indexMs: number;
  messageId?: number;
  inReplyTo?: number;
}

/** Newly computed rows (coalesced, a few times a second). */
export interface StatsRowsMessage {
  type: 'stats/rows';
  rows: TensorRowStats[];
  progress: StatsProgress;
  messageId?: number;
  inReplyTo?: number;
}

export interface StatsDoneMessage {
  type: 'stats/done';
  status: 'done' | 'cancelled';
  duplicates: Record<number, string[]>;
  progress: StatsProgress;
  messageId?: number;
  inReplyTo?: number;
}

export interface ErrorMessage {
  type: 'model/error';
  error: EditorError;
  messageId?: number;
  inReplyTo?: number;
}

/** Select tensor `name` (of `graph` when given) and bring its row into view (from the side panel's rows). */
export interface RevealTensorMessage {
  type: 'editor/reveal';
  name: string;
  graph?: string;
  messageId?: number;
  inReplyTo?: number;
}

/** Sweeps computed since the last message (coalesced like the rows). */
export interface SweepRowsMessage {
  type: 'sweep/rows';
  rows: TensorSweepRow[];
  messageId?: number;
  inReplyTo?: number;
}

/** The measured sensitivity was loaded or measured (undefined: there is none). */
export interface SensitivityMessage {
  type: 'sensitivity/report';
  sensitivity: SensitivitySummary | undefined;
  messageId?: number;
  inReplyTo?: number;
}

/** What the Data card shows: the data the model's commands use (from `big-shrink data MODEL --json`). */
export interface DataCardState {
  status: 'none' | 'loading' | 'ready' | 'error';
  /** `MODEL.inputs.json`, when it exists. */
  recipeFile?: string;
  section?: DataSection;
  preview?: DataPreview;
  /** Why the data could not be read (status error): the CLI's message. */
  error?: string;
}

/** The Data card's state changed (after `ready`, a choice, or a saved split). */
export interface DataStateMessage {
  type: 'data/state';
  state: DataCardState;
  messageId?: number;
  inReplyTo?: number;
}

/**
 * The Functional core tab: the model's measured activations (`big-shrink activations MODEL --json` in the
 * CLI child, on the data of the recipe beside the model, else synthesized inputs), as a summary.
 */
export interface CoreState {
  status: 'none' | 'running' | 'ready' | 'error' | 'cancelled';
  /** Model runs done and planned (status running; planned grows while synthesizing). */
  progress?: { done: number; total: number };
  /** The last measurement (kept while a new one runs). */
  view?: FunctionalCoreView;
  /** Which measurement `view` is (counts up per model): the webview redraws its charts when it changes. */
  measured?: number;
  /** Why the measurement failed (status error): the CLI's message. */
  error?: string;
}

/** The Functional core tab's state changed (after `ready`, and as a measurement runs). */
export interface CoreStateMessage {
  type: 'core/state';
  state: CoreState;
  messageId?: number;
  inReplyTo?: number;
}

/** One weight of the newest transform report of this model: its precision after and its error. */
export interface GraphReportLayer {
  name: string;
  afterDtype: string;
  /** Weight SQNR in dB; null when exact (infinite), absent when not measured. */
  weightSqnrDb?: number | null;
}

/** The answer to `graph/request`: the graph model and its layout (computed in a worker), or why not. */
export interface GraphViewMessage {
  type: 'graph/view';
  graph: string;
  model?: GraphModel;
  layout?: GraphLayout;
  buildMs?: number;
  layoutMs?: number;
  error?: string;
  /** The newest transform report of this model (chosen precision and per-layer error), if any. */
  lastReport?: { label: string; layers: GraphReportLayer[] };
  messageId?: number;
  inReplyTo?: number;
}

export type ToWebview =
  | CoreStateMessage
  | DataStateMessage
  | GraphViewMessage
  | SweepRowsMessage
  | SensitivityMessage
  | InitMessage
  | OverviewMessage
  | StatsRowsMessage
  | StatsDoneMessage
  | ErrorMessage
  | RevealTensorMessage;

// ---- webview -> host ----

export interface ReadyMessage {
  type: 'ready';
  messageId?: number;
  inReplyTo?: number;
}

/** The selection changed (commands such as "copy tensor name" act on it). */
export interface TensorSelectedMessage {
  type: 'tensor/selected';
  id: number | undefined;
  name: string | undefined;
  messageId?: number;
  inReplyTo?: number;
}

/** Commands the webview's own buttons can run. */
export type EditorCommand =
  | 'refresh'
  | 'exportJson'
  | 'exportCsv'
  | 'revealReports'
  | 'reopenWithText'
  | 'measureSensitivity';

export interface RunCommandMessage {
  type: 'command/run';
  command: EditorCommand;
  messageId?: number;
  inReplyTo?: number;
}

/** Compute the sweep of tensor `id` now (it was selected); answered with `sweep/rows`. */
export interface SweepRequestMessage {
  type: 'sweep/request';
  id: number;
  messageId?: number;
  inReplyTo?: number;
}

/** Lay out graph `graph` (`main`, a subgraph path, `function:…`) with these blocks expanded. */
export interface GraphRequestMessage {
  type: 'graph/request';
  graph: string;
  /** Absent: the default (every block expanded when the graph is small, none when big). */
  expanded?: number[];
  messageId?: number;
  inReplyTo?: number;
}

/**
 * A graph node's context menu: leave its weights in float in the quantize commands (the workspace
 * folder's `bigShrink.quantize.exclude`), or quantize only them (`quantize --only`).
 */
export interface GraphActionMessage {
  type: 'graph/action';
  action: 'exclude' | 'quantizeOnly';
  /** The node's weight names (or the node's name when it reads no weight). */
  names: string[];
  messageId?: number;
  inReplyTo?: number;
}

/** What the webview has put on screen (tests and timings read it). */
export interface RenderedMessage {
  type: 'view/rendered';
  /** `graph`: rows = nodes in the accessible node list. */
  view: 'overview' | 'rows' | 'error' | 'sweep' | 'sensitivity' | 'graph' | 'core';
  /**
   * Rows with statistics now in the table (sweep: tensors with a sweep; sensitivity: measured rows shown;
   * core: layers shown in the Functional core tab).
   */
  rows: number;
  messageId?: number;
  inReplyTo?: number;
}

/**
 * Data card actions: choose a data folder or file, or a tokenizer (the host opens the dialog), save the
 * split, or forget the data (the recipe keeps its other settings).
 */
export interface DataActionMessage {
  type: 'data/action';
  action: 'chooseFolder' | 'chooseFile' | 'chooseTokenizer' | 'setSplit' | 'clear';
  calibration?: number;
  evaluation?: number;
  messageId?: number;
  inReplyTo?: number;
}

/**
 * Functional core actions: measure the activations (again), cancel the measurement, or compact the model
 * (`big-shrink compact --units F`, run as the other transforms run).
 */
export interface CoreActionMessage {
  type: 'core/action';
  action: 'measure' | 'cancel' | 'compact';
  /** compact: the share of each layer's hidden units to remove (0 < units < 1). */
  units?: number;
  messageId?: number;
  inReplyTo?: number;
}

export type FromWebview =
  | CoreActionMessage
  | DataActionMessage
  | GraphRequestMessage
  | GraphActionMessage
  | ReadyMessage
  | TensorSelectedMessage
  | RunCommandMessage
  | RenderedMessage
  | SweepRequestMessage;
