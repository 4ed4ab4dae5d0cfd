import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import {
  matMulNBitsUses,
  type QuantizeHooks,
  type QuantizeOptions,
  readFloat32,
  useKey,
} from '../core/quant/planQuantize';
import { type QuantizedUses, quantizeUses } from '../core/quant/quantizeUses';
import { weightReader } from '../core/quant/weightReader';
import type { OpenedModel } from './openModel';
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
  type QuantizeJobWeight,
  STOP,
  WORKER,
} from './quantizeProtocol';
import { workerScript } from './workerScript';

/** KiB of made but untaken results past which neither thread quantizes ahead of the plan. */
const BUDGET_KIB = 32 << 10;
/** A worker silent this long while the plan waits for it is given up on (the plan does the rest). */
const GIVE_UP_MS = 30_000;

/** Hooks that let planQuantize take round-to-nearest codes made alongside it; dispose once planned. */
export interface QuantizeAlongside {
  hooks: Required<Pick<QuantizeHooks, 'finite' | 'quantizeWeight'>>;
  /** How many weights the worker has handed over so far. */
  readonly fromWorker: number;
  dispose(): void;
}

/** How quantizeAlongside decides (tests). */
export interface AlongsideTuning {
  /** A worker even on one core. */
  always?: boolean;
  /** Weights given to the worker before it starts (so that it surely quantizes some). */
  giveWorker?: (i: number) => boolean;
}

/**
 * Round-to-nearest quantization on two threads for planQuantize, which itself stays synchronous and in
 * plan order: a worker (dist/quantizeWorker.js, its own reads of the model file) claims weights in plan
 * order, skipping those this thread took, and posts each weight's codes as transferred buffers. When the
 * plan reaches a weight nobody claimed it quantizes it itself as usual; one the worker claimed it takes
 * from the worker's port synchronously, and while that is not ready it quantizes the next unclaimed
 * weight here ahead of time rather than idle. Both threads run the same code on the same bytes, so the
 * file is the one a single thread writes. Results made and not yet taken stay under BUDGET_KIB, so a
 * huge model holds little more than one weight per thread. Undefined (plan on one thread) with fewer than
 * two weights or one core; BIG_SHRINK_QUANTIZE_THREADS set to 1 or 2 decides instead. A worker that fails
 * leaves its weights to the plan.
 */
export function quantizeAlongside(
  model: OpenedModel,
  options: QuantizeOptions,
  tuning: AlongsideTuning = {},
): QuantizeAlongside | undefined {
  const tensors = new Map(model.index.tensors.map((t) => [t.id, t]));
  const weights: QuantizeJobWeight[] = [];
  const indexOf = new Map<number, number>();
  for (const { tensor, layout, alpha, K, N } of matMulNBitsUses(model.index, options)) {
    let i = indexOf.get(tensor.id);
    if (i === undefined) {
      indexOf.set(tensor.id, (i = weights.length));
      weights.push({ tensorId: tensor.id, name: tensor.name, uses: [] });
    }
    weights[i].uses.push({ layout, alpha, K, N });
  }
  // BIG_SHRINK_QUANTIZE_THREADS=1 or 2 decides (timings, comparisons). On two cores the inputs' hash
  // (runTransform measures them while the plan runs) shares the second one: measured on the benchmark
  // models, two threads tie with one for 352 MB of weights (0.71–0.76 s) and win for 2.5 GB (3.3 s
  // against 3.8 s).
  const asked = process.env.BIG_SHRINK_QUANTIZE_THREADS;
  const two = asked === '1' || asked === '2' ? asked === '2' : tuning.always || availableParallelism() > 1;
  if (!two || weights.length < 2) return undefined;

  const state = new Int32Array(new SharedArrayBuffer(4 * (CLAIMS + weights.length)));
  for (let i = 0; i < weights.length; i++) if (tuning.giveWorker?.(i)) state[CLAIMS + i] = WORKER;
  const { port1, port2 } = new MessageChannel();
  const { bits, blockSize, symmetric } = options;
  const job: QuantizeJob = {
    modelPath: model.path,
    options: { bits, blockSize, symmetric },
    weights,
    state: state.buffer as SharedArrayBuffer,
    port: port2,
    budgetKiB: BUDGET_KIB,
  };
  let worker: Worker;
  try {
    worker = new Worker(workerScript('quantizeWorker.js'), { workerData: job, transferList: [port2] });
  } catch {
    // No worker bundle beside this one (or no thread to be had): one thread does it all.
    port1.close();
    return undefined;
  }
  worker.unref();
  // A worker that fails after starting says so itself (FAILED); this covers one that never runs.
  worker.on('error', () => Atomics.store(state, FAILED, 1));

  const { source, resolveExternal } = model;
  const read = weightReader(source, resolveExternal, (t) => readFloat32(t, source, resolveExternal));
  /** Results by weight, the worker's and those made here ahead of the plan. */
  const made = new Map<number, QuantizedUses>();
  let current: QuantizedUses | undefined;
  let fromWorker = 0;

  const receive = () => {
    for (let m; (m = receiveMessageOnPort(port1)); ) {
      const message = m.message as FromQuantizeWorker;
      made.set(message.index, message.result);
      fromWorker++;
    }
  };
  /** Quantizes the first unclaimed weight after `i` here, when the budget allows; false if none. */
  const aheadOf = (i: number): boolean => {
    if (Atomics.load(state, HELD) >= BUDGET_KIB) return false;
    for (let j = i + 1; j < weights.length; j++) {
      if (Atomics.compareExchange(state, CLAIMS + j, FREE, MAIN) !== FREE) continue;
      const t = tensors.get(weights[j].tensorId)!;
      const result = quantizeUses(read(t), t, weights[j].uses, options);
      made.set(j, result);
      Atomics.add(state, HELD, heldKiB(result));
      return true;
    }
    return false;
  };

  const finite = (t: { id: number }): boolean | undefined => {
    current = undefined;
    const i = indexOf.get(t.id);
    if (i === undefined) return undefined;
    // Nobody has it: the plan quantizes it as usual.
    if (Atomics.compareExchange(state, CLAIMS + i, FREE, MAIN) === FREE) return undefined;
    let since = performance.now();
    for (;;) {
      const posted = Atomics.load(state, POSTED);
      receive();
      const result = made.get(i);
      if (result) {
        made.delete(i);
        Atomics.sub(state, HELD, heldKiB(result));
        Atomics.notify(state, HELD);
        current = result;
        return result.finite;
      }
      if (Atomics.load(state, FAILED)) return undefined;
      if (aheadOf(i)) {
        since = performance.now();
        continue;
      }
      if (
        Atomics.wait(state, POSTED, posted, 1000) === 'timed-out' &&
        performance.now() - since > GIVE_UP_MS
      ) {
        Atomics.store(state, FAILED, 1);
        return undefined;
      }
    }
  };

  return {
    hooks: {
      finite,
      quantizeWeight: (t, layout, alpha) => current?.weights.get(useKey(layout, alpha)),
    },
    get fromWorker() {
      return fromWorker;
    },
    dispose: () => {
      Atomics.store(state, STOP, 1);
      Atomics.notify(state, HELD);
      port1.close();
      void worker.terminate();
    },
  };
}
