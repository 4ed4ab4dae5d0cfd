/**
 * Runs `big-shrink diff A B --json --bins N` (dist/cli.js) in a child process: the tensors are read and
 * compared there, never on the extension host. The comparison arrives on stdout; progress lines
 * (`diff: 12/120 tensors (name)`) on stderr. Cancelling kills the child's process group (it writes no
 * file). No `vscode` here (the command and the view live in compareCommand.ts and comparePanel.ts).
 */
import * as path from 'path';
import { type CliJsonResult, runCliJson } from './runCliJson';

/** The comparison's run: its JSON text in `json` (status done). */
export type DiffRunResult = Omit<CliJsonResult<unknown>, 'value'>;

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
  const args = ['diff', a, b, '--json'];
  if (options.bins > 0) args.push('--bins', String(options.bins));
  const r = await runCliJson(cli, args, {
    cwd: path.dirname(a),
    signal: options.signal,
    killGraceMs: options.killGraceMs,
    progress: PROGRESS,
    onProgress: options.onProgress && ((done, total) => options.onProgress!(done, total)),
  });
  const { value: _value, ...result } = r;
  return result;
}
