import type { ModelIndex, TensorInfo } from '../onnx/modelIndex';
import type { TensorSink } from '../quant/planQuantize';
import { emptyPlan, type TransformPlan } from '../transform/transformPlan';
import { nodeFromInfo, uniqueName, usedNames } from '../write/newNames';
import type { Edit } from '../write/planWrite';
import type { NewNode } from '../write/protoEncode';
import type { LeftWhole, UnitGroup } from './findUnitGroups';

/** How many units go, and how they are ranked. */
export interface CompactOptions {
  /** Fraction of each group's hidden units removed (rounded down; at least one unit stays). */
  units: number;
  method: 'activation' | 'magnitude';
  /** Leave the first and the last group whole. */
  keepFirstLast: boolean;
}

/** One tensor of a compacted layer, before and after. */
export interface CompactTensorRow {
  name: string;
  dimsBefore: number[];
  dimsAfter: number[];
  bytesBefore: number;
  bytesAfter: number;
}

/** One compacted layer (a unit group) for the report. */
export interface CompactLayerRow {
  name: string;
  /** mlp/conv: hidden units removed; heads: attention heads removed; lowrank: the weight factorized (units = rank). */
  kind: 'mlp' | 'conv' | 'heads' | 'lowrank';
  op: string;
  unitsBefore: number;
  unitsAfter: number;
  /** Indices (in the original model) of the units removed, ascending. */
  removed: number[];
  bytesBefore: number;
  bytesAfter: number;
  /** Share of the summed importance carried by the units kept. */
  importanceKept: number;
  /** lowrank: the rank kept and the share of the weight's energy (Σσ²) it keeps. */
  rank?: number;
  energyKept?: number;
  tensors: CompactTensorRow[];
}

export interface CompactPlan extends TransformPlan<CompactLayerRow> {
  leftWhole: LeftWhole[];
}

/** Reads a float32 weight whole. */
export type ReadWeight = (t: TensorInfo) => Float32Array;

/**
 * Plans the removal of each group's least important units: the projections' weights lose those units'
 * columns (rows for Conv and transposed Gemm) and bias entries, the per-unit constants between lose their
 * entries, the reading layer's weight loses the matching rows (input channels). `importance` holds one score
 * per unit per group (higher = more important); groups without one are left whole.
 */
export function planCompact(
  index: ModelIndex,
  groups: readonly UnitGroup[],
  leftWhole: readonly LeftWhole[],
  importance: ReadonlyMap<string, Float64Array>,
  options: CompactOptions,
  read: ReadWeight,
  sink: TensorSink = (b) => b,
): CompactPlan {
  const plan: CompactPlan = { ...emptyPlan<CompactLayerRow>(), leftWhole: [...leftWhole] };
  for (const w of leftWhole) plan.skipped.push({ name: w.name, op: w.op, reason: w.reason });
  // A tensor may be cut by two layers (a Conv that reads one group's units and makes the next's): all its
  // cuts are applied in one replacement.
  const cuts = new Map<number, { axis: number; keep: number[] }[]>();
  const layers: { row: CompactLayerRow; touched: number[]; copies: CompactTensorRow[] }[] = [];
  const names = usedNames(index);
  const renames = new Map<number, Map<string, string>>();
  const changed: string[] = [];
  const orders = groups.map((g) => g.order);
  const first = Math.min(...orders);
  const last = Math.max(...orders);
  for (const g of groups) {
    const op = index.nodes[g.down.nodeId].opType;
    if (options.keepFirstLast && (g.order === first || g.order === last)) {
      plan.skipped.push({ name: g.name, op, reason: 'first or last layer (--keep-first-last)' });
      continue;
    }
    const score = importance.get(g.name);
    if (!score) {
      plan.skipped.push({ name: g.name, op, reason: 'no activations were measured for it' });
      continue;
    }
    const drop = Math.min(g.units - 1, Math.floor(options.units * g.units + 1e-9));
    if (drop <= 0) {
      plan.skipped.push({ name: g.name, op, reason: `${g.units} units: none to remove at ${options.units}` });
      continue;
    }
    const order = [...score.keys()].sort((a, b) => score[a] - score[b] || a - b);
    const removed = order.slice(0, drop).sort((a, b) => a - b);
    const gone = new Set(removed);
    const keep = [...score.keys()].filter((u) => !gone.has(u));
    const total = score.reduce((s, v) => s + v, 0);
    const kept = keep.reduce((s, u) => s + score[u], 0);
    const row: CompactLayerRow = {
      name: g.name,
      kind: g.kind,
      op,
      unitsBefore: g.units,
      unitsAfter: keep.length,
      removed,
      bytesBefore: 0,
      bytesAfter: 0,
      importanceKept: total > 0 ? kept / total : 1,
      tensors: [],
    };
    const cut = (id: number, axis: number) => {
      cuts.set(id, [...(cuts.get(id) ?? []), { axis, keep }]);
      touched.push(id);
    };
    const touched: number[] = [];
    // A constant other nodes read too stays; this group reads a cut copy of it.
    const shared = new Set(g.shared);
    const copies: CompactTensorRow[] = [];
    const ownCopy = (id: number) => {
      const t = index.tensors[id];
      const sliced = sliceAxis(read(t), t.dims, unitAxisOf(t, g.units), keep);
      const name = uniqueName(names, `${t.name}_compact`);
      plan.edits.push({
        kind: 'addTensor',
        graph: 'main',
        name,
        tensor: { dtype: t.dtype, dims: sliced.dims, data: sink(new Uint8Array(sliced.values.buffer)) },
      });
      for (const nodeId of g.nodes)
        if (index.nodes[nodeId].inputs.includes(t.name)) {
          const map = renames.get(nodeId) ?? new Map<string, string>();
          map.set(t.name, name);
          renames.set(nodeId, map);
        }
      copies.push({
        name,
        dimsBefore: t.dims,
        dimsAfter: sliced.dims,
        bytesBefore: 0,
        bytesAfter: sliced.values.length * 4,
      });
    };
    const cutOrCopy = (id: number) =>
      shared.has(id) ? ownCopy(id) : cut(id, unitAxisOf(index.tensors[id], g.units));
    const unencodable = g.nodes
      .filter((id) => g.shared.some((s) => index.nodes[id].inputs.includes(index.tensors[s].name)))
      .map((id) => nodeFromInfo(index.nodes[id]))
      .find((n): n is string => typeof n === 'string');
    if (unencodable) {
      plan.skipped.push({ name: g.name, op, reason: `a shared constant needs a copy, but ${unencodable}` });
      continue;
    }
    for (const p of g.projections) {
      cut(p.weight, p.unitAxis);
      if (p.bias !== undefined) cutOrCopy(p.bias);
    }
    for (const id of g.perUnit) cutOrCopy(id);
    cut(g.down.weight, g.down.unitAxis);
    layers.push({ row, touched, copies });
    changed.push(...g.values);
  }
  const after = new Map<number, number[]>();
  for (const [id, list] of cuts) {
    const t = index.tensors[id];
    let sliced = { values: read(t), dims: t.dims };
    for (const c of list) sliced = sliceAxis(sliced.values, sliced.dims, c.axis, c.keep);
    after.set(id, sliced.dims);
    plan.edits.push({
      kind: 'replaceTensor',
      tensorId: id,
      tensor: { dtype: t.dtype, dims: sliced.dims, data: sink(new Uint8Array(sliced.values.buffer)) },
    } satisfies Edit);
  }
  // Declared shapes of what changed (values between, cut constants such as Constant nodes' outputs) would
  // contradict the new ones: ONNX Runtime refuses such a model.
  for (const id of cuts.keys()) changed.push(index.tensors[id].name);
  if (layers.length > 0) plan.edits.push({ kind: 'removeValueInfo', graph: 'main', names: changed });
  const copied = new Map<string, number>();
  for (const [nodeId, map] of renames) {
    const node = nodeFromInfo(index.nodes[nodeId]) as NewNode;
    node.inputs = node.inputs.map((i) => map.get(i) ?? i);
    plan.edits.push({ kind: 'replaceNode', nodeId, nodes: [node] });
    for (const name of map.keys()) copied.set(name, (copied.get(name) ?? 0) + 1);
  }
  // A shared constant whose every reader now reads a copy is gone from the model.
  for (const [name, count] of copied) {
    const readers = index.nodes.reduce((s, n) => s + n.inputs.filter((i) => i === name).length, 0);
    const t = index.tensors.find((x) => x.name === name && x.graph === 'main');
    if (t && readers === count && !index.graphs[0].outputs.some((o) => o.name === name))
      plan.edits.push({ kind: 'removeTensor', tensorId: t.id });
  }
  for (const { row, touched, copies } of layers) {
    row.tensors = touched.map((id) => {
      const t = index.tensors[id];
      const dims = after.get(id)!;
      return {
        name: t.name,
        dimsBefore: t.dims,
        dimsAfter: dims,
        bytesBefore: t.count * 4,
        bytesAfter: dims.reduce((a, b) => a * b, 1) * 4,
      };
    });
    row.tensors.push(...copies);
    row.bytesBefore = row.tensors.reduce((s, t) => s + t.bytesBefore, 0);
    row.bytesAfter = row.tensors.reduce((s, t) => s + t.bytesAfter, 0);
    plan.tensors.push(row);
  }
  return plan;
}

/** The axis of a per-unit tensor (count = units) that holds the units. */
function unitAxisOf(t: TensorInfo, units: number): number {
  const axis = t.dims.findIndex((d) => d === units);
  return axis < 0 ? 0 : axis;
}

/** The entries of `keep` along `axis` of a dense row-major tensor. */
export function sliceAxis(
  values: Float32Array,
  dims: readonly number[],
  axis: number,
  keep: readonly number[],
): { values: Float32Array; dims: number[] } {
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = dims[axis];
  const out = new Float32Array(outer * keep.length * inner);
  let o = 0;
  for (let i = 0; i < outer; i++) {
    const base = i * n * inner;
    for (const k of keep) {
      out.set(values.subarray(base + k * inner, base + (k + 1) * inner), o);
      o += inner;
    }
  }
  const newDims = [...dims];
  newDims[axis] = keep.length;
  return { values: out, dims: newDims };
}

/**
 * Magnitude importance per unit: the product of the unit's weight norms in every projection and in the
 * reading layer (‖up_j‖·‖down_j‖, with a gate's ‖gate_j‖ too).
 */
export function magnitudeImportance(index: ModelIndex, g: UnitGroup, read: ReadWeight): Float64Array {
  const score = new Float64Array(g.units).fill(1);
  const times = (id: number, axis: number) => {
    const t = index.tensors[id];
    const norms = axisNorms(read(t), t.dims, axis);
    for (let u = 0; u < g.units; u++) score[u] *= norms[u];
  };
  for (const p of g.projections) times(p.weight, p.unitAxis);
  times(g.down.weight, g.down.unitAxis);
  return score;
}

/**
 * Activation importance per unit: the mean |activation| the reading layer sees times the norm of the
 * weights that read it (‖w_j‖·E|x_j|, as Wanda scores inputs).
 */
export function activationImportance(
  index: ModelIndex,
  g: UnitGroup,
  meanAbs: Float64Array,
  read: ReadWeight,
): Float64Array {
  const t = index.tensors[g.down.weight];
  const norms = axisNorms(read(t), t.dims, g.down.unitAxis);
  return norms.map((n, u) => n * meanAbs[u]);
}

/** L2 norm of each slice along `axis`. */
export function axisNorms(values: Float32Array, dims: readonly number[], axis: number): Float64Array {
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = dims[axis];
  const sums = new Float64Array(n);
  for (let i = 0; i < outer; i++)
    for (let k = 0; k < n; k++) {
      const base = (i * n + k) * inner;
      let s = 0;
      for (let j = 0; j < inner; j++) s += values[base + j] * values[base + j];
      sums[k] += s;
    }
  return sums.map(Math.sqrt);
}
