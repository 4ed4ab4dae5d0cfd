import { ModelError } from '../core/errors';
import { UsageError } from './args';
import { convertCommand, convertUsage } from './convertCommand';
import { dataCommand, dataUsage } from './dataCommand';
import { inspectCommand, inspectUsage } from './inspectCommand';
import { pruneCommand, pruneUsage } from './pruneCommand';
import { quantizeCommand, quantizeUsage, verifyCommand, verifyUsage } from './quantizeCommand';
import { rewriteCommand, rewriteUsage } from './rewriteCommand';
import { sensitivityCommand, sensitivityUsage } from './sensitivityCommand';
import { shrinkCommand, shrinkUsage } from './shrinkCommand';

const VERSION = '0.1.0';

const usage = `Big Shrink ${VERSION} — look inside ONNX models and make them smaller.

usage:
  ${inspectUsage.split('\n').join('\n  ')}

  ${rewriteUsage.split('\n').join('\n  ')}

  ${quantizeUsage.split('\n').join('\n  ')}

  ${convertUsage.split('\n').join('\n  ')}

  ${pruneUsage.split('\n').join('\n  ')}

  ${verifyUsage.split('\n').join('\n  ')}

  ${sensitivityUsage.split('\n').join('\n  ')}

  ${shrinkUsage.split('\n').join('\n  ')}

  ${dataUsage.split('\n').join('\n  ')}

  big-shrink --version | --help

exit codes: 0 success, 1 failure (the message names the file and the reason), 2 bad usage`;

type Command = (argv: string[], out: (line: string) => void) => number | Promise<number>;
const commands: Record<string, Command> = {
  inspect: inspectCommand,
  rewrite: rewriteCommand,
  quantize: quantizeCommand,
  convert: convertCommand,
  prune: pruneCommand,
  verify: verifyCommand,
  sensitivity: sensitivityCommand,
  shrink: shrinkCommand,
  data: dataCommand,
};

/** Runs one command line and returns the exit code; never throws. */
export async function main(argv: string[]): Promise<number> {
  const out = (line: string) => process.stdout.write(line + '\n');
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out(usage);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    out(VERSION);
    return 0;
  }
  const command = commands[name];
  try {
    if (!command) throw new UsageError(`unknown command "${name}"`);
    return await command(rest, out);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`big-shrink: ${e.message}\n\n${usage}\n`);
      return 2;
    }
    if (e instanceof ModelError) {
      process.stderr.write(`big-shrink: error: ${e.file}: ${e.reason}\n`);
      return 1;
    }
    const detail = process.env.BIG_SHRINK_DEBUG ? (e as Error).stack : (e as Error).message;
    process.stderr.write(`big-shrink: error: ${detail ?? String(e)}\n`);
    return 1;
  }
}

// Flush stdout before exiting: a large --json report is written asynchronously when piped.
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
