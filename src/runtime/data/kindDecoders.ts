import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InputRecipe } from '../../core/data/inputRecipe';
import type { DecodeContext, DecodedInputs, Sample } from './decodeDataInputs';
import { decodeImage, imageSize, imageThumbnail } from './decodeImage';
import { audioWindows, decodeWav, waveformSketch } from './decodeWav';
import type { DataFile } from './listDataFiles';
import type { DataPreview, DataSpec } from './loadSamples';
import {
  batchAxis,
  embeddingRows,
  type FedInput,
  FLOAT_TYPES,
  INT_TYPES,
  isSampleRateInput,
} from './modelInputs';
import { DataError, type DataKind, type RawTensor } from './rawSample';
import { loadTokenizer, readTexts, type TextTokenizer, tokenWindows } from './tokenizeText';

/** A decoder of one data kind: checks once what it needs, then turns each file into samples. */
export interface Decoder<S = unknown> {
  prepare(
    ctx: DecodeContext,
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

/** The decoder of each kind of data file but `.npy`/`.npz` (those name their inputs: decodeNpyFiles). */
export const kindDecoders: Record<Exclude<DataKind, 'npy'>, Decoder<never>> = {
  image: imageDecoder as Decoder<never>,
  audio: audioDecoder as Decoder<never>,
  text: textDecoder as Decoder<never>,
  bytes: bytesDecoder as Decoder<never>,
};

function findTokenizer(ctx: DecodeContext, spec: DataSpec, recipe?: InputRecipe): string | undefined {
  if (ctx.options.tokenizer) return path.resolve(ctx.options.tokenizer);
  const named = recipe?.text?.tokenizer ?? ctx.recipe?.tokenizer;
  if (named) return path.resolve(ctx.base, named);
  const dataDir = fs.statSync(spec.path).isDirectory() ? spec.path : path.dirname(spec.path);
  return [path.dirname(ctx.modelPath), dataDir]
    .map((d) => path.join(d, 'tokenizer.json'))
    .find((f) => fs.existsSync(f));
}

/** `float32[batch, 3, 48, 192]`. */
export function describe(input: FedInput): string {
  return `${input.dtype}[${input.shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}
