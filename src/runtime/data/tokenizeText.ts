import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TextRecipe } from '../../core/data/inputRecipe';
import { DataError } from './rawSample';

/** A loaded Hugging Face tokenizer: encode text to ids, and what the editor shows. */
export interface TextTokenizer {
  file: string;
  encode(text: string, addSpecialTokens: boolean): number[];
  decode(ids: number[]): string;
  /** The largest id the tokenizer can produce, plus one. */
  vocabSize: number;
  padId?: number;
}

interface HfTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
  decode(ids: number[]): string;
}

/**
 * Loads a tokenizer.json (and a tokenizer_config.json beside it, if any) with @huggingface/tokenizers. A
 * missing or unreadable file is a DataError naming it.
 */
export function loadTokenizer(file: string): TextTokenizer {
  if (!fs.existsSync(file))
    throw new DataError(
      file,
      'tokenizer not found (give --tokenizer FILE, or put tokenizer.json beside the model)',
    );
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new DataError(file, `is not a tokenizer.json (${(e as Error).message})`);
  }
  const configFile = path.join(path.dirname(file), 'tokenizer_config.json');
  let config: Record<string, unknown> = {};
  if (fs.existsSync(configFile)) {
    try {
      config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    } catch {
      config = {};
    }
  }
  let tokenizer: HfTokenizer;
  try {
    // The CommonJS build of the ESM package: the bundle resolves it at build time.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Tokenizer } = require('@huggingface/tokenizers') as {
      Tokenizer: new (json: object, config: object) => HfTokenizer;
    };
    tokenizer = new Tokenizer(json, config);
  } catch (e) {
    throw new DataError(file, `cannot be loaded as a Hugging Face tokenizer (${(e as Error).message})`);
  }
  const model = json.model as { vocab?: Record<string, number> | [string, number][] } | undefined;
  const added = (json.added_tokens as { id: number; content: string }[] | undefined) ?? [];
  let vocabSize = 0;
  const vocab = model?.vocab;
  if (Array.isArray(vocab)) vocabSize = vocab.length;
  else if (vocab) for (const id of Object.values(vocab)) vocabSize = Math.max(vocabSize, id + 1);
  for (const t of added) vocabSize = Math.max(vocabSize, t.id + 1);
  const padToken = typeof config.pad_token === 'string' ? config.pad_token : undefined;
  const padId = added.find((t) => t.content === padToken || t.content === '<pad>')?.id;
  return {
    file,
    encode: (text, addSpecialTokens) => tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids,
    decode: (ids) => tokenizer.decode(ids),
    vocabSize,
    padId,
  };
}

/** The texts of a `.txt` (the whole file) or `.jsonl` (one `field` per line) file. */
export function readTexts(file: string, field = 'text'): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new DataError(file, `cannot be read (${(e as Error).message})`);
  }
  if (!file.toLowerCase().endsWith('.jsonl')) return text.trim() ? [text] : [];
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new DataError(file, `line ${i + 1} is not JSON (${(e as Error).message})`);
    }
    const v = (row as Record<string, unknown>)?.[field];
    if (typeof v !== 'string') throw new DataError(file, `line ${i + 1} has no "${field}" text field`);
    out.push(v);
  });
  return out;
}

/** One window of token ids and which of them are real (1) or padding (0). */
export interface TokenWindow {
  ids: number[];
  mask: number[];
}

/**
 * Token windows of `length` ids every `stride` over each text (at most `maxWindows` in all); the last
 * window of a text, and a text shorter than a window, is padded with `pad` (mask 0).
 */
export function tokenWindows(
  texts: string[],
  tokenizer: TextTokenizer,
  length: number,
  recipe: TextRecipe = {},
): TokenWindow[] {
  const stride = recipe.stride ?? length;
  const maxWindows = recipe.maxWindows ?? 8;
  const pad = recipe.pad ?? tokenizer.padId ?? 0;
  const out: TokenWindow[] = [];
  for (const text of texts) {
    const ids = tokenizer.encode(text, recipe.addSpecialTokens ?? true);
    for (let start = 0; out.length < maxWindows; start += stride) {
      if (start > 0 && start >= ids.length) break;
      const window = ids.slice(start, start + length);
      const mask = window.map(() => 1);
      while (window.length < length) {
        window.push(pad);
        mask.push(0);
      }
      out.push({ ids: window, mask });
      if (start + length >= ids.length) break;
    }
    if (out.length >= maxWindows) break;
  }
  return out;
}
