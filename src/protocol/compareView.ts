/**
 * Messages between the compare view (webview/compare) and the host (src/extension/comparePanel.ts). The
 * host holds the comparison (`big-shrink diff --json`, run in the CLI's process); the webview gets it
 * without histograms and asks for the selected tensor's pair of histograms.
 */
import type { ModelDiff, SharedHistogram } from '../core/diff/modelDiff';

/** What the view shows. */
export interface CompareState {
  status: 'running' | 'done' | 'failed' | 'cancelled';
  /** What each side is (file name, or `model.onnx (HEAD)`), and where it is. */
  labelA: string;
  labelB: string;
  pathA: string;
  pathB: string;
  /** The comparison, histograms left out. */
  diff?: ModelDiff;
  progress?: { done: number; total: number };
  error?: string;
}

/** The whole state: the answer to `ready` and every change of status. */
export interface CompareInitMessage {
  type: 'compare/init';
  state: CompareState;
  messageId?: number;
  inReplyTo?: number;
}

export interface CompareProgressMessage {
  type: 'compare/progress';
  done: number;
  total: number;
  messageId?: number;
  inReplyTo?: number;
}

/** Both histograms of one tensor, over one range (absent for a side the tensor is not in). */
export interface HistogramsMessage {
  type: 'compare/histograms';
  name: string;
  histogramA?: SharedHistogram;
  histogramB?: SharedHistogram;
  messageId?: number;
  inReplyTo?: number;
}

export type ToCompare = CompareInitMessage | CompareProgressMessage | HistogramsMessage;

export interface CompareReadyMessage {
  type: 'ready';
  messageId?: number;
  inReplyTo?: number;
}

/** A row was selected: the host answers with its histograms. */
export interface SelectTensorMessage {
  type: 'compare/select';
  name: string;
  messageId?: number;
  inReplyTo?: number;
}

/** What the view drew (tests read it through the test hook). */
export interface CompareRenderedMessage {
  type: 'view/rendered';
  /** Names of the table's rows in the order drawn. */
  rows: string[];
  selected?: string;
  /** The histogram drawn for `selected`: the bin counts of each side. */
  histogramA?: number[];
  histogramB?: number[];
  messageId?: number;
  inReplyTo?: number;
}

export type FromCompare = CompareReadyMessage | SelectTensorMessage | CompareRenderedMessage;
