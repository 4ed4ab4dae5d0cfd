import type { ModelIndex, ValueInfo } from '../onnx/modelIndex';
import { type ConstantReader, integerInputRange } from './integerRange';

/** What a model does, as far as its outputs tell: judged by the task's metrics when known. */
export type TaskKind = 'lm' | 'classification' | 'generic';

/** The task of a model and the tensors that carry it. */
export type DetectedTask =
  | {
      task: 'lm';
      /** The `[batch, seq, vocab]` next-token logits. */
      logits: string;
      /** The `[batch, seq]` token ids the logits predict the continuation of. */
      inputIds: string;
      vocab: number;
      /** An attention mask input (1 = a real token), when the model has one. */
      attentionMask?: string;
      why: string;
    }
  | { task: 'classification'; scores: string; classes: number; why: string }
  | { task: 'generic'; why: string };

const FLOATS = new Set([1, 10, 11, 16]);
const INTS = new Set([6, 7]);

/**
 * The task of a model from its main graph's declared inputs and outputs. A causal language model has an
 * integer `[batch, seq]` input of token ids and a float `[batch, seq, vocab]` output whose vocab equals the
 * rows of the embedding the ids index (or that is named `logits`): the output is read as next-token
 * logits. A classifier has a float `[batch, classes]` output with classes ≥ 2 (the first one found).
 * Everything else is generic.
 */
export function detectTask(index: ModelIndex, readConstant?: ConstantReader): DetectedTask {
  const main = index.graphs[0];
  const initializers = new Set(main.tensorIds.map((id) => index.tensors[id].name));
  const inputs = main.inputs.filter((i) => !initializers.has(i.name));
  const idInputs = inputs.filter(
    (i) =>
      i.dtype !== undefined &&
      INTS.has(i.dtype) &&
      i.shape?.length === 2 &&
      !/mask|position|type/i.test(i.name),
  );
  const fixedLast = (v: ValueInfo): number | undefined => {
    const d = v.shape?.[v.shape.length - 1];
    return typeof d === 'number' && d >= 2 ? d : undefined;
  };
  const floatOutputs = main.outputs.filter((o) => o.dtype !== undefined && FLOATS.has(o.dtype));
  for (const ids of idInputs) {
    const range = integerInputRange(index, ids.name, readConstant);
    for (const out of floatOutputs) {
      const vocab = out.shape?.length === 3 ? fixedLast(out) : undefined;
      if (vocab === undefined) continue;
      const embedding = range !== undefined && range.hi === vocab;
      const named = /logits/i.test(out.name) && /ids|token/i.test(ids.name);
      if (!embedding && !named) continue;
      const mask = inputs.find(
        (i) => /attention_mask/i.test(i.name) && i.dtype !== undefined && INTS.has(i.dtype),
      );
      return {
        task: 'lm',
        logits: out.name,
        inputIds: ids.name,
        vocab,
        ...(mask ? { attentionMask: mask.name } : {}),
        why: embedding
          ? `output ${out.name} [batch, seq, ${vocab}] over the ${vocab} rows ${ids.name} indexes`
          : `output ${out.name} [batch, seq, ${vocab}] named as logits of ${ids.name}`,
      };
    }
  }
  for (const out of floatOutputs) {
    const classes = out.shape?.length === 2 ? fixedLast(out) : undefined;
    if (classes !== undefined)
      return {
        task: 'classification',
        scores: out.name,
        classes,
        why: `output ${out.name} [batch, ${classes}]`,
      };
  }
  return { task: 'generic', why: 'no next-token logits or class scores among the outputs' };
}
