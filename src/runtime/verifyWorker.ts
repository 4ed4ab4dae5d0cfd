/**
 * Entry of the verification worker thread (bundled to dist/verifyWorker.js): runs one verifyModels for
 * the host, reports each step, stops between steps when the shared cancel flag is set, and closes.
 */
import { parentPort } from 'node:worker_threads';
import { ModelError } from '../core/errors';
import { DataError } from './data/rawSample';
import { NpyError } from './readNpy';
import { VerifyCancelledError, verifyModels } from './verifyModels';
import type { FromVerifyWorker, ToVerifyWorker } from './verifyProtocol';

const port = parentPort;
if (!port) throw new Error('verifyWorker.js runs as a worker thread');
const post = (message: FromVerifyWorker) => port.postMessage(message);

port.once('message', (message: ToVerifyWorker) => {
  switch (message.type) {
    case 'verify/run': {
      const flag = new Int32Array(message.cancelFlag);
      verifyModels(message.original, message.candidate, message.options, {
        onPhase: (phase) => post({ type: 'verify/phase', phase }),
        cancelled: () => Atomics.load(flag, 0) !== 0,
      })
        .then((result) => post({ type: 'verify/result', result }))
        .catch((e: unknown) => {
          if (e instanceof VerifyCancelledError) post({ type: 'verify/cancelled' });
          else if (e instanceof ModelError || e instanceof NpyError || e instanceof DataError)
            post({ type: 'error', file: e.file, reason: e.reason });
          else post({ type: 'error', file: '', reason: (e as Error)?.message ?? String(e) });
        })
        .finally(() => port.close());
      return;
    }
    default: {
      const never: never = message.type;
      post({ type: 'error', file: '', reason: `unknown message ${String(never)}` });
      port.close();
    }
  }
});
