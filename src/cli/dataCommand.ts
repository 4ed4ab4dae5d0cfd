import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelError } from '../core/errors';
import { RecipeError } from '../core/data/inputRecipe';
import { DataError } from '../runtime/data/rawSample';
import { samplesFor } from '../runtime/data/sampleFeeds';
import { openModel } from '../runtime/openModel';
import { parseArgs, UsageError } from './args';
import { DATA_OPTIONS, DATA_USAGE, dataOptionsOf } from './dataOptions';
import { verifyOptionsOf } from './transformRun';

export const dataUsage = `big-shrink data MODEL [--data PATH | --data INPUT=PATH ...] [--tokenizer FILE] [--calibration N]
                 [--evaluation N] [--split F] [--resample] [--dims NAME=V,...] [--fill INPUT=V,...] [--preview] [--json]
  Prints what the model will receive from the data (the recipe MODEL.inputs.json beside the model, then the
  options): the sample count, one sample's shape, type and range per input and where it comes from, the
  calibration/evaluation split, and every file that could not be used, with why. Exit 1 when nothing
  usable is left or the data cannot be mapped to the model's inputs.
${DATA_USAGE}
  --preview        add a preview to --json: image thumbnails (data URLs), the first tokens, a waveform`;

/** `big-shrink data`: returns the exit code. */
export async function dataCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const args = parseArgs(argv, {
    ...DATA_OPTIONS,
    dims: { type: 'string' },
    fill: { type: 'string' },
    preview: { type: 'flag' },
    json: { type: 'flag' },
    help: { type: 'flag', alias: '-h' },
  });
  if (args.options.help) {
    out(dataUsage);
    return 0;
  }
  if (args.positionals.length !== 1) throw new UsageError('data takes one MODEL');
  const modelPath = path.resolve(args.positionals[0]);
  if (!fs.existsSync(modelPath)) throw new ModelError(modelPath, 'no such file');
  const synth = verifyOptionsOf(args);
  const data = { ...dataOptionsOf(args, synth), preview: Boolean(args.options.preview) };
  const model = openModel(modelPath);
  let set;
  try {
    set = await samplesFor(modelPath, model.index, { ...synth, data }, (line) =>
      process.stderr.write(`big-shrink: ${line}\n`),
    );
  } catch (e) {
    if (e instanceof DataError) throw new ModelError(e.file, e.reason);
    if (e instanceof RecipeError)
      throw new ModelError(e.file, `is not a valid input recipe: ${e.problems.join('; ')}`);
    throw e;
  } finally {
    model.close();
  }
  const s = set.section;
  if (args.options.json) {
    out(
      JSON.stringify(
        {
          model: modelPath,
          data: s,
          samples: s.calibration + s.evaluation,
          ...(set.labels ? { labels: set.labels } : {}),
          ...(set.preview ? { preview: set.preview } : {}),
        },
        null,
        2,
      ),
    );
    return 0;
  }
  out(`${modelPath}`);
  out(
    s.source === 'synthetic'
      ? 'data: none given — synthesized inputs (the figures of every command rest on synthetic inputs)'
      : `data: ${s.paths.join(', ')}`,
  );
  if (s.recipeFile) out(`recipe: ${s.recipeFile}`);
  out(`samples: ${s.calibration + s.evaluation} (calibration ${s.calibration}, evaluation ${s.evaluation})`);
  if (s.labelled)
    out(
      `labelled samples: ${s.labelled}${set.labels?.classes ? ` (classes: ${set.labels.classes.join(', ')})` : ''}`,
    );
  out('one sample:');
  for (const i of s.inputs ?? [])
    out(
      `  ${i.name}: ${i.dtype}[${i.dims.join(', ')}] from ${i.source}` +
        (i.min !== undefined ? `, range [${num(i.min)}, ${num(i.max ?? i.min)}]` : '') +
        (i.note ? ` (${i.note})` : ''),
    );
  if (s.skipped?.length) {
    out(`could not be used (${s.skipped.length}):`);
    for (const k of s.skipped) out(`  ${k.path}: ${k.reason}`);
  }
  return 0;
}

function num(x: number): string {
  return Number.isInteger(x) ? String(x) : Number(x.toPrecision(5)).toString();
}
