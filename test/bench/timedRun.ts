import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

/** What one timed command took. */
export interface TimedRun {
  /** Wall-clock seconds. */
  seconds: number;
  /** Peak resident set (VmHWM, polled from /proc every 20 ms). */
  peakRssMb: number;
  /** User + system CPU seconds of all its threads (polled likewise: the last 20 ms may be missed). */
  cpuSeconds: number;
  /** Its stdout, up to `maxStdout` characters. */
  stdout: string;
  /** It was interrupted (SIGINT) at `limitSeconds`: the figures are those up to then. */
  stopped?: boolean;
}

/**
 * Runs a command (stderr passes through) and rejects when it exits with a nonzero code — unless it ran
 * past `limitSeconds`: it is then interrupted (SIGINT) and resolves with `stopped`.
 */
export function timedRun(
  cmd: string,
  args: string[],
  maxStdout = 1 << 24,
  limitSeconds = Infinity,
): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    let peak = 0;
    let cpu = 0;
    const ticks = 100; // USER_HZ: /proc/PID/stat counts CPU time in 1/100 s on Linux
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < maxStdout) stdout += d.toString();
    });
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
        // utime and stime are fields 14 and 15; the command name before them may hold spaces.
        const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpu = Math.max(cpu, (Number(f[11]) + Number(f[12])) / ticks);
      } catch {
        // exited between polls
      }
    }, 20);
    let stopped = false;
    const limit = Number.isFinite(limitSeconds)
      ? setTimeout(() => {
          stopped = true;
          child.kill('SIGINT');
        }, limitSeconds * 1000)
      : undefined;
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      clearTimeout(limit);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (stopped) resolve({ seconds, peakRssMb: peak, cpuSeconds: cpu, stdout, stopped });
      else if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`));
      else resolve({ seconds, peakRssMb: peak, cpuSeconds: cpu, stdout });
    });
  });
}
