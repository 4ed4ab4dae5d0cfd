/**
 * Starts the big-shrink CLI (dist/cli.js) in a child process of its own process group, tied to an
 * AbortSignal: an abort sends SIGTERM to the whole group, then SIGKILL after a grace period. The one place
 * for the spawn and the kill, so a transform (shrinkRunner.ts) and a measurement (sensitivityRunner.ts)
 * start and cancel alike. No `vscode` here.
 */
import { spawn, type ChildProcess } from 'child_process';
import { returningFreedMemory } from '../runtime/returnFreedMemory';

/** A way to start Node: VS Code's own runtime first (Electron as Node), then `node` on PATH. */
export interface NodeRuntime {
  command: string;
  env: NodeJS.ProcessEnv;
}

/**
 * In code-server the extension host is Node itself; in desktop VS Code it is Electron, which acts
 * as Node with ELECTRON_RUN_AS_NODE=1. `node` on PATH is the fallback when that cannot be started.
 */
export function nodeRuntimes(): NodeRuntime[] {
  return [
    { command: process.execPath, env: returningFreedMemory({ ...process.env, ELECTRON_RUN_AS_NODE: '1' }) },
    { command: 'node', env: returningFreedMemory({ ...process.env }) },
  ];
}

/** Start `args` with the first runtime that can be spawned. */
function spawnNode(args: string[], cwd: string): Promise<ChildProcess> {
  const runtimes = nodeRuntimes();
  return new Promise((resolve, reject) => {
    const attempt = (i: number) => {
      const child = spawn(runtimes[i].command, args, {
        cwd,
        env: runtimes[i].env,
        // Its own process group, so a cancel ends whatever it starts too.
        detached: process.platform !== 'win32',
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
      child.once('spawn', () => resolve(child));
      child.once('error', (e: NodeJS.ErrnoException) => {
        if (child.pid === undefined && i + 1 < runtimes.length) attempt(i + 1);
        else if (child.pid === undefined) reject(e);
      });
    };
    attempt(0);
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    if (process.platform !== 'win32' && child.pid !== undefined) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    child.kill(signal);
  }
}

export interface CliChildOptions {
  signal?: AbortSignal;
  /** Milliseconds between SIGTERM and SIGKILL when cancelling (default 2000). */
  killGraceMs?: number;
}

/** A started child: its stdout and stderr are pipes for the caller to read. */
export interface CliChild {
  child: ChildProcess;
  /** Resolves once the child has closed; `cancelled` when the signal ended it. */
  closed: Promise<{ exitCode: number | null; cancelled: boolean }>;
}

/**
 * Start `args` (the CLI script first) in `cwd`. Rejects with `could not start Node: …` when no runtime
 * can be spawned; afterwards never rejects.
 */
export async function startCliChild(
  args: string[],
  cwd: string,
  options: CliChildOptions,
): Promise<CliChild> {
  let child: ChildProcess;
  try {
    child = await spawnNode(args, cwd);
  } catch (e) {
    throw new Error(`could not start Node: ${(e as Error).message}`);
  }
  let cancelled = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => {
    cancelled = true;
    killGroup(child, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), options.killGraceMs ?? 2000);
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // A cancel that raced with the spawn.
  if (options.signal?.aborted) onAbort();
  const closed = new Promise<{ exitCode: number | null; cancelled: boolean }>((resolve) => {
    child.once('close', (exitCode: number | null) => {
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ exitCode, cancelled });
    });
  });
  return { child, closed };
}
