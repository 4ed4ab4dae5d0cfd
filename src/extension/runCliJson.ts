/**
 * Runs one `big-shrink … --json` command (dist/cli.js) in a child process and reads its answer: the one
 * place for what the measurement runners (diff, sensitivity, data, activations) share — the spawn through
 * startCliChild, progress lines from stderr, cancel (the child's process group is killed), the JSON parsed
 * from stdout, and on a non-zero exit the error in plain words (`parseCliError`). No `vscode` here.
 */
import * as readline from 'readline';
import { parseCliError } from './shrinkRunner';
import { startCliChild, type CliChild } from './startCliChild';

/** How a run ended and what it answered. */
export interface CliJsonResult<T> {
  status: 'done' | 'failed' | 'cancelled';
  exitCode: number | null;
  /** The child's process id (its group is killed on cancel). */
  pid?: number;
  /** The answer's JSON text and its parsed value (status done). */
  json?: string;
  value?: T;
  /** Why it failed: the file named by the CLI's error line ('' when none) and the reason. */
  error?: { file: string; reason: string };
  elapsedMs: number;
}

export interface CliJsonOptions {
  /** Working folder of the child (the model's folder). */
  cwd: string;
  signal?: AbortSignal;
  killGraceMs?: number;
  /** Progress lines on stderr: the first two groups are done and total. */
  progress?: RegExp;
  onProgress?(done: number, total: number, line: string): void;
  /** Exit codes that still answer with JSON besides 0 (sensitivity's 3: measured, nothing compared). */
  answerCodes?: number[];
}

/**
 * Starts `node CLI ...args` (the args should hold `--json`); resolves (never rejects) once the child has
 * exited: done with the parsed answer, failed with the CLI's error (or "answered no JSON"), or cancelled.
 */
export async function runCliJson<T = unknown>(
  cli: string,
  args: string[],
  options: CliJsonOptions,
): Promise<CliJsonResult<T>> {
  const t0 = Date.now();
  const end = (r: Omit<CliJsonResult<T>, 'elapsedMs'>): CliJsonResult<T> => ({
    ...r,
    elapsedMs: Date.now() - t0,
  });
  if (options.signal?.aborted) return end({ status: 'cancelled', exitCode: null });
  let run: CliChild;
  try {
    run = await startCliChild([cli, ...args], options.cwd, options);
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
    const m = options.progress?.exec(line);
    if (m) options.onProgress?.(Number(m[1]), Number(m[2]), line);
  });
  const { exitCode, cancelled } = await run.closed;
  if (cancelled) return end({ status: 'cancelled', exitCode, pid });
  if (exitCode !== 0 && !(exitCode !== null && options.answerCodes?.includes(exitCode)))
    return end({ status: 'failed', exitCode, pid, error: parseCliError(stderr, exitCode) });
  const json = Buffer.concat(stdout).toString('utf8');
  try {
    return end({ status: 'done', exitCode, pid, json, value: JSON.parse(json) as T });
  } catch (e) {
    return end({
      status: 'failed',
      exitCode,
      pid,
      error: { file: '', reason: `the command line answered no JSON: ${(e as Error).message}` },
    });
  }
}
