/**
 * Entry of a sensitivity worker thread (bundled to dist/sensitivityWorker.js): opens the model once (while
 * the host runs the original), takes the inputs and the original's outputs from the host, then measures
 * one candidate per `measure` message (onnxruntime with the intra-op threads the host asked for, so two
 * workers share two cores without oversubscribing them) until `close`.
 */
import type * as OrtTypes from 'onnxruntime-node';
import { parentPort } from 'node:worker_threads';
import { ModelError } from '../core/errors';
import { measureCandidate } from './layerCandidate';
import { openModel, type OpenedModel } from './openModel';
import type { QuantizeOptions } from '../core/quant/planQuantize';
import type { FromSensitivityWorker, ReferenceOutput, ToSensitivityWorker } from './sensitivityProtocol';
import type { Feeds } from './verifyModels';
import { loadOrt } from './loadOrt';

const port = parentPort;
if (!port) throw new Error('sensitivityWorker.js runs as a worker thread');
const post = (message: FromSensitivityWorker) => port.postMessage(message);

let opened:
  | {
      ort: typeof OrtTypes;
      model: OpenedModel;
      base: QuantizeOptions;
      sessionOptions: OrtTypes.InferenceSession.SessionOptions;
    }
  | undefined;
let inputs: { feeds: Feeds; reference: ReferenceOutput[] } | undefined;
// Jobs run one at a time: a worker is one core's worth of work.
let queue = Promise.resolve();

function fail(e: unknown) {
  if (e instanceof ModelError) post({ type: 'error', file: e.file, reason: e.reason });
  else post({ type: 'error', file: '', reason: (e as Error)?.message ?? String(e) });
}

port.on('message', (message: ToSensitivityWorker) => {
  switch (message.type) {
    case 'sensitivity/open': {
      try {
        const ort = loadOrt();
        opened = {
          ort,
          model: openModel(message.modelPath),
          base: message.base,
          sessionOptions: {
            executionProviders: ['cpu'],
            graphOptimizationLevel: 'all',
            logSeverityLevel: 4, // fatal only: ORT's own log lines stay off the terminal (errors reach us)
            intraOpNumThreads: message.threads,
            interOpNumThreads: 1,
          },
        };
      } catch (e) {
        fail(e);
      }
      return;
    }
    case 'sensitivity/reference': {
      if (!opened) return;
      const feeds: Feeds = {};
      for (const f of message.feeds)
        feeds[f.name] = new opened.ort.Tensor(f.type as OrtTypes.Tensor.Type, f.data as never, f.dims);
      inputs = { feeds, reference: message.reference };
      return;
    }
    case 'sensitivity/measure': {
      const { id, job } = message;
      queue = queue.then(async () => {
        if (!opened || !inputs) return fail(new Error('sensitivity worker used before open and reference'));
        try {
          const { ort, model, base, sessionOptions } = opened;
          const result = await measureCandidate(
            ort,
            model,
            job,
            base,
            sessionOptions,
            inputs.feeds,
            inputs.reference,
          );
          post({ type: 'sensitivity/measured', id, result });
        } catch (e) {
          fail(e);
        }
      });
      return;
    }
    case 'sensitivity/close':
      void queue.then(() => {
        opened?.model.close();
        port.close();
      });
      return;
    default: {
      const never: never = message;
      fail(new Error(`unknown message ${JSON.stringify(never)}`));
    }
  }
});
