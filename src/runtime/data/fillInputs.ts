import type { RecipeFile } from '../../core/data/inputRecipe';
import type { Feeds } from '../verifyModels';
import type { DecodedInputs } from './decodeDataInputs';
import type { DataOptions } from './loadSamples';
import {
  batchAxis,
  dimSymbol,
  type FedInput,
  isSampleRateInput,
  isStateInput,
  resolveShape,
  textCompanion,
} from './modelInputs';
import { DataError, type RawTensor } from './rawSample';

/** Every input's values per sample: the decoded data, the companions filled, the rest synthesized. */
export interface FilledInputs {
  values: Map<string, RawTensor[]>;
  sources: Map<string, string>;
  notes: Map<string, string>;
  /** Synthesized feeds (one per sample) for inputs nothing else fills. */
  synthesized?: Feeds[];
}

/**
 * Fills the inputs the data does not feed, per sample: a recipe or --fill constant; the audio rate for a
 * sample-rate input; for text, the attention mask (1 on tokens, 0 on padding, past length 0), position ids
 * 0…n−1, zero token types, empty past key/values (past length 0, batch 1, heads and head size from the
 * fixed dims) and `use_cache_branch` false; zeros for recurrent states; anything else is synthesized
 * (`options.synthesize`, seed 1). A dim nothing fixes is a DataError naming the input.
 */
export async function fillOtherInputs(
  inputs: FedInput[],
  decoded: DecodedInputs,
  recipe: RecipeFile | undefined,
  options: DataOptions,
): Promise<FilledInputs> {
  const values = new Map(decoded.values);
  const sources = new Map(decoded.sources);
  const notes = new Map(decoded.notes);
  const n = decoded.count;
  const text = decoded.text;
  // Tokens per window: a grouped window (fixed batch) holds several.
  const seqLength = text?.[0] ? decoded.values.values().next().value?.[0]?.dims.at(-1) : undefined;
  let synthesized: Feeds[] | undefined;
  for (const input of inputs) {
    if (values.has(input.name)) continue;
    const companion = textCompanion(input.name);
    const shape = (pastZero: boolean) =>
      resolveShape(input, decoded.symbols, (axis, symbol) => {
        if (axis === batchAxis(input) || /batch/i.test(symbol)) return 1;
        if (pastZero && /past/i.test(symbol)) return 0;
        if (/past/i.test(symbol)) return 0;
        if (seqLength !== undefined && /seq|total|length|len/i.test(symbol)) return seqLength;
        return undefined;
      });
    const constant =
      recipe?.inputs[input.name]?.source === 'constant'
        ? recipe.inputs[input.name].value
        : options.fill?.[input.name];
    const fixed = (dims: number[], v: number, source: string, note?: string) => {
      check(input, dims);
      const count = dims.reduce((p, q) => p * q, 1);
      values.set(
        input.name,
        Array.from({ length: n }, () => ({ dtype: 'float64', dims, data: new Float64Array(count).fill(v) })),
      );
      sources.set(input.name, source);
      if (note) notes.set(input.name, note);
    };
    if (constant !== undefined) {
      fixed(shape(true), constant, 'constant');
    } else if (isSampleRateInput(input.name) && decoded.audioRate !== undefined) {
      fixed(shape(true), decoded.audioRate, 'audio', `the audio rate, ${decoded.audioRate} Hz`);
    } else if (text && companion) {
      const dims = shape(true);
      if (companion === 'past' || companion === 'token_type_ids' || companion === 'use_cache_branch') {
        fixed(
          dims,
          0,
          'text',
          companion === 'past'
            ? 'empty past (length 0)'
            : companion === 'use_cache_branch'
              ? 'false'
              : 'zeros',
        );
      } else {
        check(input, dims);
        values.set(
          input.name,
          text.slice(0, n).map((w) => ({
            dtype: 'float64',
            dims,
            data: Float64Array.from(
              companion === 'attention_mask' ? w.mask : w.ids.map((_, i) => i % (dims[dims.length - 1] || 1)),
            ),
          })),
        );
        sources.set(input.name, 'text');
        notes.set(input.name, companion === 'attention_mask' ? '1 on tokens, 0 on padding' : '0…n−1');
      }
    } else if (isStateInput(input.name)) {
      fixed(shape(true), 0, 'zeros', 'a fresh state');
    } else {
      if (!options.synthesize)
        throw new DataError(input.name, `input ${input.name} has no data and nothing to synthesize it with`);
      synthesized ??= await options.synthesize(n, 1);
      sources.set(input.name, 'synthetic');
    }
  }
  return { values, sources, notes, synthesized };
}

function check(input: FedInput, dims: number[]): void {
  const bad = dims.findIndex((d) => Number.isNaN(d));
  if (bad >= 0) {
    const s = dimSymbol(input.name, bad, input.shape[bad]);
    throw new DataError(
      input.name,
      `input ${input.name}: the size of dim ${bad} (${String(s)}) cannot be mapped from the data; give it with --dims ${String(s)}=N or in the recipe`,
    );
  }
}
