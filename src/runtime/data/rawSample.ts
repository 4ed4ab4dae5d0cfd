import type { NpyData } from '../readNpy';

/** One input's values for one sample, before they become an onnxruntime tensor. */
export interface RawTensor {
  /** numpy-style name (`float32`, `int64`, …). */
  dtype: string;
  dims: number[];
  data: NpyData | Float32Array;
}

/** A data file or folder entry that could not be used, and why. */
export interface SkippedFile {
  path: string;
  reason: string;
}

/** A problem with the user's data: names the file (or folder) and the reason. */
export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'DataError';
  }
}

/** What kind of data a file holds, from its name. */
export type DataKind = 'npy' | 'image' | 'audio' | 'text' | 'bytes';

const IMAGE = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif', '.svg']);
const AUDIO = new Set(['.wav', '.wave']);
const TEXT = new Set(['.txt', '.jsonl']);

/** The kind of a data file from its extension (anything unknown is raw bytes). */
export function dataKindOf(file: string): DataKind {
  const dot = file.lastIndexOf('.');
  const ext = dot >= 0 ? file.slice(dot).toLowerCase() : '';
  if (ext === '.npy' || ext === '.npz') return 'npy';
  if (IMAGE.has(ext)) return 'image';
  if (AUDIO.has(ext)) return 'audio';
  if (TEXT.has(ext)) return 'text';
  return 'bytes';
}

/** Files a data folder holds that are not data: labels, recipes, tokenizers, hidden files. */
export function isSideFile(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1).toLowerCase();
  return (
    base.startsWith('.') ||
    base === 'labels.json' ||
    base === 'labels.csv' ||
    base.endsWith('.inputs.json') ||
    base === 'tokenizer.json' ||
    base === 'tokenizer_config.json' ||
    base.endsWith('.onnx') ||
    base.endsWith('.onnx.data')
  );
}

/** The minimum and maximum of a sample's values (NaN-free). */
export function rangeOf(t: RawTensor): { min: number; max: number } | undefined {
  const d = t.data;
  if (d.length === 0) return undefined;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < d.length; i++) {
    const v = Number(d[i]);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}
