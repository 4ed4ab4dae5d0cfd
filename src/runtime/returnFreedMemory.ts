/**
 * glibc malloc settings under which memory freed by a big model's work goes back to the system at once:
 * a fixed mmap threshold (glibc otherwise raises it after each large free, up to 32 MiB, so later buffers
 * come from the heap and stay resident after they are freed) and a trim threshold. Measured on the 1.1 B
 * fp16 benchmark model: `sensitivity` of one layer peaked at 5997 MiB without them, 5171 MiB with them (the
 * original's released onnxruntime session no longer stays resident beside the candidate's). glibc reads
 * them at process start, so they are set for the CLI's process: by `dist/cli.js` itself when run as a
 * program (its first lines are a shell script that exports them, then runs node), and by the extension
 * when it starts the CLI child. A value the user set is kept.
 */
export const RETURN_FREED_MEMORY: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

/** `env` with RETURN_FREED_MEMORY added where it does not set them already. */
export function returningFreedMemory(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...RETURN_FREED_MEMORY, ...env };
}
