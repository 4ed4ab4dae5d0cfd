import type { ModelIndex, NodeInfo, TensorInfo } from '../onnx/modelIndex';
import { DataType } from '../tensor/dataType';

/** How a language model's head is stored (`--lm-head`): bits of MatMulNBits, or left in float. */
export type LmHeadPrecision = 2 | 4 | 8 | 'float';

/**
 * Why the LM head gets its own precision, for reports and usage text. ONNX Runtime's GenAI builder keeps
 * the head at 8 bits for the same reason (a 4-bit head made a released Phi-4-mini repeat itself).
 */
export const LM_HEAD_REASON =
  'the LM head decides every next token: at 4 bits small logit errors flip the argmax and a model can ' +
  'start repeating itself, so it stays at 8 bits unless --lm-head says otherwise';

/** Fewer outputs than this make a classifier's head, not a language model's. */
const MIN_VOCAB = 256;

/** Ops that hold a layer of their own: the head is the last one before the logits. */
const LAYERS = new Set(['MatMul', 'Gemm', 'MatMulNBits', 'Conv', 'Attention', 'GroupQueryAttention']);

/**
 * The weights of a language model's head: constant 2-D weights of MatMul/Gemm nodes of the main graph
 * that produce vocabulary-wide logits (≥ MIN_VOCAB outputs): either directly a graph output named like
 * `logits`, or a projection to as many outputs as a token embedding table has rows (Gather of a float
 * [V, H] initializer on axis 0, or the word embedding of com.microsoft::EmbedLayerNormalization) whose
 * result becomes a graph output within four ops and no other layer (an MLP as wide as the vocabulary
 * feeds its down projection). A tied head reads the embedding through Transpose: no constant weight, no entry.
 */
export function lmHeadWeights(index: ModelIndex): TensorInfo[] {
  const main = index.graphs[0];
  if (!main) return [];
  const vocab = new Set<number>();
  for (const t of index.tensors) {
    if (t.dims.length !== 2 || (t.dtype !== DataType.FLOAT && t.dtype !== DataType.FLOAT16)) continue;
    const isTable = t.consumers.some(({ nodeId, input }) => {
      const n = index.nodes[nodeId];
      if (n.opType === 'Gather' && n.domain === '')
        return input === 0 && (n.attributes.find((a) => a.name === 'axis')?.i ?? 0) === 0;
      return n.opType === 'EmbedLayerNormalization' && n.domain === 'com.microsoft' && input === 2;
    });
    if (isTable) vocab.add(t.dims[0]);
  }
  const outputs = new Set(main.outputs.map((o) => o.name));
  const logits = new Set([...outputs].filter((name) => /logits/i.test(name)));
  const readers = new Map<string, NodeInfo[]>();
  for (const id of main.nodeIds)
    for (const name of index.nodes[id].inputs)
      readers.set(name, [...(readers.get(name) ?? []), index.nodes[id]]);
  /** Whether `value` becomes a graph output through a few ops with no other weighted layer between. */
  const reachesOutput = (value: string, depth: number): boolean =>
    outputs.has(value) ||
    (depth > 0 &&
      (readers.get(value) ?? []).some(
        (n) => !LAYERS.has(n.opType) && n.outputs.some((o) => reachesOutput(o, depth - 1)),
      ));
  const heads = new Map<number, TensorInfo>();
  for (const t of index.tensors) {
    if (t.dims.length !== 2 || t.graph !== main.path) continue;
    for (const { nodeId, input } of t.consumers) {
      const n = index.nodes[nodeId];
      if (input !== 1 || n.domain !== '' || (n.opType !== 'MatMul' && n.opType !== 'Gemm')) continue;
      const transB = n.opType === 'Gemm' && (n.attributes.find((a) => a.name === 'transB')?.i ?? 0) !== 0;
      const N = transB ? t.dims[0] : t.dims[1];
      const out = n.outputs[0];
      if (N >= MIN_VOCAB && (logits.has(out) || (vocab.has(N) && reachesOutput(out, 4)))) heads.set(t.id, t);
    }
  }
  return [...heads.values()];
}
