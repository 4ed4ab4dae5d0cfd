/**
 * Attention heads where the graph shows them: the output projection (MatMul/Gemm with a constant weight)
 * reads the heads merged back, `Reshape ← Transpose [0,2,1,3] ← MatMul(scores, V)`, and V was split into
 * heads by `Transpose [0,2,1,3] ← Reshape` to [B, S, H, D] (a constant shape, or a Concat whose last two
 * parts are constants, as exporters write it). Then input channel c of the projection belongs to head
 * ⌊c / D⌋, and per-channel activations give per-head figures. `compact --heads` removes heads only where
 * the whole block matches exactly (findHeadBlocks.ts); without it they are measured and left whole.
 */
import type { ModelIndex, NodeInfo, TensorInfo } from '../onnx/modelIndex';

/** An attention block's heads as its output projection reads them. */
export interface HeadGroup {
  /** The output projection's node name (else its weight's). */
  name: string;
  op: string;
  /** The output projection's weight and the axis of its dims that holds the input channels. */
  weight: number;
  channelAxis: number;
  /** The activation the projection reads: [.., heads · headDim], head-major. */
  input: string;
  heads: number;
  headDim: number;
}

/** Why compact leaves heads whole (said wherever heads are reported). */
export const HEADS_LEFT_WHOLE =
  'attention heads are measured, not removed: compact removes them only with --heads, where the Reshape/Concat constants that encode the head count can be rewritten safely';

/** Every output projection of the main graph that reads merged attention heads. */
export function findHeadGroups(index: ModelIndex, read: (t: TensorInfo) => Float32Array): HeadGroup[] {
  const main = index.graphs[0];
  const constants = new Map(index.tensors.filter((t) => t.graph === 'main').map((t) => [t.name, t]));
  const producer = new Map<string, NodeInfo>();
  for (const id of main.nodeIds) for (const o of index.nodes[id].outputs) producer.set(o, index.nodes[id]);
  const standard = (n: NodeInfo | undefined) => n && (n.domain === '' || n.domain === 'ai.onnx');
  const from = (name: string | undefined, op: string): NodeInfo | undefined => {
    const n = name === undefined ? undefined : producer.get(name);
    return standard(n) && n!.opType === op ? n : undefined;
  };
  const swapsHeads = (n: NodeInfo | undefined) => {
    const perm = n?.attributes.find((a) => a.name === 'perm')?.ints;
    return !!perm && perm.join(',') === '0,2,1,3';
  };
  const small = (name: string): number[] | undefined => {
    const t = constants.get(name);
    return t && t.count <= 16 ? Array.from(read(t)) : undefined;
  };
  /** The last two entries of a Reshape's shape input: H and D. */
  const headShape = (shape: string): [number, number] | undefined => {
    const whole = small(shape);
    if (whole) return whole.length === 4 ? [whole[2], whole[3]] : undefined;
    const concat = from(shape, 'Concat');
    if (!concat || concat.inputs.length !== 4) return undefined;
    const h = small(concat.inputs[2]);
    const d = small(concat.inputs[3]);
    return h?.length === 1 && d?.length === 1 ? [h[0], d[0]] : undefined;
  };

  const groups: HeadGroup[] = [];
  for (const id of main.nodeIds) {
    const n = index.nodes[id];
    if (!standard(n) || (n.opType !== 'MatMul' && n.opType !== 'Gemm')) continue;
    const w = constants.get(n.inputs[1] ?? '');
    if (!w || w.dims.length !== 2 || constants.has(n.inputs[0])) continue;
    const attr = (name: string) => n.attributes.find((a) => a.name === name)?.i ?? 0;
    if (n.opType === 'Gemm' && attr('transA')) continue;
    const channelAxis = n.opType === 'Gemm' && attr('transB') ? 1 : 0;
    const merge = from(n.inputs[0], 'Reshape');
    const back = from(merge?.inputs[0], 'Transpose');
    const context = swapsHeads(back) ? from(back!.inputs[0], 'MatMul') : undefined;
    const v = from(context?.inputs[1], 'Transpose');
    const split = swapsHeads(v) ? from(v!.inputs[0], 'Reshape') : undefined;
    const hd = split ? headShape(split.inputs[1]) : undefined;
    if (!hd) continue;
    const [heads, headDim] = hd;
    if (!(Number.isInteger(heads) && heads >= 2 && headDim >= 1 && heads * headDim === w.dims[channelAxis]))
      continue;
    groups.push({
      name: n.name || w.name,
      op: n.opType,
      weight: w.id,
      channelAxis,
      input: n.inputs[0],
      heads,
      headDim,
    });
  }
  return groups;
}
