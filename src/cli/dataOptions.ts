import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataOptions, DataSpec } from '../runtime/data/loadSamples';
import { type OptionSpec, type ParsedArgs, UsageError } from './args';

/** The data options every command that runs the model accepts. */
export const DATA_OPTIONS: OptionSpec = {
  data: { type: 'string' },
  tokenizer: { type: 'string' },
  calibration: { type: 'number' },
  evaluation: { type: 'number' },
  split: { type: 'number' },
  resample: { type: 'flag' },
};

/** The usage lines of the data options. */
export const DATA_USAGE = `  --data PATH      the model's real inputs: a file or folder of .npy/.npz, images, WAV audio, text
                   (.txt, .jsonl) or any other files as raw bytes; repeat as --data INPUT=PATH per input.
                   Default: the recipe MODEL.inputs.json beside the model, else synthesized inputs
  --tokenizer FILE tokenizer.json for text (default: the recipe's, or tokenizer.json beside the model)
  --calibration N, --evaluation N  samples in each set (default half each: calibration for data-aware
                   choices, sensitivity and the shrink search; evaluation for the final verdict)
  --split F        the calibration share when no count is given (default 0.5)
  --resample       resample audio at another rate than the recipe's (else that is an error)`;

/**
 * DataOptions from --data (repeatable; `INPUT=PATH` when the text before `=` is not itself an existing
 * path), --tokenizer, --calibration, --evaluation, --split, --resample and the synthesis --dims/--fill.
 * A path that does not exist is a usage error.
 */
export function dataOptionsOf(
  args: ParsedArgs,
  synth: { dims?: Record<string, number>; fill?: Record<string, number> } = {},
): DataOptions {
  const o = args.options;
  const raw = args.repeated?.data ?? (o.data === undefined ? [] : [String(o.data)]);
  const data: DataSpec[] = raw.map((value) => {
    const eq = value.indexOf('=');
    const spec: DataSpec =
      eq > 0 && !fs.existsSync(value) && !value.slice(0, eq).includes('/')
        ? { input: value.slice(0, eq), path: path.resolve(value.slice(eq + 1)) }
        : { path: path.resolve(value) };
    if (!fs.existsSync(spec.path)) throw new UsageError(`--data ${value}: no such file or folder`);
    return spec;
  });
  const count = (name: string): number | undefined => {
    const v = o[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw new UsageError(`--${name} takes a whole number of samples (0 or more)`);
    return v;
  };
  const split = o.split;
  if (split !== undefined && !(typeof split === 'number' && split >= 0 && split <= 1))
    throw new UsageError('--split takes the calibration share, from 0 to 1 (e.g. 0.5)');
  const tokenizer = o.tokenizer === undefined ? undefined : path.resolve(String(o.tokenizer));
  if (tokenizer !== undefined && !fs.existsSync(tokenizer))
    throw new UsageError(`--tokenizer ${tokenizer}: no such file`);
  const options: DataOptions = {
    ...(data.length ? { data } : {}),
    ...(tokenizer ? { tokenizer } : {}),
    ...(count('calibration') !== undefined ? { calibration: count('calibration') } : {}),
    ...(count('evaluation') !== undefined ? { evaluation: count('evaluation') } : {}),
    ...(split !== undefined ? { fraction: split as number } : {}),
    ...(o.resample ? { resample: true } : {}),
    ...(synth.dims ? { dims: synth.dims } : {}),
    ...(synth.fill ? { fill: synth.fill } : {}),
  };
  return options;
}
