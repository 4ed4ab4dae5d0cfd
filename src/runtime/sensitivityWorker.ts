/**
 * Entry of a sensitivity worker thread (bundled to dist/sensitivityWorker.js): opens the model once, takes
 * the inputs and the original's outputs from the host, then measures one candidate per `measure` message
 * (onnxruntime with the intra-op threads the host asked for, so two workers share two cores without
 * oversubscribing them) until `close`.
 */
import type * as OrtTypes from 'onnxruntime-node';
import { parentPort } from 'node:worker_threads';
import { ModelError } from '../core/errors';
import { measureCandidate } from './layerCandidate';
import { openModel, type OpenedModel } from './openModel';
import type {
  FromSensitivityWorker,
  SensitivityInitMessage,
  ToSensitivityWorker,
} from './sensitivityProtocol';
import type { Feeds } from './verifyModels';

const port = parentPort;
if (!port) throw new Error('sensitivityWorker.js runs as a worker thread');
const post = (message: FromSensitivityWorker) => port.postMessage(message);

let state:
  | {
      ort: typeof OrtTypes;
      model: OpenedModel;
      init: SensitivityInitMessage;
      feeds: Feeds;
      sessionOptions: OrtTypes.InferenceSession.SessionOptions;
    }
  | undefined;
// Jobs run one at a time: a worker is one core's worth of work.
let queue = Promise.resolve();

function fail(e: unknown) {
  if (e instanceof ModelError) post({ type: 'error', file: e.file, reason: e.reason });
  else post({ type: 'error', file: '', reason: (e as Error)?.message ?? String(e) });
}

port.on('message', (message: ToSensitivityWorker) => {
  switch (message.type) {
    case 'sensitivity/init': {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const ort = require('onnxruntime-node') as typeof OrtTypes;
        const feeds: Feeds = {};
        for (const f of message.feeds)
          feeds[f.name] = new ort.Tensor(f.type as OrtTypes.Tensor.Type, f.data as never, f.dims);
        state = {
          ort,
          model: openModel(message.modelPath),
          init: message,
          feeds,
          sessionOptions: {
            executionProviders: ['cpu'],
            graphOptimizationLevel: 'all',
            logSeverityLevel: 3,
            intraOpNumThreads: message.threads,
            interOpNumThreads: 1,
          },
        };
      } catch (e) {
        fail(e);
      }
      return;
    }
    case 'sensitivity/measure': {
      const { id, job } = message;
      queue = queue.then(async () => {
        if (!state) return fail(new Error('sensitivity worker used before init'));
        try {
          const s = state;
          const result = await measureCandidate(
            s.ort,
            s.model,
            job,
            s.init.base,
            s.sessionOptions,
            s.feeds,
            s.init.reference,
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
        state?.model.close();
        port.close();
      });
      return;
    default: {
      const never: never = message;
      fail(new Error(`unknown message ${JSON.stringify(never)}`));
    }
  }
});
