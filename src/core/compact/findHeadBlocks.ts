/**
 * Attention blocks whose heads can be removed for real: besides the pattern findHeads sees (the output
 * projection reads `Reshape ← Transpose [0,2,1,3] ← MatMul(probabilities, V)`), the whole block must match
 * exactly: Q, K and V each come from their own MatMul/Gemm with a constant weight (and an optional constant
 * bias Add), are split to [B,S,H,D] by a Reshape whose shape is a constant or a Concat with a constant
 * tail, Q and K meet in `MatMul(Q·[0,2,1,3], K·[0,2,3,1])`, only scalar scales and a mask that is provably
 * broadcast over the heads sit between the scores and the Softmax over the keys, and every per-head tensor
 * is read by the next node of the pattern and by nothing else. Then removing a head's D channels from Q, K,
 * V and the output projection, and rewriting the H and H·D entries of the shapes, equals zeroing the head.
 */
import type { ModelIndex, NodeInfo, TensorInfo } from '../onnx/modelIndex';
import { DataType } from '../tensor/dataType';
import { graphTables } from './graphTables';
import type { HeadGroup } from './findHeads';
import type { LeftWhole } from './findUnitGroups';

/** A float tensor whose H·D axis loses the removed heads' channels. */
export interface HeadSlice {
  tensor: number;
  axis: number;
}

/** An int64 shape constant entry that holds H ('heads') or H·D ('width'), and the block nodes reading it. */
export interface ShapeEntry {
  tensor: number;
  entry: number;
  holds: 'heads' | 'width';
  readers: number[];
}

/** An attention block whose heads can be removed. */
export interface HeadBlock {
  group: HeadGroup;
  /** Position of the output projection in the graph (for --keep-first-last). */
  order: number;
  /** Q, K, V weights and biases (their output channels) and the output projection's weight (input rows). */
  slices: HeadSlice[];
  /** V's weight: with the output projection's, the magnitude importance. */
  value: HeadSlice;
  shapes: ShapeEntry[];
  /** A Concat whose last part (the merged width, computed at runtime) becomes a constant H'·D. */
  widthPart?: { nodeId: number; input: number };
  /** Values between the projections and the output projection: their declared shapes change. */
  values: string[];
}

const FUSED = new Set(['Attention', 'MultiHeadAttention', 'GroupQueryAttention', 'PackedAttention']);

/** Matches every head group's block; the ones that do not match exactly are listed with the reason. */
export function findHeadBlocks(
  index: ModelIndex,
  groups: readonly HeadGroup[],
  read: (t: TensorInfo) => Float32Array,
): { blocks: HeadBlock[]; leftWhole: LeftWhole[] } {
  const { main, producer, readers, constants, inputs, outputs } = graphTables(index);
  const opset = index.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 1;
  const standard = (n: NodeInfo | undefined): n is NodeInfo =>
    !!n && (n.domain === '' || n.domain === 'ai.onnx');
  const ints = (n: NodeInfo, name: string) => n.attributes.find((a) => a.name === name)?.ints;
  const int = (n: NodeInfo, name: string) => n.attributes.find((a) => a.name === name)?.i;
  const scalar = (name: string) => constants.get(name)?.count === 1;

  const blocks: HeadBlock[] = [];
  const leftWhole: LeftWhole[] = [];
  for (const id of main.nodeIds) {
    const n = index.nodes[id];
    if (FUSED.has(n.opType))
      leftWhole.push({
        name: n.name || n.outputs[0],
        op: n.opType,
        reason: `a fused ${n.domain || 'ai.onnx'} ${n.opType} op: its heads cannot be rewritten`,
      });
  }

  // Output projections that read `Reshape ← Transpose ← MatMul` (merged heads' shape) where findHeads sees no
  // heads: listed, so the user learns why nothing was removed there.
  const seen = new Set(groups.map((g) => g.name));
  for (const id of main.nodeIds) {
    const n = index.nodes[id];
    if ((n.opType !== 'MatMul' && n.opType !== 'Gemm') || !constants.has(n.inputs[1] ?? '')) continue;
    const merge = producer.get(n.inputs[0]);
    const back = merge?.opType === 'Reshape' ? producer.get(merge.inputs[0]) : undefined;
    const context = back?.opType === 'Transpose' ? producer.get(back.inputs[0]) : undefined;
    const name = n.name || n.inputs[1];
    if (context?.opType !== 'MatMul' || seen.has(name)) continue;
    leftWhole.push({
      name,
      op: n.opType,
      reason: `the graph does not show heads here: the merge Transpose [${(ints(back!, 'perm') ?? []).join(',')}] and Reshape do not undo a split of V to [B,S,H,D] by Transpose [0,2,1,3] and a constant shape`,
    });
  }

  for (const g of groups) {
    const wName = index.tensors[g.weight].name;
    const out = main.nodeIds
      .map((id) => index.nodes[id])
      .find((n) => n.inputs[0] === g.input && n.inputs[1] === wName);
    if (!out) continue;
    const { heads: H, headDim: D } = g;
    const values: string[] = [];
    const slices: HeadSlice[] = [];
    const shapes: ShapeEntry[] = [];
    let widthPart: HeadBlock['widthPart'];
    let value: HeadSlice | undefined;
    const fail = (reason: string) => leftWhole.push({ name: g.name, op: g.op, reason });

    /** `name`'s producer when it is standard op `op`, and `name` is read by `by` only. */
    const step = (name: string, op: string | string[], by: NodeInfo): NodeInfo | string => {
      const p = producer.get(name);
      const ops = typeof op === 'string' ? [op] : op;
      if (!standard(p) || !ops.includes(p.opType))
        return `${p ? `${p.opType} ${p.name || name}` : name} is not the ${ops.join('/')} the pattern needs`;
      const r = readers.get(name) ?? [];
      if (outputs.has(name) || r.length !== 1 || r[0] !== by.id)
        return `${name} is read outside the attention pattern (a graph output, a cache, rotary or another branch)`;
      values.push(name);
      return p;
    };
    /** Walks back over scalar Mul/Div scales. */
    const unscale = (name: string, by: NodeInfo): { name: string; by: NodeInfo } | string => {
      for (;;) {
        const p = producer.get(name);
        if (!standard(p) || (p.opType !== 'Mul' && p.opType !== 'Div')) return { name, by };
        const other = p.opType === 'Div' ? [1] : [0, 1];
        const at = other.find((i) => scalar(p.inputs[i]));
        if (at === undefined) return { name, by };
        const s = step(name, p.opType, by);
        if (typeof s === 'string') return s;
        name = p.inputs[1 - at];
        by = p;
      }
    };
    /** Shape of a small runtime tensor as "is this dim 1", traced to a graph input; undefined if unknown. */
    const ones = (name: string, depth = 0): boolean[] | undefined => {
      const c = constants.get(name);
      if (c) return c.dims.map((d) => d === 1);
      const input = inputs.get(name);
      if (input) return input.shape?.map((d) => d === 1);
      const p = producer.get(name);
      if (!standard(p) || depth > 12) return undefined;
      if (['Cast', 'Neg', 'Not', 'Identity', 'Sqrt', 'Exp', 'Log', 'Abs'].includes(p.opType))
        return ones(p.inputs[0], depth + 1);
      if (['Add', 'Sub', 'Mul', 'Div'].includes(p.opType)) {
        const at = [0, 1].find((i) => scalar(p.inputs[i]));
        return at === undefined ? undefined : ones(p.inputs[1 - at], depth + 1);
      }
      if (p.opType === 'Unsqueeze') {
        const inner = ones(p.inputs[0], depth + 1);
        const axesT = p.inputs[1] ? constants.get(p.inputs[1]) : undefined;
        const axes = axesT ? Array.from(read(axesT)) : ints(p, 'axes');
        if (!inner || !axes) return undefined;
        const rank = inner.length + axes.length;
        const at = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
        const shape: boolean[] = [];
        let k = 0;
        for (let i = 0; i < rank; i++) shape.push(at.has(i) ? true : inner[k++]);
        return shape;
      }
      return undefined;
    };
    /** A mask added to [B,H,S,S] scores that is the same for every head. */
    const sameForEveryHead = (name: string) => {
      const s = ones(name);
      return !!s && s.length <= 4 && (s.length < 3 || s[s.length - 3]);
    };
    /** One element for sure: a 1-element constant, or Unsqueeze(Gather(.., scalar index)). */
    const oneElement = (name: string): boolean => {
      const c = constants.get(name);
      if (c) return c.count === 1;
      const u = producer.get(name);
      if (!standard(u) || u.opType !== 'Unsqueeze') return false;
      const gather = producer.get(u.inputs[0]);
      return (
        standard(gather) && gather.opType === 'Gather' && constants.get(gather.inputs[1])?.dims.length === 0
      );
    };
    const int64Entry = (name: string) => {
      const c = constants.get(name);
      return c && c.dtype === DataType.INT64 ? Array.from(read(c)) : undefined;
    };

    /** The split of one of Q, K, V: Reshape [B,S,H,D] ← (scale) ← (bias Add) ← projection. */
    const split = (reshape: NodeInfo): string | undefined => {
      const shape = reshape.inputs[1];
      const whole = int64Entry(shape);
      if (whole) {
        if (whole.length !== 4 || whole[2] !== H || whole[3] !== D)
          return `the split shape ${shape} [${whole.join(',')}] does not hold ${H} heads × ${D} (K/V shared across heads, as in GQA?)`;
        if (whole.slice(1).includes(0)) return `the split shape ${shape} has a 0 entry it cannot prove`;
        shapes.push({ tensor: constants.get(shape)!.id, entry: 2, holds: 'heads', readers: [reshape.id] });
      } else {
        const concat = step(shape, 'Concat', reshape);
        if (typeof concat === 'string') return `the split shape ${shape} is computed at runtime`;
        const h = int64Entry(concat.inputs[2] ?? '');
        const d = int64Entry(concat.inputs[3] ?? '');
        if (concat.inputs.length !== 4 || int(concat, 'axis') || h?.length !== 1 || d?.length !== 1)
          return `the split shape ${shape} is a Concat without a constant [H, D] tail`;
        if (h[0] !== H || d[0] !== D)
          return `the split shape ${shape} holds ${h[0]} heads × ${d[0]}, not ${H} × ${D} (K/V shared across heads, as in GQA?)`;
        if (!concat.inputs.slice(0, 2).every(oneElement) || int64Entry(concat.inputs[1])?.[0] === 0)
          return `the split shape ${shape} has leading parts it cannot prove`;
        shapes.push({
          tensor: constants.get(concat.inputs[2])!.id,
          entry: 0,
          holds: 'heads',
          readers: [concat.id],
        });
      }
      let at = unscale(reshape.inputs[0], reshape);
      if (typeof at === 'string') return at;
      const p = producer.get(at.name);
      if (standard(p) && p.opType === 'Add') {
        const b = [0, 1].find((i) => constants.has(p!.inputs[i]));
        if (b === undefined) return `${p.name || at.name} adds a runtime tensor to the projection`;
        const bias = constants.get(p.inputs[b])!;
        if (bias.dtype !== DataType.FLOAT || bias.count !== H * D || bias.dims.at(-1) !== H * D)
          return `the bias ${bias.name} is not a float32 [${H * D}] vector`;
        if ((readers.get(bias.name) ?? []).length !== 1)
          return `the bias ${bias.name} is shared with other nodes`;
        const s = step(at.name, 'Add', at.by);
        if (typeof s === 'string') return s;
        slices.push({ tensor: bias.id, axis: bias.dims.length - 1 });
        at = { name: p.inputs[1 - b], by: p };
      }
      const proj = step(at.name, ['MatMul', 'Gemm'], at.by);
      if (typeof proj === 'string') return proj;
      const w = constants.get(proj.inputs[1]);
      if (!w || w.dims.length !== 2 || w.dtype !== DataType.FLOAT || constants.has(proj.inputs[0]))
        return `the projection ${proj.name} has no float32 2-D constant weight`;
      if ((readers.get(w.name) ?? []).length !== 1) return `the weight ${w.name} is shared with other nodes`;
      if (proj.opType === 'Gemm' && int(proj, 'transA'))
        return `the projection ${proj.name} transposes its input`;
      const axis = proj.opType === 'Gemm' && int(proj, 'transB') ? 0 : 1;
      if (w.dims[axis] !== H * D)
        return `the projection ${proj.name} makes ${w.dims[axis]} channels, not ${H * D} (packed Q/K/V?)`;
      slices.push({ tensor: w.id, axis });
      if (reshape === vSplit) value = { tensor: w.id, axis };
      const c = proj.opType === 'Gemm' ? constants.get(proj.inputs[2] ?? '') : undefined;
      if (proj.opType === 'Gemm' && proj.inputs[2] && !c)
        return `the projection ${proj.name} adds a runtime bias`;
      if (c && c.count !== 1) {
        if (c.dtype !== DataType.FLOAT || c.count !== H * D || c.dims.at(-1) !== H * D)
          return `the bias ${c.name} is not a float32 [${H * D}] vector`;
        if ((readers.get(c.name) ?? []).length !== 1) return `the bias ${c.name} is shared with other nodes`;
        slices.push({ tensor: c.id, axis: c.dims.length - 1 });
      }
      return undefined;
    };

    let vSplit: NodeInfo | undefined;
    const match = (): string | undefined => {
      // Output projection ← merge Reshape ← Transpose ← context MatMul.
      const merge = step(g.input, 'Reshape', out);
      if (typeof merge === 'string') return merge;
      const back = step(merge.inputs[0], 'Transpose', merge);
      if (typeof back === 'string') return back;
      const context = step(back.inputs[0], 'MatMul', back);
      if (typeof context === 'string') return context;
      const vt = step(context.inputs[1], 'Transpose', context);
      if (typeof vt === 'string') return vt;
      const vr = step(vt.inputs[0], 'Reshape', vt);
      if (typeof vr === 'string') return vr;
      vSplit = vr;
      // The merge shape: its last entry is H·D (the output projection reads that many channels).
      const mergeShape = merge.inputs[1];
      const whole = int64Entry(mergeShape);
      if (whole) {
        const last = whole.length - 1;
        if (whole[last] !== H * D && whole[last] !== -1)
          return `the merge shape ${mergeShape} [${whole.join(',')}] does not end in ${H * D}`;
        if (whole.slice(2, last).includes(0))
          return `the merge shape ${mergeShape} has a 0 entry it cannot prove`;
        if (whole[last] === H * D)
          shapes.push({
            tensor: constants.get(mergeShape)!.id,
            entry: last,
            holds: 'width',
            readers: [merge.id],
          });
      } else {
        const concat = step(mergeShape, 'Concat', merge);
        if (typeof concat === 'string') return `the merge shape ${mergeShape} is computed at runtime`;
        if (!concat.inputs.every(oneElement) || int(concat, 'axis'))
          return `the merge shape ${mergeShape} is a Concat of parts it cannot prove`;
        const last = concat.inputs.length - 1;
        if (concat.inputs.slice(2, last).some((i) => int64Entry(i)?.[0] === 0))
          return `the merge shape ${mergeShape} has a 0 entry it cannot prove`;
        const tail = int64Entry(concat.inputs[last]);
        if (tail && tail[0] === H * D)
          shapes.push({
            tensor: constants.get(concat.inputs[last])!.id,
            entry: 0,
            holds: 'width',
            readers: [concat.id],
          });
        else if (!tail) widthPart = { nodeId: concat.id, input: last };
        else if (tail[0] !== -1) return `the merge shape ${mergeShape} does not end in ${H * D}`;
      }
      // Probabilities: Softmax over the keys ← scalar scales and head-broadcast masks ← MatMul(Q, K).
      const softmax = step(context.inputs[0], 'Softmax', context);
      if (typeof softmax === 'string') return softmax;
      const axis = int(softmax, 'axis') ?? (opset >= 13 ? -1 : 1);
      if (axis !== -1 && axis !== 3) return `the Softmax ${softmax.name} is not over the keys`;
      let name = softmax.inputs[0];
      let by: NodeInfo = softmax;
      let scores: NodeInfo | undefined;
      for (let i = 0; i < 8 && !scores; i++) {
        const p = producer.get(name);
        if (standard(p) && p.opType === 'MatMul') {
          const s = step(name, 'MatMul', by);
          if (typeof s === 'string') return s;
          scores = s;
          break;
        }
        if (!standard(p) || !['Add', 'Sub', 'Mul', 'Div'].includes(p.opType))
          return `${p ? p.opType : name} between the scores and the Softmax is not a scale or a mask`;
        const at = [0, 1].find((k) => sameForEveryHead(p.inputs[1 - k]));
        if (at === undefined)
          return `${p.opType} ${p.name} between the scores and the Softmax reads a tensor that may differ per head`;
        const s = step(name, p.opType, by);
        if (typeof s === 'string') return s;
        name = p.inputs[at];
        by = p;
      }
      if (!scores) return 'no scores MatMul before the Softmax';
      const q = unscale(scores.inputs[0], scores);
      const k = unscale(scores.inputs[1], scores);
      if (typeof q === 'string') return q;
      if (typeof k === 'string') return k;
      const qt = step(q.name, 'Transpose', q.by);
      const kt = step(k.name, 'Transpose', k.by);
      if (typeof qt === 'string') return qt;
      if (typeof kt === 'string') return kt;
      if (ints(qt, 'perm')?.join(',') !== '0,2,1,3' || ints(kt, 'perm')?.join(',') !== '0,2,3,1')
        return 'Q and K are not split to heads by Transpose [0,2,1,3] and [0,2,3,1]';
      const qr = step(qt.inputs[0], 'Reshape', qt);
      const kr = step(kt.inputs[0], 'Reshape', kt);
      if (typeof qr === 'string') return qr;
      if (typeof kr === 'string') return kr;
      for (const r of [qr, kr, vr]) {
        const why = split(r);
        if (why) return why;
      }
      return undefined;
    };
    const why = match();
    if (why) {
      fail(`${H} attention heads × ${D} left whole: ${why}`);
      continue;
    }
    const wo = index.tensors[g.weight];
    if (wo.dtype !== DataType.FLOAT || (readers.get(wo.name) ?? []).length !== 1) {
      fail(`${H} attention heads × ${D} left whole: the output projection's weight is shared or not float32`);
      continue;
    }
    slices.push({ tensor: g.weight, axis: g.channelAxis });
    blocks.push({ group: g, order: out.index, slices, value: value!, shapes, widthPart, values });
  }
  return { blocks, leftWhole };
}
