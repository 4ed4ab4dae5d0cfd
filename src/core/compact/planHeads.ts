import type { ModelIndex } from '../onnx/modelIndex';
import type { TensorSink } from '../quant/planQuantize';
import { DataType } from '../tensor/dataType';
import { nodeFromInfo, uniqueName, usedNames } from '../write/newNames';
import type { NewNode } from '../write/protoEncode';
import type { HeadBlock } from './findHeadBlocks';
import { axisNorms, type CompactLayerRow, type CompactPlan, type ReadWeight, sliceAxis } from './planCompact';

/** How many heads go. */
export interface HeadsOptions {
  /** Fraction of each block's heads removed (rounded down; at least one head stays). */
  heads: number;
  keepFirstLast: boolean;
}

const int64Bytes = (values: readonly number[]) =>
  new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer);

/**
 * Adds to `plan` the removal of each block's least important heads: Q, K and V weights and biases lose the
 * heads' D output channels, the output projection loses their D input rows, and the shape entries that hold
 * H or H·D are rewritten (in place where only the block reads the constant, else in a copy the block's
 * nodes read). `importance` holds one score per head per block (by the output projection's name). Tensors or
 * nodes the unit plan already changes leave the block whole.
 */
export function planHeads(
  index: ModelIndex,
  blocks: readonly HeadBlock[],
  importance: ReadonlyMap<string, Float64Array>,
  options: HeadsOptions,
  read: ReadWeight,
  plan: CompactPlan,
  sink: TensorSink = (b) => b,
): void {
  const names = usedNames(index);
  const taken = new Set<number>();
  const replacedNodes = new Set<number>();
  for (const e of plan.edits) {
    if (e.kind === 'replaceTensor') taken.add(e.tensorId);
    if (e.kind === 'replaceNode') replacedNodes.add(e.nodeId);
  }
  const readersOf = (name: string) => index.nodes.filter((n) => n.inputs.includes(name)).map((n) => n.id);
  const isOutput = (name: string) => index.graphs.some((g) => g.outputs.some((o) => o.name === name));
  const orders = blocks.map((b) => b.order);
  const first = Math.min(...orders);
  const last = Math.max(...orders);
  const changed: string[] = [];
  for (const b of blocks) {
    const { name, op, heads: H, headDim: D } = b.group;
    const skip = (reason: string) => {
      plan.skipped.push({ name, op, reason });
      plan.leftWhole.push({ name, op, reason });
    };
    if (options.keepFirstLast && (b.order === first || b.order === last)) {
      plan.skipped.push({ name, op, reason: 'first or last attention block (--keep-first-last)' });
      continue;
    }
    const score = importance.get(name);
    if (!score) {
      plan.skipped.push({ name, op, reason: 'no activations were measured for its heads' });
      continue;
    }
    const drop = Math.min(H - 1, Math.floor(options.heads * H + 1e-9));
    if (drop <= 0) {
      plan.skipped.push({ name, op, reason: `${H} heads: none to remove at ${options.heads}` });
      continue;
    }
    const shapeNodes = new Set([
      ...b.shapes.flatMap((s) => s.readers),
      ...(b.widthPart ? [b.widthPart.nodeId] : []),
    ]);
    if (b.slices.some((s) => taken.has(s.tensor)) || [...shapeNodes].some((id) => replacedNodes.has(id))) {
      skip(`${H} attention heads × ${D} left whole: the unit compaction already changes its tensors`);
      continue;
    }
    const order = [...score.keys()].sort((x, y) => score[x] - score[y] || x - y);
    const removed = order.slice(0, drop).sort((x, y) => x - y);
    const gone = new Set(removed);
    const keptHeads = [...score.keys()].filter((h) => !gone.has(h));
    const keep = keptHeads.flatMap((h) => Array.from({ length: D }, (_, d) => h * D + d));
    const total = score.reduce((s, v) => s + v, 0);
    const kept = keptHeads.reduce((s, h) => s + score[h], 0);
    const after = keptHeads.length;
    const row: CompactLayerRow = {
      name,
      kind: 'heads',
      op,
      unitsBefore: H,
      unitsAfter: after,
      removed,
      bytesBefore: 0,
      bytesAfter: 0,
      importanceKept: total > 0 ? kept / total : 1,
      tensors: [],
    };
    // Nodes of the block that read a shape constant shared with others read a rewritten copy instead.
    const renames = new Map<number, Map<string, string>>();
    const rename = (nodeId: number, from: string, to: string) => {
      const map = renames.get(nodeId) ?? new Map<string, string>();
      map.set(from, to);
      renames.set(nodeId, map);
    };
    const edits: CompactPlan['edits'] = [];
    for (const s of b.slices) {
      const t = index.tensors[s.tensor];
      const sliced = sliceAxis(read(t), t.dims, s.axis, keep);
      edits.push({
        kind: 'replaceTensor',
        tensorId: t.id,
        tensor: { dtype: t.dtype, dims: sliced.dims, data: sink(new Uint8Array(sliced.values.buffer)) },
      });
      row.tensors.push({
        name: t.name,
        dimsBefore: t.dims,
        dimsAfter: sliced.dims,
        bytesBefore: t.count * 4,
        bytesAfter: sliced.values.length * 4,
      });
      changed.push(t.name);
    }
    const byTensor = new Map<number, { entries: Map<number, number>; readers: Set<number> }>();
    for (const s of b.shapes) {
      const e = byTensor.get(s.tensor) ?? { entries: new Map<number, number>(), readers: new Set<number>() };
      e.entries.set(s.entry, s.holds === 'heads' ? after : after * D);
      for (const r of s.readers) e.readers.add(r);
      byTensor.set(s.tensor, e);
    }
    for (const [id, e] of byTensor) {
      const t = index.tensors[id];
      const values = Array.from(read(t));
      for (const [at, v] of e.entries) values[at] = v;
      const tensor = { dtype: DataType.INT64, dims: t.dims, data: int64Bytes(values) };
      const all = readersOf(t.name);
      if (!isOutput(t.name) && all.every((r) => e.readers.has(r))) {
        edits.push({ kind: 'replaceTensor', tensorId: id, tensor });
        changed.push(t.name);
      } else {
        const copy = uniqueName(names, `${t.name}_heads`);
        edits.push({ kind: 'addTensor', graph: 'main', name: copy, tensor });
        for (const r of e.readers) rename(r, t.name, copy);
      }
      const bytes = t.count * 8;
      row.tensors.push({
        name: t.name,
        dimsBefore: t.dims,
        dimsAfter: t.dims,
        bytesBefore: bytes,
        bytesAfter: bytes,
      });
    }
    if (b.widthPart) {
      const node = index.nodes[b.widthPart.nodeId];
      const width = uniqueName(names, `${node.name || node.outputs[0]}_width`);
      edits.push({
        kind: 'addTensor',
        graph: 'main',
        name: width,
        tensor: { dtype: DataType.INT64, dims: [1], data: int64Bytes([after * D]) },
      });
      rename(node.id, node.inputs[b.widthPart.input], width);
    }
    let unencodable: string | undefined;
    for (const [nodeId, map] of renames) {
      const node = nodeFromInfo(index.nodes[nodeId]);
      if (typeof node === 'string') {
        unencodable = node;
        break;
      }
      const n = node as NewNode;
      n.inputs = n.inputs.map((i) => map.get(i) ?? i);
      edits.push({ kind: 'replaceNode', nodeId, nodes: [n] });
    }
    if (unencodable) {
      skip(`${H} attention heads × ${D} left whole: a shape constant needs a copy, but ${unencodable}`);
      continue;
    }
    for (const s of b.slices) taken.add(s.tensor);
    plan.edits.push(...edits);
    changed.push(...b.values);
    row.bytesBefore = row.tensors.reduce((s, t) => s + t.bytesBefore, 0);
    row.bytesAfter = row.tensors.reduce((s, t) => s + t.bytesAfter, 0);
    plan.tensors.push(row);
  }
  if (changed.length === 0) return;
  // One removal per graph: the unit plan's, if any, gets these names too (two would splice the same bytes).
  const units = plan.edits.find((e) => e.kind === 'removeValueInfo' && e.graph === 'main');
  if (units?.kind === 'removeValueInfo') units.names = [...new Set([...units.names, ...changed])];
  else plan.edits.push({ kind: 'removeValueInfo', graph: 'main', names: [...new Set(changed)] });
}

/** Magnitude importance per head: ‖V columns of the head‖ · ‖output projection rows of the head‖. */
export function headMagnitude(index: ModelIndex, b: HeadBlock, read: ReadWeight): Float64Array {
  const { heads: H, headDim: D } = b.group;
  const norms = (tensor: number, axis: number) => {
    const t = index.tensors[tensor];
    return axisNorms(read(t), t.dims, axis);
  };
  const v = norms(b.value.tensor, b.value.axis);
  const o = norms(b.group.weight, b.group.channelAxis);
  const score = new Float64Array(H);
  for (let h = 0; h < H; h++) {
    let sv = 0;
    let so = 0;
    for (let d = 0; d < D; d++) {
      sv += v[h * D + d] ** 2;
      so += o[h * D + d] ** 2;
    }
    score[h] = Math.sqrt(sv) * Math.sqrt(so);
  }
  return score;
}
