import type * as OrtTypes from 'onnxruntime-node';

/**
 * Turns ONNX Runtime's telemetry off for this process: its Linux build otherwise writes `.ses` and
 * `mat-debug-<pid>.log` files into the user's temp folder for every session (Microsoft's 1DS SDK inside
 * libonnxruntime). Call it on the main thread before any worker loads onnxruntime-node: a worker's
 * `process.env` is a copy that native code never sees. A user who set ORT_DISABLE_TELEMETRY keeps it.
 */
export function disableOrtTelemetry(): void {
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
}

/** onnxruntime-node, loaded on first use (the native module is only needed when a model runs). */
export function loadOrt(): typeof OrtTypes {
  disableOrtTelemetry();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('onnxruntime-node') as typeof OrtTypes;
}
