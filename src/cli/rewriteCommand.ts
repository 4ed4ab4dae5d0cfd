import * as path from 'node:path';
import { planWrite } from '../core/write/planWrite';
import { checkWritable } from '../runtime/checkWritable';
import { openModel } from '../runtime/openModel';
import { writeModel } from '../runtime/writeModel';
import { intOption, parseArgs, UsageError } from './args';

export const rewriteUsage = `big-shrink rewrite MODEL -o OUT [--external-data FILE] [--size-threshold BYTES] [--inline] [--force]
  Rewrites MODEL through the writer. With no option the output is byte-identical to the input.
  --external-data FILE   move tensors of at least --size-threshold bytes (default 1024) into FILE,
                         a new file beside OUT (4096-byte aligned offsets)
  --inline               bring every external tensor back into the model file (the result must stay under 2 GiB)
  --force                overwrite an existing output (the input is never overwritten)`;

/** `big-shrink rewrite`: returns the exit code. */
export function rewriteCommand(argv: string[], out: (line: string) => void): number {
  const args = parseArgs(argv, {
    output: { type: 'string', alias: '-o' },
    'external-data': { type: 'string' },
    'size-threshold': { type: 'number' },
    inline: { type: 'flag' },
    force: { type: 'flag' },
    json: { type: 'flag' },
  });
  if (args.positionals.length !== 1) throw new UsageError('rewrite takes one MODEL');
  const output = args.options.output as string | undefined;
  if (!output) throw new UsageError('rewrite needs -o OUT');
  const externalData = args.options['external-data'] as string | undefined;
  if (externalData !== undefined && args.options.inline)
    throw new UsageError('--external-data and --inline exclude each other');
  if (
    externalData !== undefined &&
    (path.isAbsolute(externalData) || externalData.includes('/') || externalData.includes('\\'))
  ) {
    throw new UsageError('--external-data takes a file name (it is written beside OUT)');
  }
  const threshold = intOption(args, 'size-threshold', 1024, 0, Number.MAX_SAFE_INTEGER);
  checkWritable([output, ...(externalData ? [path.join(path.dirname(output), externalData)] : [])]);
  const model = openModel(args.positionals[0]);
  try {
    const plan = planWrite(model.index, model.source, [], {
      externalData: externalData === undefined ? undefined : { location: externalData, threshold },
      inline: Boolean(args.options.inline),
    });
    const result = writeModel(plan, model, output, { force: Boolean(args.options.force) });
    if (args.options.json) out(JSON.stringify(result, null, 2));
    else {
      out(`wrote ${result.modelPath} (${result.modelBytes} bytes)`);
      for (const f of result.externalFiles) out(`wrote ${f.path} (${f.bytes} bytes)`);
    }
    return 0;
  } finally {
    model.close();
  }
}
