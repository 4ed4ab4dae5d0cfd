/**
 * Runs `big-shrink sensitivity MODEL --json` (dist/cli.js) in a child process: the onnxruntime sessions
 * never run on the extension host. The report arrives on stdout; progress lines (`sensitivity: 3/12
 * layers (name), 1.2 s`) on stderr. Cancelling kills the child's process group; the CLI writes no file,
 * so nothing is left behind. No `vscode` here (the command lives in sensitivityCommand.ts).
 */
import * as path from 'path';
import * as readline from 'readline';
import { parseCliError } from './shrinkRunner';
import { startCliChild, type CliChild } from './startCliChild';

export interface SensitivityRunResult {
  status: 'done' | 'failed' | 'cancelled';
  exitCode: number | null;
  /** The child's process id (its group is killed on cancel). */
  pid?: number;
  /** The report's JSON text (status done). */
  json?: string;
  error?: { file: string; reason: string };
  elapsedMs: number;
}

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
  const t0 = Date.now();
  const end = (r: Omit<SensitivityRunResult, 'elapsedMs'>) => ({ ...r, elapsedMs: Date.now() - t0 });
  if (options.signal?.aborted) return end({ status: 'cancelled', exitCode: null });
  const args = [cli, 'sensitivity', model, '--json', '--bits', String(options.bits)];
  args.push('--block', String(options.blockSize));
  let run: CliChild;
  try {
    run = await startCliChild(args, path.dirname(model), options);
  } catch (e) {
    return end({ status: 'failed', exitCode: null, error: { file: cli, reason: (e as Error).message } });
  }
  const { child } = run;
  const pid = child.pid;

  const stdout: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
  let stderr = '';
  readline.createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr += `${line}\n`;
    const m = PROGRESS.exec(line);
    if (m) options.onProgress?.(Number(m[1]), Number(m[2]), line);
  });
  const { exitCode, cancelled } = await run.closed;
  if (cancelled) return end({ status: 'cancelled', exitCode, pid });
  // Exit 3: measured, but no layer's candidate ran; the report holds each layer's error.
  if (exitCode !== 0 && exitCode !== 3)
    return end({ status: 'failed', exitCode, pid, error: parseCliError(stderr, exitCode) });
  return end({ status: 'done', exitCode, pid, json: Buffer.concat(stdout).toString('utf8') });
}
