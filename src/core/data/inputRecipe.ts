/**
 * The input recipe `MODEL.inputs.json` beside a model: where each input's data comes from and how it is
 * turned into tensors, so a model set up once (in the editor or by hand) runs the same in every command.
 */

/** How one input's values are made. */
export type InputSource = 'npy' | 'image' | 'audio' | 'text' | 'bytes' | 'constant' | 'synthetic';

export const INPUT_SOURCES: readonly InputSource[] = [
  'npy',
  'image',
  'audio',
  'text',
  'bytes',
  'constant',
  'synthetic',
];

/** Image preprocessing: resize to the input's H×W, layout, channel order, scale, then (x − mean) / std. */
export interface ImageRecipe {
  /** stretch (default): to H×W ignoring the aspect ratio; cover: fill and centre-crop; contain: letterbox. */
  resize?: 'stretch' | 'cover' | 'contain';
  /** Default: guessed from the input's shape (3 or 1 channels at axis 1 → NCHW, at the last axis → NHWC). */
  layout?: 'NCHW' | 'NHWC';
  /** Default RGB (GRAY for one channel). */
  channels?: 'RGB' | 'BGR' | 'GRAY';
  /** Multiplies the 0–255 pixel values first (default 1/255). */
  scale?: number;
  /** Per channel (or one value for all), in the scaled units (default 0). */
  mean?: number[];
  /** Per channel (or one value for all), in the scaled units (default 1). */
  std?: number[];
  /** Resampling kernel (default linear: bilinear, antialiased when shrinking, as PIL's BILINEAR). */
  interpolation?: 'nearest' | 'linear' | 'cubic' | 'lanczos3';
}

/** Audio: mono float at the model's rate, windows of the input's length. */
export interface AudioRecipe {
  /** The rate the model expects (Hz); a file at another rate is an error unless `resample`. */
  sampleRate?: number;
  resample?: boolean;
  /** Samples per window (default: the input's length). */
  window?: number;
  /** Samples between window starts (default: the window, i.e. no overlap). */
  hop?: number;
  /** Most windows taken from one file (default 8). */
  maxWindows?: number;
  /** Value padding the last window (default 0). */
  pad?: number;
}

/** Text: token windows from a Hugging Face tokenizer.json. */
export interface TextRecipe {
  /** tokenizer.json, relative to the recipe's folder. */
  tokenizer?: string;
  /** Tokens per window (default: the input's sequence length, or 64 when it is symbolic). */
  length?: number;
  /** Tokens between window starts (default: the length). */
  stride?: number;
  /** Most windows taken from one file (default 8). */
  maxWindows?: number;
  /** The `.jsonl` field holding the text (default "text"). */
  field?: string;
  /** Add the tokenizer's special tokens (BOS …) to each text (default true). */
  addSpecialTokens?: boolean;
  /** Token id padding a short last window (default: the tokenizer's pad token, else 0). */
  pad?: number;
}

/** Raw bytes: one integer per byte, then padding to the input's length. */
export interface BytesRecipe {
  /** Integer padding a short file (default 256, the extra row of a 257-row byte embedding; 0 for uint8). */
  pad?: number;
  /** Bytes read from the start of each file (default: the input's length). */
  length?: number;
}

/** One input's recipe. */
export interface InputRecipe {
  source: InputSource;
  /** A file or folder (relative to the recipe's folder) for this input alone. */
  path?: string;
  /** The shape fed, symbolic dims resolved (e.g. [1, 3, 48, 192]); default from the model and the data. */
  dims?: number[];
  /** For `constant`: the value every element takes. */
  value?: number;
  image?: ImageRecipe;
  audio?: AudioRecipe;
  text?: TextRecipe;
  bytes?: BytesRecipe;
}

/** The whole recipe file. */
export interface RecipeFile {
  version: 1;
  /** Files or folders (relative to the recipe's folder) feeding the model's data input(s). */
  data?: string[];
  /** tokenizer.json for text data (relative to the recipe's folder). */
  tokenizer?: string;
  /** Samples in each set (default: half each). */
  split?: { calibration?: number; evaluation?: number };
  /** Class labels: labels.json or a CSV of file → class index (a folder per class needs nothing). */
  labels?: string;
  /** Values for symbolic dims by name (`sequence`: 512). */
  dims?: Record<string, number>;
  inputs: Record<string, InputRecipe>;
}

/** A recipe file that is not what the schema says, with every problem found. */
export class RecipeError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.join('; ')}`);
    this.name = 'RecipeError';
  }
}

/** The recipe file's name for a model (`model.onnx` → `model.inputs.json`). */
export function recipeFileName(modelFile: string): string {
  return `${modelFile.replace(/\.onnx$/i, '')}.inputs.json`;
}

/** Parses and validates a recipe file's text; throws RecipeError naming every problem. */
export function parseRecipe(text: string, file: string): RecipeFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RecipeError(file, [`is not JSON (${(e as Error).message})`]);
  }
  const problems = validateRecipe(raw);
  if (problems.length > 0) throw new RecipeError(file, problems);
  return raw as RecipeFile;
}

/** The recipe as its file holds it: stable key order, two-space indent, a final newline. */
export function serializeRecipe(recipe: RecipeFile): string {
  return JSON.stringify(recipe, null, 2) + '\n';
}

/** Every way `raw` departs from the RecipeFile schema (empty when it is a valid recipe). */
export function validateRecipe(raw: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(raw)) return ['must be a JSON object'];
  if (raw.version !== 1) problems.push('"version" must be 1');
  if (raw.data !== undefined && !isStringArray(raw.data)) problems.push('"data" must be a list of paths');
  if (raw.tokenizer !== undefined && typeof raw.tokenizer !== 'string')
    problems.push('"tokenizer" must be a path');
  if (raw.labels !== undefined && typeof raw.labels !== 'string') problems.push('"labels" must be a path');
  if (raw.split !== undefined) {
    if (!isObject(raw.split)) problems.push('"split" must be an object');
    else
      for (const k of ['calibration', 'evaluation'])
        if (raw.split[k] !== undefined && !isCount(raw.split[k]))
          problems.push(`"split.${k}" must be a whole number ≥ 0`);
  }
  if (raw.dims !== undefined) {
    if (!isObject(raw.dims)) problems.push('"dims" must map dim names to numbers');
    else
      for (const [k, v] of Object.entries(raw.dims))
        if (!isCount(v) || v === 0) problems.push(`"dims.${k}" must be a whole number ≥ 1`);
  }
  if (!isObject(raw.inputs)) {
    problems.push('"inputs" must map input names to recipes');
    return problems;
  }
  for (const [name, r] of Object.entries(raw.inputs)) problems.push(...validateInput(name, r));
  return problems;
}

function validateInput(name: string, r: unknown): string[] {
  const at = `input "${name}"`;
  if (!isObject(r)) return [`${at} must be an object`];
  const problems: string[] = [];
  if (!INPUT_SOURCES.includes(r.source as InputSource))
    problems.push(`${at}: "source" must be one of ${INPUT_SOURCES.join(', ')}`);
  if (r.path !== undefined && typeof r.path !== 'string') problems.push(`${at}: "path" must be a path`);
  if (r.dims !== undefined && !(Array.isArray(r.dims) && r.dims.every((d) => isCount(d))))
    problems.push(`${at}: "dims" must be a list of whole numbers`);
  if (r.source === 'constant' && typeof r.value !== 'number')
    problems.push(`${at}: a constant needs a numeric "value"`);
  if (r.image !== undefined) problems.push(...validateImage(at, r.image));
  if (r.audio !== undefined) problems.push(...validateNumbers(`${at}: "audio"`, r.audio, AUDIO_FIELDS));
  if (r.text !== undefined) problems.push(...validateNumbers(`${at}: "text"`, r.text, TEXT_FIELDS));
  if (r.bytes !== undefined) problems.push(...validateNumbers(`${at}: "bytes"`, r.bytes, BYTES_FIELDS));
  return problems;
}

const AUDIO_FIELDS: Record<string, 'number' | 'boolean' | 'string'> = {
  sampleRate: 'number',
  resample: 'boolean',
  window: 'number',
  hop: 'number',
  maxWindows: 'number',
  pad: 'number',
};
const TEXT_FIELDS: Record<string, 'number' | 'boolean' | 'string'> = {
  tokenizer: 'string',
  length: 'number',
  stride: 'number',
  maxWindows: 'number',
  field: 'string',
  addSpecialTokens: 'boolean',
  pad: 'number',
};
const BYTES_FIELDS: Record<string, 'number' | 'boolean' | 'string'> = { pad: 'number', length: 'number' };

function validateNumbers(
  at: string,
  v: unknown,
  fields: Record<string, 'number' | 'boolean' | 'string'>,
): string[] {
  if (!isObject(v)) return [`${at} must be an object`];
  const problems: string[] = [];
  for (const [k, x] of Object.entries(v)) {
    const want = fields[k];
    if (!want) problems.push(`${at}: unknown field "${k}"`);
    else if (typeof x !== want || (want === 'number' && !Number.isFinite(x)))
      problems.push(`${at}: "${k}" must be a ${want}`);
  }
  return problems;
}

function validateImage(at: string, v: unknown): string[] {
  if (!isObject(v)) return [`${at}: "image" must be an object`];
  const problems: string[] = [];
  const oneOf = (k: string, allowed: string[]) => {
    if (v[k] !== undefined && !allowed.includes(v[k] as string))
      problems.push(`${at}: "image.${k}" must be one of ${allowed.join(', ')}`);
  };
  oneOf('resize', ['stretch', 'cover', 'contain']);
  oneOf('layout', ['NCHW', 'NHWC']);
  oneOf('channels', ['RGB', 'BGR', 'GRAY']);
  oneOf('interpolation', ['nearest', 'linear', 'cubic', 'lanczos3']);
  if (v.scale !== undefined && !(typeof v.scale === 'number' && Number.isFinite(v.scale)))
    problems.push(`${at}: "image.scale" must be a number`);
  for (const k of ['mean', 'std']) {
    const x = v[k];
    if (x !== undefined && !(Array.isArray(x) && x.length > 0 && x.every((n) => typeof n === 'number')))
      problems.push(`${at}: "image.${k}" must be a list of numbers`);
  }
  if (Array.isArray(v.std) && v.std.some((s) => s === 0)) problems.push(`${at}: "image.std" must not be 0`);
  for (const k of Object.keys(v))
    if (!['resize', 'layout', 'channels', 'scale', 'mean', 'std', 'interpolation'].includes(k))
      problems.push(`${at}: unknown field "image.${k}"`);
  return problems;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}
