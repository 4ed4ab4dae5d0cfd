import * as fs from 'node:fs';
import * as path from 'node:path';
import { unzipSync } from 'fflate';
import type { InputRecipe, RecipeFile } from '../../core/data/inputRecipe';
import type { ModelIndex } from '../../core/onnx/modelIndex';
import { type NpyArray, NpyError, parseNpy } from '../readNpy';
import { decodeImage, imageSize, imageThumbnail } from './decodeImage';
import { audioWindows, decodeWav, waveformSketch } from './decodeWav';
import { type DataFile, listDataFiles, readLabels } from './listDataFiles';
import type { DataOptions, DataPreview, DataSpec } from './loadSamples';
import {
  batchAxis,
  dimSymbol,
  embeddingRows,
  type FedInput,
  FLOAT_TYPES,
  INT_TYPES,
  isPastInput,
  isSampleRateInput,
  isStateInput,
  resolveShape,
  textCompanion,
} from './modelInputs';
import { type DataKind, DataError, type RawTensor, type SkippedFile } from './rawSample';
import { loadTokenizer, readTexts, type TextTokenizer, type TokenWindow, tokenWindows } from './tokenizeText';

/** The data inputs decoded from the user's files, sample by sample. */
export interface DecodedInputs {
  count: number;
  /** Per data input, one value per sample. */
  values: Map<string, RawTensor[]>;
  /** Per input, where its values came from (image, audio, text, …). */
  sources: Map<string, string>;
  notes: Map<string, string>;
  labels?: (number | undefined)[];
  classes?: string[];
  /** Symbolic dims by name as the data fixed them (seq_len → 64), for the other inputs. */
  symbols: Record<string, number>;
  /** Token windows (one per sample) for the text companions. */
  text?: TokenWindow[];
  /** The audio rate, for a sample-rate input. */
  audioRate?: number;
  preview?: DataPreview;
}

interface Context {
  modelPath: string;
  index: ModelIndex;
  inputs: FedInput[];
  specs: DataSpec[];
  recipe?: RecipeFile;
  base: string;
  options: DataOptions;
  skipped: SkippedFile[];
}

/** One sample of an input with the file it came from. */
interface Sample {
  value: RawTensor;
  file: string;
  label?: number;
}

/**
 * Decodes every data path into samples of the input it feeds (named, or chosen by the data's kind: the
 * image-shaped float input, the first float input for audio, `input_ids` for text, the first integer input
 * for bytes; `.npy` files named after inputs feed those). A file that fails is skipped with its reason.
 */
export async function decodeDataInputs(ctx: Context): Promise<DecodedInputs> {
  const out: DecodedInputs = {
    count: 0,
    values: new Map(),
    sources: new Map(),
    notes: new Map(),
    symbols: {},
  };
  const symbols: Record<string, number> = { ...ctx.recipe?.dims, ...ctx.options.dims };
  const perInput = new Map<string, Sample[]>();
  const maxSamples = ctx.options.maxSamples ?? 256;
  let classes: string[] | undefined;
  for (const spec of ctx.specs) {
    const hint = spec.input ? kindOfSource(ctx.recipe?.inputs[spec.input]?.source) : undefined;
    const listing = listDataFiles(spec.path, hint);
    ctx.skipped.push(...listing.skipped);
    classes ??= listing.classes;
    const labelFile = ctx.recipe?.labels
      ? path.resolve(ctx.base, ctx.recipe.labels)
      : fs.statSync(spec.path).isDirectory()
        ? [path.join(spec.path, 'labels.json'), path.join(spec.path, 'labels.csv')].find((f) =>
            fs.existsSync(f),
          )
        : undefined;
    const labelMap = labelFile ? readLabels(labelFile) : undefined;
    const files = listing.files.map((f) => ({ ...f, label: labelMap?.get(path.resolve(f.path)) ?? f.label }));
    if (listing.kind === 'npy') {
      decodeNpyFiles(ctx, spec, files, perInput, maxSamples);
      for (const name of perInput.keys()) if (!out.sources.has(name)) out.sources.set(name, 'npy');
      continue;
    }
    const target = spec.input
      ? ctx.inputs.find((i) => i.name === spec.input)!
      : pickInput(listing.kind, ctx.inputs);
    if (!target)
      throw new DataError(
        spec.path,
        `holds ${listing.kind} data, and no input of the model takes it (${describeInputs(ctx.inputs)})`,
      );
    const recipe = ctx.recipe?.inputs[target.name];
    const samples = perInput.get(target.name) ?? [];
    perInput.set(target.name, samples);
    out.sources.set(target.name, listing.kind);
    const shape = resolveShape(target, { ...symbols, ...dimsOf(target, recipe) }, (axis) =>
      axis === batchAxis(target) ? 1 : undefined,
    );
    // One sample has batch 1; a model with a fixed batch gets its samples grouped at the end.
    shape[batchAxis(target)] = 1;
    const decode = DECODERS[listing.kind];
    const state = await decode.prepare(ctx, spec, target, shape, recipe, files, out);
    for (const f of files) {
      if (samples.length >= maxSamples) break;
      try {
        for (const value of await decode.file(f.path, state))
          if (samples.length < maxSamples) samples.push({ value, file: f.path, label: f.label });
      } catch (e) {
        if (e instanceof DataError && e.file === f.path) ctx.skipped.push({ path: f.path, reason: e.reason });
        else throw e;
      }
    }
    if (ctx.options.preview) out.preview = await decode.preview?.(files, state, samples);
    const first = samples[0]?.value;
    if (first)
      target.shape.forEach((d, axis) => {
        const s = dimSymbol(target.name, axis, d);
        if (typeof s === 'string') symbols[s] = first.dims[axis];
      });
  }
  for (const [name, samples] of perInput) {
    const input = ctx.inputs.find((i) => i.name === name)!;
    const b = batchAxis(input);
    const declared = input.shape[b];
    if (typeof declared !== 'number' || declared <= 1 || samples.some((s) => s.value.dims[b] !== 1)) continue;
    if (b !== 0)
      throw new DataError(
        ctx.specs[0].path,
        `input ${name} has a fixed batch of ${declared} on axis ${b}; samples are grouped on axis 0 only`,
      );
    perInput.set(name, groupSamples(samples, declared));
    if (out.text && name === [...perInput.keys()][0]) out.text = groupWindows(out.text, declared);
    out.notes.set(name, `${declared} samples per run (the model's fixed batch)`);
  }
  const counts = [...perInput.values()].map((s) => s.length);
  out.count = counts.length ? Math.min(...counts) : 0;
  for (const [name, samples] of perInput) {
    if (samples.length > out.count)
      out.notes.set(
        name,
        `${samples.length - out.count} samples beyond the other inputs' ${out.count} left out`,
      );
    out.values.set(
      name,
      samples.slice(0, out.count).map((s) => s.value),
    );
  }
  const primary = [...perInput.values()][0] ?? [];
  if (primary.some((s) => s.label !== undefined))
    out.labels = primary.slice(0, out.count).map((s) => s.label);
  out.classes = classes;
  out.symbols = symbols;
  return out;
}

/** Consecutive samples stacked `batch` at a time along axis 0 (a remainder short of a batch is left out). */
function groupSamples(samples: Sample[], batch: number): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; i + batch <= samples.length; i += batch) {
    const part = samples.slice(i, i + batch);
    const first = part[0].value;
    const per = first.data.length;
    const Ctor = (first.data as unknown as { constructor: new (n: number) => RawTensor['data'] }).constructor;
    const data = new Ctor(per * batch);
    part.forEach((p, k) =>
      (data as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(
        p.value.data as ArrayLike<unknown>,
        k * per,
      ),
    );
    out.push({
      value: { dtype: first.dtype, dims: [batch, ...first.dims.slice(1)], data },
      file: part[0].file,
      label: part[0].label,
    });
  }
  return out;
}

function groupWindows(windows: TokenWindow[], batch: number): TokenWindow[] {
  const out: TokenWindow[] = [];
  for (let i = 0; i + batch <= windows.length; i += batch) {
    const part = windows.slice(i, i + batch);
    out.push({ ids: part.flatMap((w) => w.ids), mask: part.flatMap((w) => w.mask) });
  }
  return out;
}

/** A decoder of one data kind: checks once what it needs, then turns each file into samples. */
interface Decoder<S = unknown> {
  prepare(
    ctx: Context,
    spec: DataSpec,
    target: FedInput,
    shape: number[],
    recipe: InputRecipe | undefined,
    files: DataFile[],
    out: DecodedInputs,
  ): Promise<S>;
  file(file: string, state: S): Promise<RawTensor[]>;
  preview?(files: DataFile[], state: S, samples: Sample[]): Promise<DataPreview>;
}

interface ImageState {
  shape: number[];
  geometry: { height: number; width: number; channels: 1 | 3; layout: 'NCHW' | 'NHWC' };
  recipe?: InputRecipe;
}

const imageDecoder: Decoder<ImageState> = {
  async prepare(ctx, spec, target, shape, recipe, files) {
    if (!FLOAT_TYPES.has(target.dtype) || shape.length !== 4)
      throw new DataError(
        spec.path,
        `holds images, but input ${target.name} is ${describe(target)}, not a float [N, C, H, W] or [N, H, W, C] tensor`,
      );
    const known = (v: number) => v === 1 || v === 3;
    const layout = recipe?.image?.layout ?? (known(shape[1]) ? 'NCHW' : known(shape[3]) ? 'NHWC' : undefined);
    if (!layout)
      throw new DataError(
        spec.path,
        `cannot tell where input ${target.name}'s channels are (${describe(target)}): set "layout" in the recipe's "image"`,
      );
    const [hAxis, wAxis, cAxis] = layout === 'NCHW' ? [2, 3, 1] : [1, 2, 3];
    const channels = shape[cAxis];
    if (!known(channels))
      throw new DataError(spec.path, `input ${target.name} has ${channels} channels; images give 1 or 3`);
    if (Number.isNaN(shape[hAxis]) || Number.isNaN(shape[wAxis])) {
      // Symbolic height or width: the first readable image's own size.
      let size: { width: number; height: number } | undefined;
      let why = '';
      for (const f of files) {
        try {
          size = await imageSize(f.path);
          break;
        } catch (e) {
          if (!(e instanceof DataError)) throw e;
          why ||= `${e.file}: ${e.reason}`;
        }
      }
      if (!size) throw new DataError(spec.path, `nothing usable is left (${why})`);
      if (Number.isNaN(shape[hAxis])) shape[hAxis] = size.height;
      if (Number.isNaN(shape[wAxis])) shape[wAxis] = size.width;
    }
    void ctx;
    return {
      shape,
      geometry: { height: shape[hAxis], width: shape[wAxis], channels: channels as 1 | 3, layout },
      recipe,
    };
  },
  async file(file, s) {
    const data = await decodeImage(file, s.geometry, s.recipe?.image);
    return [{ dtype: 'float32', dims: s.shape, data }];
  },
  async preview(files) {
    const thumbnails: { path: string; dataUrl: string }[] = [];
    for (const f of files.slice(0, 6)) {
      try {
        thumbnails.push({ path: f.path, dataUrl: await imageThumbnail(f.path) });
      } catch {
        // An undecodable image is already listed as skipped.
      }
    }
    return { kind: 'image', thumbnails };
  },
};

interface AudioState {
  shape: number[];
  length: number;
  recipe?: InputRecipe;
  resample?: boolean;
  out: DecodedInputs;
  first?: Float32Array;
}

const audioDecoder: Decoder<AudioState> = {
  async prepare(ctx, spec, target, shape, recipe, _files, out) {
    if (!FLOAT_TYPES.has(target.dtype))
      throw new DataError(
        spec.path,
        `holds audio, but input ${target.name} is ${describe(target)}, not float`,
      );
    const b = batchAxis(target);
    const timeAxis = shape.length - 1;
    for (let a = 0; a < timeAxis; a++)
      if (a !== b && shape[a] !== 1 && !Number.isNaN(shape[a]))
        throw new DataError(
          spec.path,
          `input ${target.name} is ${describe(target)}: mono audio maps to [batch, samples] (other axes 1)`,
        );
    // The model's rate: the recipe's, else a value given for its sample-rate input (--fill sr=16000).
    const rateInput = ctx.inputs.find((i) => isSampleRateInput(i.name));
    const rate = recipe?.audio?.sampleRate ?? (rateInput ? ctx.options.fill?.[rateInput.name] : undefined);
    if (rate !== undefined) out.audioRate = rate;
    let length = recipe?.audio?.window ?? shape[timeAxis];
    if (Number.isNaN(length) || length === undefined) {
      if (!rate)
        throw new DataError(
          spec.path,
          `input ${target.name} has a symbolic length (${String(target.shape[timeAxis])}): give it with --dims ${String(target.shape[timeAxis])}=N or the recipe's "audio": {"window": N}`,
        );
      length = rate;
    }
    const full = shape.map((d, a) => (a === timeAxis ? length : Number.isNaN(d) ? 1 : d));
    void ctx;
    return { shape: full, length, recipe, resample: ctx.options.resample, out };
  },
  async file(file, s) {
    const a = s.recipe?.audio ?? {};
    const audio = decodeWav(file, {
      ...a,
      resample: a.resample ?? s.resample,
      sampleRate: a.sampleRate ?? s.out.audioRate,
    });
    s.out.audioRate ??= audio.sampleRate;
    s.first ??= audio.samples;
    return audioWindows(audio.samples, s.length, a.hop ?? s.length, a.maxWindows ?? 8, a.pad ?? 0).map(
      (w) => ({
        dtype: 'float32',
        dims: s.shape,
        data: w,
      }),
    );
  },
  async preview(_files, s) {
    return { kind: 'audio', waveform: s.first ? waveformSketch(s.first) : [] };
  },
};

interface TextState {
  shape: number[];
  length: number;
  tokenizer: TextTokenizer;
  recipe?: InputRecipe;
  rows?: number;
  out: DecodedInputs;
  target: FedInput;
}

const textDecoder: Decoder<TextState> = {
  async prepare(ctx, spec, target, shape, recipe, _files, out) {
    if (!INT_TYPES.has(target.dtype) || shape.length !== 2)
      throw new DataError(
        spec.path,
        `holds text, but input ${target.name} is ${describe(target)}, not integer [batch, sequence] token ids`,
      );
    const tokenizerFile = findTokenizer(ctx, spec, recipe);
    if (!tokenizerFile)
      throw new DataError(
        spec.path,
        'is text, and the tokenizer is missing: give --tokenizer FILE (a Hugging Face tokenizer.json), or put tokenizer.json beside the model',
      );
    const tokenizer = loadTokenizer(tokenizerFile);
    const length = recipe?.text?.length ?? (Number.isNaN(shape[1]) ? 64 : shape[1]);
    out.text = [];
    return {
      shape: [shape[0], length],
      length,
      tokenizer,
      recipe,
      rows: embeddingRows(ctx.index, target.name),
      out,
      target,
    };
  },
  async file(file, s) {
    const texts = readTexts(file, s.recipe?.text?.field);
    if (texts.length === 0) throw new DataError(file, 'holds no text');
    const windows = tokenWindows(texts, s.tokenizer, s.length, s.recipe?.text);
    for (const w of windows) {
      const bad = s.rows === undefined ? undefined : w.ids.find((id) => id >= s.rows!);
      if (bad !== undefined)
        throw new DataError(
          s.tokenizer.file,
          `gives token id ${bad}, beyond the model's vocabulary of ${s.rows} (the embedding of ${s.target.name}): this tokenizer does not belong to the model`,
        );
    }
    s.out.text!.push(...windows);
    return windows.map((w) => ({
      dtype: 'int64',
      dims: s.shape,
      data: BigInt64Array.from(w.ids, (v) => BigInt(v)),
    }));
  },
  async preview(_files, s) {
    const first = s.out.text?.[0];
    const ids = first ? first.ids.filter((_, i) => first.mask[i]).slice(0, 48) : [];
    return { kind: 'text', tokens: ids.map((id) => s.tokenizer.decode([id])) };
  },
};

interface BytesState {
  shape: number[];
  length: number;
  pad: number;
  first?: Uint8Array;
}

const bytesDecoder: Decoder<BytesState> = {
  async prepare(ctx, spec, target, shape, recipe) {
    if (!INT_TYPES.has(target.dtype) && !FLOAT_TYPES.has(target.dtype))
      throw new DataError(spec.path, `holds raw bytes, but input ${target.name} is ${describe(target)}`);
    const last = shape.length - 1;
    const length = recipe?.bytes?.length ?? (Number.isNaN(shape[last]) || last < 0 ? 4096 : shape[last]);
    const rows = embeddingRows(ctx.index, target.name);
    const pad = recipe?.bytes?.pad ?? (rows !== undefined && rows > 256 ? 256 : 0);
    const full = shape.map((d, a) => (a === last ? length : Number.isNaN(d) ? 1 : d));
    if (full.reduce((p, q) => p * q, 1) !== length)
      throw new DataError(
        spec.path,
        `input ${target.name} is ${describe(target)}: raw bytes map to one axis of the file's length`,
      );
    return { shape: full, length, pad };
  },
  async file(file, s) {
    let bytes: Uint8Array;
    try {
      const fd = fs.openSync(file, 'r');
      try {
        bytes = new Uint8Array(s.length);
        const n = fs.readSync(fd, bytes, 0, s.length, 0);
        bytes = bytes.subarray(0, n);
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      throw new DataError(file, `cannot be read (${(e as Error).message})`);
    }
    if (bytes.length === 0) throw new DataError(file, 'is empty');
    s.first ??= bytes.slice(0, 32);
    const data = new Float64Array(s.length).fill(s.pad);
    data.set(bytes);
    return [{ dtype: 'float64', dims: s.shape, data }];
  },
  async preview(_files, s) {
    return { kind: 'bytes', bytes: Array.from(s.first ?? []) };
  },
};

const DECODERS: Record<Exclude<DataKind, 'npy'>, Decoder<never>> = {
  image: imageDecoder as Decoder<never>,
  audio: audioDecoder as Decoder<never>,
  text: textDecoder as Decoder<never>,
  bytes: bytesDecoder as Decoder<never>,
};

/**
 * `.npy`/`.npz` files: arrays named after inputs feed those inputs (every file may hold several); others
 * are samples of the named (or first) input. An array with the input's rank is split along its batch axis
 * into samples; one rank lower is one sample.
 */
function decodeNpyFiles(
  ctx: Context,
  spec: DataSpec,
  files: DataFile[],
  perInput: Map<string, Sample[]>,
  maxSamples: number,
): void {
  const byName = (stem: string) =>
    ctx.inputs.find((i) => i.name === stem || i.name.replace(/[^A-Za-z0-9._-]/g, '_') === stem);
  const fallback = spec.input ? ctx.inputs.find((i) => i.name === spec.input) : ctx.inputs[0];
  for (const f of files) {
    let arrays: { name: string; array: NpyArray }[];
    try {
      arrays = readArrays(f.path);
    } catch (e) {
      if (e instanceof NpyError || e instanceof DataError) {
        ctx.skipped.push({ path: f.path, reason: e instanceof NpyError ? e.reason : e.reason });
        continue;
      }
      throw e;
    }
    for (const { name, array } of arrays) {
      const target = (spec.input ? undefined : byName(name)) ?? fallback;
      if (!target) continue;
      const samples = perInput.get(target.name) ?? [];
      perInput.set(target.name, samples);
      try {
        for (const value of splitBatch(array, target, f.path))
          if (samples.length < maxSamples) samples.push({ value, file: f.path, label: f.label });
      } catch (e) {
        if (e instanceof DataError) ctx.skipped.push({ path: f.path, reason: e.reason });
        else throw e;
      }
    }
  }
}

function readArrays(file: string): { name: string; array: NpyArray }[] {
  const bytes = fs.readFileSync(file);
  const stem = path.basename(file).replace(/\.np[yz]$/i, '');
  if (!file.toLowerCase().endsWith('.npz')) return [{ name: stem, array: parseNpy(bytes, file) }];
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new DataError(file, `is not a readable .npz (zip) file (${(e as Error).message})`);
  }
  return Object.keys(entries)
    .filter((k) => k.endsWith('.npy'))
    .sort()
    .map((k) => ({ name: k.replace(/\.npy$/, ''), array: parseNpy(entries[k], `${file}:${k}`) }));
}

function splitBatch(a: NpyArray, input: FedInput, file: string): RawTensor[] {
  const rank = input.shape.length;
  const b = batchAxis(input);
  const dims = a.shape.length === rank - 1 ? [...a.shape.slice(0, b), 1, ...a.shape.slice(b)] : a.shape;
  if (dims.length !== rank)
    throw new DataError(file, `has shape (${a.shape.join(', ')}); input ${input.name} is ${describe(input)}`);
  input.shape.forEach((d, axis) => {
    if (axis !== b && typeof d === 'number' && d >= 0 && d !== dims[axis])
      throw new DataError(file, `axis ${axis} is ${dims[axis]}; input ${input.name} is ${describe(input)}`);
  });
  const declared = input.shape[b];
  const n = dims[b];
  if ((typeof declared === 'number' && declared >= 0 && declared === n) || n === 1 || b !== 0)
    return [{ dtype: a.kind, dims, data: a.data }];
  const per = a.data.length / n;
  const one = [...dims];
  one[0] = 1;
  return Array.from({ length: n }, (_, i) => ({
    dtype: a.kind,
    dims: one,
    data: a.data.subarray(i * per, (i + 1) * per) as RawTensor['data'],
  }));
}

/** The input a kind of data feeds when none is named. */
function pickInput(kind: DataKind, inputs: FedInput[]): FedInput | undefined {
  const free = inputs.filter(
    (i) => !isStateInput(i.name) && !isSampleRateInput(i.name) && !textCompanion(i.name),
  );
  switch (kind) {
    case 'image':
      return free.find((i) => FLOAT_TYPES.has(i.dtype) && i.shape.length === 4);
    case 'audio':
      return free.find((i) => FLOAT_TYPES.has(i.dtype) && i.shape.length >= 1 && i.shape.length <= 3);
    case 'text':
      return free.find((i) => /input_ids/i.test(i.name)) ?? free.find((i) => INT_TYPES.has(i.dtype));
    default:
      return free.find((i) => INT_TYPES.has(i.dtype)) ?? free[0];
  }
}

function findTokenizer(ctx: Context, spec: DataSpec, recipe?: InputRecipe): string | undefined {
  if (ctx.options.tokenizer) return path.resolve(ctx.options.tokenizer);
  const named = recipe?.text?.tokenizer ?? ctx.recipe?.tokenizer;
  if (named) return path.resolve(ctx.base, named);
  const dataDir = fs.statSync(spec.path).isDirectory() ? spec.path : path.dirname(spec.path);
  return [path.dirname(ctx.modelPath), dataDir]
    .map((d) => path.join(d, 'tokenizer.json'))
    .find((f) => fs.existsSync(f));
}

function dimsOf(input: FedInput, recipe?: InputRecipe): Record<string, number> {
  const out: Record<string, number> = {};
  recipe?.dims?.forEach((v, axis) => {
    const s = dimSymbol(input.name, axis, input.shape[axis] ?? null);
    if (typeof s === 'string') out[s] = v;
  });
  return out;
}

function kindOfSource(source: string | undefined): DataKind | undefined {
  return source === 'npy' ||
    source === 'image' ||
    source === 'audio' ||
    source === 'text' ||
    source === 'bytes'
    ? source
    : undefined;
}

/** `float32[batch, 3, 48, 192]`. */
export function describe(input: FedInput): string {
  return `${input.dtype}[${input.shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

function describeInputs(inputs: FedInput[]): string {
  return inputs.map((i) => `${i.name}: ${describe(i)}`).join('; ');
}

export { isPastInput };
