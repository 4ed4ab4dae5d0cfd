// Worker thread (dist/quantizeWorker.js) quantizing weights of a model alongside the main thread's plan:
// it claims weights in plan order (skipping those the main thread took), rounds each to nearest and hands
// the codes back as transferred buffers. See quantizeAlongside.ts.
import { workerData } from 'node:worker_threads';
import { readFloat32 } from '../core/quant/planQuantize';
import { quantizeUses, transferables } from '../core/quant/quantizeUses';
import { weightReader } from '../core/quant/weightReader';
import { openModel } from './openModel';
import {
  CLAIMS,
  FAILED,
  FREE,
  type FromQuantizeWorker,
  HELD,
  heldKiB,
  MAIN,
  POSTED,
  type QuantizeJob,
  STOP,
  WORKER,
} from './quantizeProtocol';

const job = workerData as QuantizeJob;
const state = new Int32Array(job.state);

function run(): void {
  const model = openModel(job.modelPath);
  try {
    const { index, source, resolveExternal } = model;
    const byId = new Map(index.tensors.map((t) => [t.id, t]));
    const read = weightReader(source, resolveExternal, (t) => readFloat32(t, source, resolveExternal));
    for (let i = 0; i < job.weights.length && !Atomics.load(state, STOP); i++) {
      // Memory stays bounded: wait while the plan has not taken enough of what was made.
      for (let held; (held = Atomics.load(state, HELD)) >= job.budgetKiB && !Atomics.load(state, STOP); )
        Atomics.wait(state, HELD, held, 100);
      // Free, or given to this thread before it started.
      if (Atomics.compareExchange(state, CLAIMS + i, FREE, WORKER) === MAIN) continue;
      const w = job.weights[i];
      const t = byId.get(w.tensorId);
      if (t?.name !== w.name) throw new Error(`tensor ${w.tensorId} of ${job.modelPath} is not ${w.name}`);
      const result = quantizeUses(read(t), t, w.uses, job.options);
      Atomics.add(state, HELD, heldKiB(result));
      const message: FromQuantizeWorker = { type: 'quantize/weight', index: i, result };
      job.port.postMessage(message, transferables(result));
      Atomics.add(state, POSTED, 1);
      Atomics.notify(state, POSTED);
    }
  } finally {
    model.close();
  }
}

try {
  run();
} catch {
  // The main thread quantizes whatever this thread claimed and did not hand back.
  Atomics.store(state, FAILED, 1);
  Atomics.add(state, POSTED, 1);
  Atomics.notify(state, POSTED);
}
