/**
 * Runs `big-shrink diff A B --json --bins N` (dist/cli.js) in a child process: the tensors are read and
 * compared there, never on the extension host. The comparison arrives on stdout; progress lines
 * (`diff: 12/120 tensors (name)`) on stderr. Cancelling kills the child's process group (it writes no
 * file). No `vscode` here (the command and the view live in compareCommand.ts and comparePanel.ts).
 */
import * as path from 'path';
import * as readline from 'readline';
import { parseCliError } from './shrinkRunner';
import { startCliChild, type CliChild } from './startCliChild';

export interface DiffRunResult {
  status: 'done' | 'failed' | 'cancelled';
  exitCode: number | null;
  pid?: number;
  /** The comparison's JSON text (status done). */
  json?: string;
  error?: { file: string; reason: string };
  elapsedMs: number;
}

export interface DiffRunOptions {
  /** Histogram bins per changed tensor (0: none). */
  bins: number;
  signal?: AbortSignal;
  onProgress?(done: number, total: number): void;
  killGraceMs?: number;
}

const PROGRESS = /^diff: (\d+)\/(\d+) tensors/;

/** Resolves (never rejects) once the child has exited. */
export async function runDiff(
  cli: string,
  a: string,
  b: string,
  options: DiffRunOptions,
): Promise<DiffRunResult> {
  const t0 = Date.now();
  const end = (r: Omit<DiffRunResult, 'elapsedMs'>) => ({ ...r, elapsedMs: Date.now() - t0 });
  if (options.signal?.aborted) return end({ status: 'cancelled', exitCode: null });
  const args = [cli, 'diff', a, b, '--json'];
  if (options.bins > 0) args.push('--bins', String(options.bins));
  let run: CliChild;
  try {
    run = await startCliChild(args, path.dirname(a), options);
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
    if (m) options.onProgress?.(Number(m[1]), Number(m[2]));
  });
  const { exitCode, cancelled } = await run.closed;
  if (cancelled) return end({ status: 'cancelled', exitCode, pid });
  if (exitCode !== 0) return end({ status: 'failed', exitCode, pid, error: parseCliError(stderr, exitCode) });
  return end({ status: 'done', exitCode, pid, json: Buffer.concat(stdout).toString('utf8') });
}
