import type { QuantizeOptions } from '../core/quant/planQuantize';
import type { QuantizedUses, WeightUse } from '../core/quant/quantizeUses';
import type { MessagePort } from 'node:worker_threads';

/** One weight of a shared quantization: the tensor (by id and name) and its readers. */
export interface QuantizeJobWeight {
  tensorId: number;
  name: string;
  uses: WeightUse[];
}

/** What dist/quantizeWorker.js is given (as workerData). */
export interface QuantizeJob {
  modelPath: string;
  options: Pick<QuantizeOptions, 'bits' | 'blockSize' | 'symmetric'>;
  weights: QuantizeJobWeight[];
  /** Int32 slots: HELD, POSTED, STOP, FAILED, then one claim per weight. */
  state: SharedArrayBuffer;
  /** Results go here; the main thread takes them synchronously (receiveMessageOnPort) while planning. */
  port: MessagePort;
  /** The worker claims no weight while results of this many KiB are made but not yet taken. */
  budgetKiB: number;
}

/** KiB of results made (by either thread) and not yet taken by the plan. */
export const HELD = 0;
/** What a result adds to HELD. */
export const heldKiB = (r: QuantizedUses): number => Math.ceil(r.bytes / 1024);
/** Results posted by the worker so far (the main thread waits on it). */
export const POSTED = 1;
/** Set by the main thread when the plan is done: the worker stops. */
export const STOP = 2;
/** Set by the worker when it failed: the main thread quantizes what is left itself. */
export const FAILED = 3;
/** Slot of weight i's claim: CLAIMS + i. */
export const CLAIMS = 4;
/** A weight's claim: nobody yet, the main thread (planning or ahead of it), the worker. */
export const FREE = 0;
export const MAIN = 1;
export const WORKER = 2;

export type FromQuantizeWorker = { type: 'quantize/weight'; index: number; result: QuantizedUses };
