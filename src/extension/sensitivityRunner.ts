/**
 * Runs `big-shrink sensitivity MODEL --json` (dist/cli.js) in a child process: the onnxruntime sessions
 * never run on the extension host. The report arrives on stdout; progress lines (`sensitivity: 3/12
 * layers (name), 1.2 s`) on stderr. Cancelling kills the child's process group; the CLI writes no file,
 * so nothing is left behind. No `vscode` here (the command lives in sensitivityCommand.ts).
 */
import * as path from 'path';
import { type CliJsonResult, runCliJson } from './runCliJson';

/** The sensitivity run: the report's JSON text in `json` (status done). */
export type SensitivityRunResult = Omit<CliJsonResult<unknown>, 'value'>;

export interface SensitivityRunOptions {
  bits: number;
  blockSize: number;
  signal?: AbortSignal;
  /** After the original model ran (done 0) and after each layer. */
  onProgress?(done: number, total: number, line: string): void;
  killGraceMs?: number;
}

const PROGRESS = /^sensitivity: (\d+)\/(\d+) layers/;

/** Resolves (never rejects) once the child has exited. */
export async function runSensitivity(
  cli: string,
  model: string,
  options: SensitivityRunOptions,
): Promise<SensitivityRunResult> {
  const args = ['sensitivity', model, '--json', '--bits', String(options.bits)];
  args.push('--block', String(options.blockSize));
  const r = await runCliJson(cli, args, {
    cwd: path.dirname(model),
    signal: options.signal,
    killGraceMs: options.killGraceMs,
    progress: PROGRESS,
    onProgress: options.onProgress,
    // Exit 3: measured, but no layer's candidate ran; the report holds each layer's error.
    answerCodes: [3],
  });
  const { value: _value, ...result } = r;
  return result;
}
