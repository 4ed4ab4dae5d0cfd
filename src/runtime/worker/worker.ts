/**
 * Statistics worker thread (bundled to dist/worker.js). Opens models by path, answers with their
 * summary, and computes per-tensor statistics, posting each tensor as soon as it is done. All numeric
 * work of the model editor happens here, never on the extension host thread.
 */
import { parentPort } from 'worker_threads';
import { ModelError } from '../../core/errors';
import { summarizeModel } from '../../core/inspect/summarizeModel';
import { tensorStatistics } from '../../core/inspect/tensorStatistics';
import { tensorSweep } from '../../core/sensitivity/tensorSweep';
import { assertNever, Messenger } from '../../protocol/messaging';
import type { ComputeStatsRequest, FromWorker, IndexModelRequest, ToWorker } from '../../protocol/worker';
import { openModel, type OpenedModel } from '../openModel';

/** Models kept open, by key; a few, so two editors and a refresh do not thrash. */
const MAX_OPEN = 4;
const open = new Map<string, OpenedModel>();

function remember(key: string, model: OpenedModel): OpenedModel {
  open.set(key, model);
  while (open.size > MAX_OPEN) {
    const [oldest, old] = open.entries().next().value as [string, OpenedModel];
    open.delete(oldest);
    old.close();
  }
  return model;
}

function forget(key: string): void {
  const model = open.get(key);
  if (model) {
    open.delete(key);
    model.close();
  }
}

function modelFor(path: string, key: string): OpenedModel {
  const cached = open.get(key);
  if (cached) {
    // Most recently used last.
    open.delete(key);
    open.set(key, cached);
    return cached;
  }
  return remember(key, openModel(path));
}

function describe(error: unknown, path: string): { file: string; reason: string } {
  if (error instanceof ModelError) return { file: error.file, reason: error.reason };
  return { file: path, reason: error instanceof Error ? error.message : String(error) };
}

function indexModel(request: IndexModelRequest): void {
  const t0 = performance.now();
  try {
    forget(request.key);
    const model = remember(request.key, openModel(request.path));
    const report = summarizeModel(model.index, model.file);
    messenger.reply(request, { type: 'model/indexed', report, elapsedMs: performance.now() - t0 });
  } catch (error) {
    messenger.reply(request, { type: 'error', ...describe(error, request.path) });
  }
}

function computeStats(request: ComputeStatsRequest): void {
  let model: OpenedModel;
  try {
    model = modelFor(request.path, request.key);
  } catch (error) {
    messenger.reply(request, { type: 'error', ...describe(error, request.path) });
    return;
  }
  const requestId = request.messageId ?? 0;
  for (const id of request.tensorIds) {
    try {
      if (request.what === 'sweep') {
        const sweep = tensorSweep(model.index, id, model.source, model.resolveExternal, {
          blockSize: request.blockSize,
        });
        messenger.post({ type: 'stats/tensor', requestId, result: { id, sweep } });
        continue;
      }
      const { stats, dequantized, hash } = tensorStatistics(
        model.index,
        id,
        model.source,
        model.resolveExternal,
        {
          bins: request.bins,
        },
      );
      messenger.post({ type: 'stats/tensor', requestId, result: { id, stats, dequantized, hash } });
    } catch (error) {
      messenger.post({
        type: 'stats/tensor',
        requestId,
        result: { id, error: describe(error, request.path).reason },
      });
    }
  }
  messenger.reply(request, { type: 'stats/computed', count: request.tensorIds.length });
}

function handle(message: ToWorker): void {
  switch (message.type) {
    case 'model/index':
      return indexModel(message);
    case 'stats/compute':
      return computeStats(message);
    case 'model/close':
      return forget(message.key);
    default:
      return assertNever(message);
  }
}

const port = parentPort;
if (!port) throw new Error('worker.js must run in a worker thread');
const messenger = new Messenger<FromWorker, ToWorker>((m) => port.postMessage(m), handle);
port.on('message', (m: ToWorker) => messenger.receive(m));
