/**
 * Messages between a host (CLI, extension) and a verification worker thread (dist/verifyWorker.js).
 *
 * One verification per worker: the host sends `verify/run` with a shared cancel flag; the worker answers
 * with `verify/phase` events as it goes and ends with `verify/result`, `verify/cancelled` or `error`. The
 * flag is shared memory, not a message, because onnxruntime's session.run blocks the worker's event loop:
 * the worker reads it between steps. (These types live beside the runtime because they carry runtime
 * types; src/protocol may import only core.)
 */
import type { VerifyOptions, VerifyResult } from './verifyModels';

export interface VerifyRunMessage {
  type: 'verify/run';
  original: string;
  candidate: string;
  options: VerifyOptions;
  /** Int32Array over it: element 0 becomes 1 to cancel. */
  cancelFlag: SharedArrayBuffer;
}

export type ToVerifyWorker = VerifyRunMessage;

export interface VerifyPhaseEvent {
  type: 'verify/phase';
  phase: string;
}

export interface VerifyResultMessage {
  type: 'verify/result';
  result: VerifyResult;
}

export interface VerifyCancelledMessage {
  type: 'verify/cancelled';
}

export interface VerifyErrorMessage {
  type: 'error';
  /** The file the problem is about ('' when none). */
  file: string;
  reason: string;
}

export type FromVerifyWorker =
  | VerifyPhaseEvent
  | VerifyResultMessage
  | VerifyCancelledMessage
  | VerifyErrorMessage;
