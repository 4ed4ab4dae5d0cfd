import { intOption, parseArgs, UsageError } from './args';
import { inspectModel } from '../runtime/inspectModel';
import { formatInspect } from './formatInspect';

export const inspectUsage = `big-shrink inspect MODEL [--json] [--bins N] [--threads N]
  A summary of MODEL and a table of its weight tensors with statistics.
  --json        print the full report as JSON (the contract in the README)
  --bins N      histogram bins (default 64)
  --threads N   worker threads for statistics (default: one per core)`;

/** `big-shrink inspect`: returns the exit code. */
export async function inspectCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, {
    json: { type: 'flag' },
    bins: { type: 'number' },
    threads: { type: 'number' },
  });
  if (args.positionals.length !== 1) throw new UsageError('inspect takes one MODEL');
  const bins = intOption(args, 'bins', 64, 1, 100000);
  const threads = intOption(args, 'threads', 0, 0, 256);
  const report = await inspectModel(args.positionals[0], { bins, threads: threads || undefined });
  out(args.options.json ? JSON.stringify(report) : formatInspect(report));
  return 0;
}
