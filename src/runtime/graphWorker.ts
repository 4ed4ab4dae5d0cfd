/**
 * Entry of the graph layout worker thread (bundled to dist/graphWorker.js): builds the graph model of a
 * model's graph and lays it out with dagre, so a layout of thousands of nodes never blocks the extension
 * host. The last model opened stays open (a block expanded or collapsed asks again for the same file), with
 * the dagre runs made for it.
 */
import { statSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { ModelError } from '../core/errors';
import { buildGraph, type GraphModel } from '../core/graph/graphModel';
import { DagreRuns } from '../core/graph/dagreRuns';
import { layoutGraph } from '../core/graph/layoutGraph';
import { Messenger } from '../protocol/messaging';
import type { FromGraphWorker, GraphLayoutRequest, ToGraphWorker } from '../protocol/graphWorker';
import { openModel, type OpenedModel } from './openModel';

let opened:
  | { path: string; mtimeMs: number; model: OpenedModel; graphs: Map<string, GraphModel>; dagre: DagreRuns }
  | undefined;

function graphOf(path: string, graph: string, mtimeMs: number): GraphModel {
  if (!opened || opened.path !== path || opened.mtimeMs !== mtimeMs) {
    opened?.model.close();
    opened = undefined;
    opened = { path, mtimeMs, model: openModel(path), graphs: new Map(), dagre: new DagreRuns() };
  }
  let model = opened.graphs.get(graph);
  if (!model) {
    model = buildGraph(opened.model.index, graph);
    opened.graphs.set(graph, model);
  }
  return model;
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function layout(request: GraphLayoutRequest): void {
  try {
    const t0 = performance.now();
    const model = request.model ?? graphOf(request.path, request.graph, mtimeOf(request.path));
    const t1 = performance.now();
    // Dagre runs are remembered for the open model: expanding one more block lays out only that block.
    const dagre = request.model ? undefined : opened?.dagre;
    const laid = layoutGraph(model, { expanded: request.expanded, dagre });
    const t2 = performance.now();
    messenger.reply(request, {
      type: 'graph/laidOut',
      model,
      layout: laid,
      buildMs: request.model ? 0 : t1 - t0,
      layoutMs: t2 - t1,
    });
  } catch (error) {
    const file = error instanceof ModelError ? error.file : request.path;
    const reason =
      error instanceof ModelError ? error.reason : error instanceof Error ? error.message : String(error);
    messenger.reply(request, { type: 'error', file, reason });
  }
}

const port = parentPort;
if (!port) throw new Error('graphWorker.js runs as a worker thread');
const messenger = new Messenger<FromGraphWorker, ToGraphWorker>(
  (m) => port.postMessage(m),
  (m) => {
    if (m.type === 'graph/layout') layout(m);
  },
);
port.on('message', (m: ToGraphWorker) => messenger.receive(m));
