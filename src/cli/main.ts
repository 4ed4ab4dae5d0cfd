import { ModelError } from '../core/errors';
import { UsageError } from './args';
import { activationsCommand, activationsUsage } from './activationsCommand';
import { compactCommand, compactUsage } from './compactCommand';
import { convertCommand, convertUsage } from './convertCommand';
import { dataCommand, dataUsage } from './dataCommand';
import { diffCommand, diffUsage } from './diffCommand';
import { inspectCommand, inspectUsage } from './inspectCommand';
import { pruneCommand, pruneUsage } from './pruneCommand';
import { quantizeCommand, quantizeUsage, verifyCommand, verifyUsage } from './quantizeCommand';
import { rewriteCommand, rewriteUsage } from './rewriteCommand';
import { sensitivityCommand, sensitivityUsage } from './sensitivityCommand';
import { shrinkCommand, shrinkUsage } from './shrinkCommand';
import { disableOrtTelemetry } from '../runtime/loadOrt';

const VERSION = '0.1.0';

const EXIT_CODES = `exit codes:
  0  done; for quantize, convert, prune, shrink, compact and verify the fidelity verdict is pass or warn
  1  error, nothing written: the message names the file and the reason
  2  bad usage: run 'big-shrink CMD --help' for a command's options
  3  quantize, convert, prune, shrink, compact: the output was written, but its fidelity is FAIL (shrink: it misses
     its target) or the models could not be compared; the report says why, a 'big-shrink: FAIL:' line
     says so. verify: FAIL or not comparable. sensitivity: no layer's candidate could be run`;

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

  ${diffUsage.split('\n').join('\n  ')}

  ${dataUsage.split('\n').join('\n  ')}

  ${compactUsage.split('\n').join('\n  ')}

  ${activationsUsage.split('\n').join('\n  ')}

  big-shrink --version | --help

${EXIT_CODES}`;

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
  diff: diffCommand,
  data: dataCommand,
  compact: compactCommand,
  activations: activationsCommand,
};

/** Runs one command line and returns the exit code; never throws. */
export async function main(argv: string[]): Promise<number> {
  disableOrtTelemetry();
  const out = (line: string) => process.stdout.write(line + '\n');
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const help = rest[0] === undefined ? undefined : commandUsage(rest[0]);
    out(help ?? usage);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    out(VERSION);
    return 0;
  }
  const command: Command | undefined = Object.hasOwn(commands, name) ? commands[name] : undefined;
  try {
    if (!command) throw new UsageError(`unknown command "${name}"`);
    if (asksForHelp(rest)) {
      out(commandUsage(name) ?? usage);
      return 0;
    }
    return await command(rest, out);
  } catch (e) {
    if (e instanceof UsageError) {
      const hint = command
        ? `run 'big-shrink ${name} --help' for its options`
        : `run 'big-shrink --help' for the commands`;
      process.stderr.write(`big-shrink: ${e.message}\n${hint}\n`);
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

/** `--help` or `-h` among a command's arguments (before a `--`). */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * One command's help: its block of the usage text (from `big-shrink NAME` to the next blank line), so a
 * command listed there has its help without a table to keep in step; then the exit codes.
 */
function commandUsage(name: string): string | undefined {
  const lines = usage.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`  big-shrink ${name} `) || l === `  big-shrink ${name}`);
  if (start < 0) return undefined;
  let end = start;
  while (end < lines.length && lines[end].trim() !== '') end++;
  return [...lines.slice(start, end).map((l) => l.slice(2)), '', EXIT_CODES].join('\n');
}

// Flush stdout before exiting: a large --json report is written asynchronously when piped.
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
