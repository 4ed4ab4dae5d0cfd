import { ModelError } from '../core/errors';

/** A data-aware run (calibration or solves) stopped by its signal. */
export class DataAwareCancelledError extends Error {
  constructor() {
    super('data-aware quantization cancelled');
    this.name = 'DataAwareCancelledError';
  }
}

/** A worker's `error` answer as the error the caller sees: a ModelError when it names a file. */
export function errorOf(m: { file: string; reason: string }): Error {
  return m.file ? new ModelError(m.file, m.reason) : new Error(m.reason);
}
