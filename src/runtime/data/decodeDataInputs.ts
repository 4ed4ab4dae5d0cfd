import * as fs from 'node:fs';
import * as path from 'node:path';
import { unzipSync } from 'fflate';
import type { InputRecipe, RecipeFile } from '../../core/data/inputRecipe';
import type { ModelIndex } from '../../core/onnx/modelIndex';
import { type NpyArray, NpyError, parseNpy } from '../readNpy';
import { describe, kindDecoders } from './kindDecoders';
import { type DataFile, listDataFiles, readLabels } from './listDataFiles';
import type { DataOptions, DataPreview, DataSpec } from './loadSamples';
import {
  batchAxis,
  dimSymbol,
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
import type { TokenWindow } from './tokenizeText';

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

/** What decoding reads: the model, its fed inputs, the data specs and recipe; where skipped files go. */
export interface DecodeContext {
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
export interface Sample {
  value: RawTensor;
  file: string;
  label?: number;
}

/**
 * Decodes every data path into samples of the input it feeds (named, or chosen by the data's kind: the
 * image-shaped float input, the first float input for audio, `input_ids` for text, the first integer input
 * for bytes; `.npy` files named after inputs feed those). A file that fails is skipped with its reason.
 */
export async function decodeDataInputs(ctx: DecodeContext): Promise<DecodedInputs> {
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
    const decode = kindDecoders[listing.kind];
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

/**
 * `.npy`/`.npz` files: arrays named after inputs feed those inputs (every file may hold several); others
 * are samples of the named (or first) input. An array with the input's rank is split along its batch axis
 * into samples; one rank lower is one sample.
 */
function decodeNpyFiles(
  ctx: DecodeContext,
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

function describeInputs(inputs: FedInput[]): string {
  return inputs.map((i) => `${i.name}: ${describe(i)}`).join('; ');
}

export { describe, isPastInput };
