import type { ModelIndex, ValueInfo } from '../../core/onnx/modelIndex';
import { dataTypeName } from '../../core/tensor/dataType';

/** One input a caller feeds: name, numpy-style type, declared shape. */
export interface FedInput {
  name: string;
  dtype: string;
  shape: (number | string | null)[];
}

/** The main graph's inputs a caller feeds (initializers listed as inputs are not among them). */
export function fedInputs(index: ModelIndex): FedInput[] {
  const main = index.graphs[0];
  const initializers = new Set(main.tensorIds.map((id) => index.tensors[id].name));
  return main.inputs
    .filter((i: ValueInfo) => !initializers.has(i.name))
    .map((i) => ({
      name: i.name,
      dtype: i.dtype === undefined ? 'unknown' : dataTypeName(i.dtype),
      shape: i.shape ?? [],
    }));
}

export const FLOAT_TYPES = new Set(['float32', 'float16', 'float64']);
export const INT_TYPES = new Set(['int64', 'int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'uint64']);

/** Recurrent state inputs a fresh sequence starts from zeros (h, c, state, hidden, cell …). */
export function isStateInput(name: string): boolean {
  return /(^|[._/-])(h|c|h0|c0|hx|cx)([._/-]?\d*)$|state|hidden|cell|cache/i.test(name) && !isPastInput(name);
}

/** Past key/value inputs of a decoder (ORT GenAI `past_N`, Optimum `past_key_values.N.key|value`). */
export function isPastInput(name: string): boolean {
  return /^past(_key_values)?[._]|^past_\d+$|^past$/i.test(name);
}

/** An audio model's sample-rate input (silero's `sr`). */
export function isSampleRateInput(name: string): boolean {
  return /^(sr|sample_?rate|sampling_rate)$/i.test(name);
}

/** Companions of token ids that a text recipe fills. */
export type TextCompanion =
  | 'attention_mask'
  | 'position_ids'
  | 'token_type_ids'
  | 'past'
  | 'use_cache_branch';

/** Which companion of `input_ids` an input is, by its name, if any. */
export function textCompanion(name: string): TextCompanion | undefined {
  if (/attention_mask/i.test(name)) return 'attention_mask';
  if (/position_ids/i.test(name)) return 'position_ids';
  if (/token_type_ids/i.test(name)) return 'token_type_ids';
  if (isPastInput(name)) return 'past';
  if (/use_cache_branch/i.test(name)) return 'use_cache_branch';
  return undefined;
}

/** Where a dim's value comes from: a number, or a symbol to look up. */
export function dimSymbol(input: string, axis: number, d: number | string | null): string | number {
  if (typeof d === 'number' && d >= 0) return d;
  return typeof d === 'string' && d ? d : `${input}:${axis}`;
}

/** Is this axis the batch axis (axis 0 unless a dim is named like batch)? */
export function batchAxis(input: FedInput): number {
  const named = input.shape.findIndex((d) => typeof d === 'string' && /batch/i.test(d));
  if (named >= 0) return named;
  return 0;
}

/**
 * The shape fed for `input` with symbols resolved from `symbols` (by dim name), else by `fallback(axis,
 * symbol)`; undefined from the fallback leaves the dim unresolved (NaN) for the caller to report.
 */
export function resolveShape(
  input: FedInput,
  symbols: Record<string, number>,
  fallback: (axis: number, symbol: string) => number | undefined,
): number[] {
  return input.shape.map((d, axis) => {
    const s = dimSymbol(input.name, axis, d);
    if (typeof s === 'number') return s;
    const v = symbols[s] ?? fallback(axis, s);
    return v ?? NaN;
  });
}

/** The rows of the smallest embedding table an input indexes through Gather (its vocabulary), if any. */
export function embeddingRows(index: ModelIndex, input: string): number | undefined {
  const passThrough = new Set(['Cast', 'Unsqueeze', 'Reshape', 'Squeeze', 'Flatten', 'Identity']);
  let rows: number | undefined;
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const n of index.nodes) {
      n.inputs.forEach((x, slot) => {
        if (x !== name) return;
        let table: string | undefined;
        if (n.opType === 'Gather' && slot === 1) table = n.inputs[0];
        if (n.opType === 'EmbedLayerNormalization' && (slot === 0 || slot === 1))
          table = n.inputs[slot === 0 ? 2 : 4];
        if (table) {
          const t = index.tensors.find((x2) => x2.name === table);
          if (t && t.dims.length >= 1) rows = Math.min(rows ?? Infinity, t.dims[0]);
        } else if (passThrough.has(n.opType) && slot === 0) visit(n.outputs[0]);
      });
    }
  };
  visit(input);
  return rows;
}
