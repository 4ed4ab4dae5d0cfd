/**
 * Messages between the extension host (or a benchmark) and the graph layout worker (dist/graphWorker.js).
 *
 * The host asks for graph `graph` of the model at `path` with some blocks expanded; the worker opens
 * the model (kept open for the next request), builds the graph model and lays it out with dagre, and
 * answers with both. A request may carry a graph model instead of a path (benchmarks, tests).
 */
import type { GraphModel } from '../core/graph/graphModel';
import type { GraphLayout } from '../core/graph/layoutGraph';

export interface GraphLayoutRequest {
  type: 'graph/layout';
  /** The model file; ignored when `model` is given. */
  path: string;
  /** Which graph: `main`, a subgraph path, or `function:domain:name`. */
  graph: string;
  /** Blocks to show expanded; absent: the default (all when small, none when big). */
  expanded?: number[];
  /** A graph model to lay out as it is (no file is read). */
  model?: GraphModel;
  messageId?: number;
  inReplyTo?: number;
}

export interface GraphLaidOutReply {
  type: 'graph/laidOut';
  model: GraphModel;
  layout: GraphLayout;
  /** Milliseconds spent building the graph model (0 when it was given) and laying it out. */
  buildMs: number;
  layoutMs: number;
  messageId?: number;
  inReplyTo?: number;
}

/** The model could not be opened or has no such graph; `file` and `reason` as in ModelError. */
export interface GraphErrorReply {
  type: 'error';
  file: string;
  reason: string;
  messageId?: number;
  inReplyTo?: number;
}

export type ToGraphWorker = GraphLayoutRequest;
export type FromGraphWorker = GraphLaidOutReply | GraphErrorReply;
