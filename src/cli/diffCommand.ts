import { diffModels } from '../core/diff/diffModels';
import { openModel, type OpenedModel } from '../runtime/openModel';
import { intOption, parseArgs, UsageError } from './args';
import { formatDiff } from './formatDiff';

export const diffUsage = `big-shrink diff A B [--json] [--bins N] [--histograms NAME,...]
  Compares two models tensor by tensor (by name, else by consumer position and shape): dtype, dims,
  bytes, weight SQNR and max abs error of the dequantized values, sparsity; nodes added, removed and
  rewritten; opset, IR and metadata changes. Exit 0 whether or not they differ.
  --json              print the comparison as JSON (the contract in the README)
  --bins N            add histogramA/histogramB (N bins over a range shared by both) to every tensor
                      that is not the same
  --histograms NAMES  to these tensors instead (comma-separated names of A or B)`;

/** Progress lines on stderr at most this often (the extension reads them for its notification). */
const PROGRESS_MS = 1000;

/** `big-shrink diff`: returns the exit code. */
export function diffCommand(argv: string[], out: (line: string) => void): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    out(diffUsage);
    return 0;
  }
  const args = parseArgs(argv, {
    json: { type: 'flag' },
    bins: { type: 'number' },
    histograms: { type: 'string' },
  });
  if (args.positionals.length !== 2) throw new UsageError('diff takes two models, A and B');
  const bins = intOption(args, 'bins', 0, 0, 100000);
  const names = args.options.histograms;
  if (names !== undefined && bins === 0) throw new UsageError('--histograms needs --bins N');
  const [fileA, fileB] = args.positionals;
  let a: OpenedModel | undefined;
  let b: OpenedModel | undefined;
  try {
    a = openModel(fileA);
    b = openModel(fileB);
    let last = Date.now();
    const diff = diffModels(input(a, fileA), input(b, fileB), {
      bins,
      histogramsFor:
        typeof names === 'string'
          ? new Set(
              names
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean),
            )
          : undefined,
      onProgress: (done, total, name) => {
        const now = Date.now();
        if (now - last < PROGRESS_MS && done < total) return;
        last = now;
        process.stderr.write(`diff: ${done}/${total} tensors (${name})\n`);
      },
    });
    out(args.options.json ? JSON.stringify(diff) : formatDiff(diff));
    return 0;
  } finally {
    a?.close();
    b?.close();
  }
}

function input(m: OpenedModel, file: string) {
  return {
    index: m.index,
    source: m.source,
    resolveExternal: m.resolveExternal,
    file: { ...m.file, path: file },
  };
}
