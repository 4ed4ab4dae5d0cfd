import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataInputSummary, DataPreview, DataSection } from '../../core/data/dataSection';
import { parseRecipe, type RecipeFile, recipeFileName, RecipeError } from '../../core/data/inputRecipe';
import { splitSamples } from '../../core/data/splitSamples';
import type { ModelIndex } from '../../core/onnx/modelIndex';
import type { Feeds } from '../verifyModels';
import { decodeDataInputs, type DecodedInputs } from './decodeDataInputs';
import { fillOtherInputs } from './fillInputs';
import { type FedInput, fedInputs } from './modelInputs';
import { DataError, rangeOf, type RawTensor, type SkippedFile } from './rawSample';
import { toOrtTensor } from './toOrtTensor';
import { loadOrt } from '../loadOrt';

/** One `--data` argument: a file or folder, for all data inputs or for one named input. */
export interface DataSpec {
  input?: string;
  path: string;
}

/** Where a command's samples come from and how they are split (the CLI's --data flags, the editor's card). */
export interface DataOptions {
  /** Files or folders; none: the recipe's, else synthesized inputs. */
  data?: DataSpec[];
  /** tokenizer.json for text data (default: the recipe's, else tokenizer.json beside the model or data). */
  tokenizer?: string;
  /** Samples in the calibration set (default: the recipe's, else half). */
  calibration?: number;
  /** Samples in the evaluation set (default: the recipe's, else the rest). */
  evaluation?: number;
  /** The calibration share when no count is given (default 0.5). */
  fraction?: number;
  /** Values for symbolic dims by name (--dims). */
  dims?: Record<string, number>;
  /** Constant values for named inputs (--fill). */
  fill?: Record<string, number>;
  /** Resample audio at another rate than the recipe's (else that is an error). */
  resample?: boolean;
  /** A recipe to use instead of the file beside the model. */
  recipe?: RecipeFile;
  /** Ignore the recipe file beside the model. */
  noRecipe?: boolean;
  /** Most samples decoded per input (default 256; the rest of the files are not read). */
  maxSamples?: number;
  /** Collect a preview (thumbnails, first tokens, waveform) for the editor. */
  preview?: boolean;
  /**
   * Synthesized samples when there is no data: `count` feeds from `seed` on. Not serializable: set by the
   * process that calls loadSamples (default: the synthesizer of verifyModels, given to loadSamples by the
   * caller through this hook).
   */
  synthesize?: (count: number, seed: number) => Feeds[] | Promise<Feeds[]>;
}

/** Class labels of the samples (a folder per class, labels.json or a CSV), undefined where unknown. */
export interface SampleLabels {
  calibration: (number | undefined)[];
  evaluation: (number | undefined)[];
  classes?: string[];
}

/** The model's samples, split: one Feeds per sample (batch 1 unless the model fixes its batch). */
export interface SampleSet {
  source: 'files' | 'synthetic';
  calibration: Feeds[];
  evaluation: Feeds[];
  section: DataSection;
  labels?: SampleLabels;
  preview?: DataPreview;
}

/** Synthesized sets by default: seeds apart, so evaluation never sees calibration inputs. */
export const SYNTHETIC_CALIBRATION = { count: 16, seed: 1001 };
export const SYNTHETIC_EVALUATION = { count: 1, seed: 1 };

/**
 * The samples a model receives: the user's files (`options.data`, else the paths of the recipe
 * `MODEL.inputs.json` beside the model), decoded by kind (.npy/.npz, images, WAV audio, text + tokenizer,
 * raw bytes) to the model's input shapes, the other inputs filled (attention masks, positions, empty past
 * key/values, zero states, the audio rate, constants, else synthesized), then split deterministically into
 * calibration and evaluation sets. Without data, `options.synthesize` makes both sets (source
 * "synthetic"). A file that cannot be used is skipped and listed (`section.skipped`, and on stderr when
 * `warn` is given); nothing usable left, a missing tokenizer, a recipe that is not valid or a shape that
 * cannot be mapped throw a DataError (or RecipeError) naming the file and the reason.
 */
export async function loadSamples(
  modelPath: string,
  index: ModelIndex,
  options: DataOptions = {},
  warn?: (line: string) => void,
): Promise<SampleSet> {
  const ort = loadOrt();
  const { recipe, recipeFile } = resolveRecipe(modelPath, options);
  const base = recipeFile ? path.dirname(recipeFile) : path.dirname(modelPath);
  const specs: DataSpec[] = options.data?.length
    ? options.data.map((s) => ({ ...s, path: path.resolve(s.path) }))
    : [
        ...(recipe?.data ?? []).map((p) => ({ path: path.resolve(base, p) })),
        ...Object.entries(recipe?.inputs ?? {})
          .filter(([, r]) => r.path !== undefined)
          .map(([input, r]) => ({ input, path: path.resolve(base, r.path!) })),
      ];
  const inputs = fedInputs(index);
  for (const s of specs)
    if (s.input !== undefined && !inputs.some((i) => i.name === s.input))
      throw new DataError(
        s.path,
        `is given for input ${s.input}, which the model does not have (its inputs: ${inputs.map((i) => i.name).join(', ')})`,
      );
  // Counts on the command line replace the recipe's split as a whole.
  const given = pick(options, ['calibration', 'evaluation']);
  const split = Object.keys(given).length > 0 ? given : { ...recipe?.split };

  if (specs.length === 0) {
    if (!options.synthesize) throw new Error('loadSamples: no data and no synthesizer');
    const calCount = split.calibration ?? SYNTHETIC_CALIBRATION.count;
    const evalCount = split.evaluation ?? SYNTHETIC_EVALUATION.count;
    const calibration = calCount > 0 ? await options.synthesize(calCount, SYNTHETIC_CALIBRATION.seed) : [];
    const evaluation = evalCount > 0 ? await options.synthesize(evalCount, SYNTHETIC_EVALUATION.seed) : [];
    return {
      source: 'synthetic',
      calibration,
      evaluation,
      section: {
        source: 'synthetic',
        paths: [],
        calibration: calibration.length,
        evaluation: evaluation.length,
        ...(recipe ? { recipe, recipeFile } : {}),
        inputs: summarize(evaluation[0] ?? calibration[0], inputs, () => 'synthetic'),
      },
    };
  }

  const skipped: SkippedFile[] = [];
  const decoded: DecodedInputs = await decodeDataInputs({
    modelPath,
    index,
    inputs,
    specs,
    recipe,
    base,
    options,
    skipped,
  });
  for (const s of skipped) warn?.(`skipped ${s.path}: ${s.reason}`);
  const count = decoded.count;
  if (count === 0) {
    const why = skipped.length
      ? ` (${skipped
          .slice(0, 3)
          .map((s) => `${s.path}: ${s.reason}`)
          .join('; ')})`
      : '';
    throw new DataError(specs.map((s) => s.path).join(', '), `nothing usable is left${why}`);
  }
  const filled = await fillOtherInputs(inputs, decoded, recipe, options);
  const feeds: Feeds[] = [];
  for (let k = 0; k < count; k++) {
    const f: Feeds = {};
    for (const input of inputs) {
      const raw = filled.values.get(input.name)?.[k];
      if (raw) f[input.name] = toOrtTensor(ort, raw, input);
      else {
        const t = filled.synthesized?.[k]?.[input.name];
        if (!t) throw new DataError(modelPath, `input ${input.name} has no values (no data, no synthesizer)`);
        f[input.name] = t;
      }
    }
    feeds.push(f);
  }
  const parts = splitSamples(count, { ...split, fraction: options.fraction });
  const labelsOf = (ids: number[]) => ids.map((i) => decoded.labels?.[i]);
  const labelled = decoded.labels ? decoded.labels.filter((l) => l !== undefined).length : 0;
  const section: DataSection = {
    source: 'files',
    paths: specs.map((s) => (s.input ? `${s.input}=${s.path}` : s.path)),
    calibration: parts.calibration.length,
    evaluation: parts.evaluation.length,
    ...(recipe ? { recipe, recipeFile } : {}),
    inputs: summarize(feeds[0], inputs, (name) => filled.sources.get(name) ?? 'synthetic', filled.notes),
    ...(skipped.length ? { skipped } : {}),
    ...(labelled ? { labelled } : {}),
  };
  return {
    source: 'files',
    calibration: parts.calibration.map((i) => feeds[i]),
    evaluation: parts.evaluation.map((i) => feeds[i]),
    section,
    ...(labelled
      ? {
          labels: {
            calibration: labelsOf(parts.calibration),
            evaluation: labelsOf(parts.evaluation),
            ...(decoded.classes ? { classes: decoded.classes } : {}),
          },
        }
      : {}),
    ...(decoded.preview ? { preview: decoded.preview } : {}),
  };
}

/** The recipe in force: the options' own, else `MODEL.inputs.json` beside the model (unless `noRecipe`). */
export function resolveRecipe(
  modelPath: string,
  options: DataOptions,
): { recipe?: RecipeFile; recipeFile?: string } {
  if (options.recipe) return { recipe: options.recipe };
  if (options.noRecipe) return {};
  const file = recipeFileName(path.resolve(modelPath));
  if (!fs.existsSync(file)) return {};
  return { recipe: parseRecipe(fs.readFileSync(file, 'utf8'), file), recipeFile: file };
}

export { DataError, RecipeError };
export type { DataPreview };

function summarize(
  feeds: Feeds | undefined,
  inputs: FedInput[],
  sourceOf: (name: string) => string,
  notes?: Map<string, string>,
): DataInputSummary[] {
  if (!feeds) return [];
  return inputs
    .filter((i) => feeds[i.name])
    .map((i) => {
      const t = feeds[i.name];
      const raw: RawTensor = { dtype: t.type, dims: [...t.dims], data: t.data as RawTensor['data'] };
      const range = t.type === 'float16' || t.type === 'string' ? undefined : rangeOf(raw);
      const note = notes?.get(i.name);
      return {
        name: i.name,
        dtype: t.type,
        dims: [...t.dims],
        source: sourceOf(i.name),
        ...(range ? { min: range.min, max: range.max } : {}),
        ...(note ? { note } : {}),
      };
    });
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
