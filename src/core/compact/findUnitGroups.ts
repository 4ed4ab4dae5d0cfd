import type { AttributeInfo, ModelIndex, NodeInfo, TensorInfo } from '../onnx/modelIndex';
import { DataType } from '../tensor/dataType';
import { graphTables } from './graphTables';
import { valueAtZero } from './valueAtZero';

/** A projection whose output units are the hidden units (an MLP's up or gate, the first Conv). */
export interface Projection {
  nodeId: number;
  /** The weight tensor id and the axis of its dims that holds the units. */
  weight: number;
  unitAxis: number;
  /** A per-unit bias (Gemm C, Conv B), sliced with the weight. */
  bias?: number;
}

/** Hidden units between projections and the layer that reads them, removable as a whole. */
export interface UnitGroup {
  /** The reading layer's name (its node name, else its weight's). */
  name: string;
  kind: 'mlp' | 'conv';
  /** Hidden units (the projections' output size). */
  units: number;
  projections: Projection[];
  /** The layer that reads the units: its weight and the axis that holds them. */
  down: { nodeId: number; weight: number; unitAxis: number };
  /** Per-unit constants between them (Add biases, BatchNormalization parameters), sliced too. */
  perUnit: number[];
  /** The tensor the reading layer reads: the activations measured per unit. */
  hidden: string;
  /** Axis of `hidden` that holds the units (last for MLPs, 1 for Conv). */
  hiddenAxis: 'last' | 1;
  /** Position of the reading layer in the graph (for --keep-first-last). */
  order: number;
  /** Values between the projections and the reading layer: their declared shapes change. */
  values: string[];
  /** The projections and the ops between (not the reading layer). */
  nodes: number[];
  /**
   * Biases and per-unit constants (of `perUnit` and the projections' `bias`) that nodes outside the group
   * read too: the group gets its own cut copy instead.
   */
  shared: number[];
}

/** A layer left whole, and why. */
export interface LeftWhole {
  name: string;
  op: string;
  reason: string;
}

/** Elementwise ops whose output keeps the hidden units on the same axis. */
const ELEMENTWISE = new Set([
  'Relu',
  'LeakyRelu',
  'PRelu',
  'Elu',
  'Selu',
  'Celu',
  'Gelu',
  'FastGelu',
  'QuickGelu',
  'BiasGelu',
  'Tanh',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'Softplus',
  'Softsign',
  'Mish',
  'Erf',
  'Neg',
  'Abs',
  'Identity',
  'Sqrt',
  'Exp',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Clip',
  'Dropout',
  'Max',
  'Min',
]);

/** Ops whose constants may encode the hidden size: a group through one is left whole. */
const SHAPE_OPS = new Set([
  'Reshape',
  'Slice',
  'Split',
  'Flatten',
  'Squeeze',
  'Unsqueeze',
  'Expand',
  'Tile',
  'Pad',
  'Concat',
  'Transpose',
  'Gather',
]);

/** Values of small constants (scalars), for the check that removed units contribute exactly zero. */
export type ScalarOf = (t: TensorInfo) => number | undefined;

/**
 * Finds hidden units that can be removed structurally: MatMul/Gemm (up, and a gate where two meet in a
 * Mul) → elementwise ops → MatMul/Gemm (down), and Conv → optional BatchNormalization/elementwise → Conv
 * (group 1). Each group's units sit on one axis from the projections to the reading layer, nothing
 * outside the group reads them, and a unit whose projection weights, bias and per-unit constants are zero
 * reaches the reading layer as exactly zero, so removing it equals zeroing it. Groups that pass through a
 * shape op, share a weight or expose a value as a graph output are listed in `leftWhole` with the reason.
 */
export function findUnitGroups(
  index: ModelIndex,
  scalarOf: ScalarOf,
): { groups: UnitGroup[]; leftWhole: LeftWhole[] } {
  const { main, producer, readers, constants, inputs, outputs } = graphTables(index);
  const groups: UnitGroup[] = [];
  const leftWhole: LeftWhole[] = [];

  for (const [order, id] of main.nodeIds.entries()) {
    const down = index.nodes[id];
    const reader = readsUnits(down, constants);
    if (!reader) continue;
    const name = down.name || index.tensors[reader.weight].name;
    const walk = walkBack(down.inputs[0], reader.kind, reader.units, { producer, constants, inputs });
    if (walk.barrier) {
      // Only a shape op with projections behind it is worth listing: the layer could have been cut.
      const behind = walkBack(walk.barrier.inputs[0], reader.kind, reader.units, {
        producer,
        constants,
        inputs,
      });
      if (!behind.barrier && !behind.failure && behind.projections.length > 0)
        leftWhole.push({
          name,
          op: down.opType,
          reason: `${walk.barrier.opType} ${walk.barrier.name || walk.barrier.outputs[0]} sits between its projections and it: its constants may encode the hidden size`,
        });
      continue;
    }
    if (walk.projections.length === 0) continue;
    const why =
      walk.failure ??
      sharing(index, down, reader.weight, walk, readers, outputs) ??
      notZeroAtZero(down.inputs[0], walk, producer, constants, scalarOf);
    if (why) {
      leftWhole.push({ name, op: down.opType, reason: why });
      continue;
    }
    groups.push({
      name,
      kind: reader.kind,
      units: reader.units,
      projections: walk.projections,
      down: { nodeId: id, weight: reader.weight, unitAxis: reader.unitAxis },
      perUnit: walk.perUnit,
      hidden: down.inputs[0],
      hiddenAxis: reader.kind === 'mlp' ? 'last' : 1,
      order,
      values: [...walk.nodes, ...walk.projections.map((p) => index.nodes[p.nodeId])].map((n) => n.outputs[0]),
      nodes: [...walk.nodes.map((n) => n.id), ...walk.projections.map((p) => p.nodeId)],
      shared: sharedConstants(index, down, walk, readers),
    });
  }
  return { groups, leftWhole };
}

interface Reader {
  kind: 'mlp' | 'conv';
  weight: number;
  unitAxis: number;
  units: number;
}

const attr = (n: NodeInfo, name: string): AttributeInfo | undefined =>
  n.attributes.find((a) => a.name === name);

/** A MatMul/Gemm/Conv with a constant float32 weight: which axis of it reads (or makes) the units. */
function weightOf(
  n: NodeInfo,
  constants: Map<string, TensorInfo>,
  role: 'reads' | 'makes',
): Reader | undefined {
  if (n.domain !== '' && n.domain !== 'ai.onnx') return undefined;
  const w = constants.get(n.inputs[1] ?? '');
  if (!w || w.dtype !== DataType.FLOAT) return undefined;
  if (n.opType === 'MatMul' && w.dims.length === 2) {
    const axis = role === 'reads' ? 0 : 1;
    return { kind: 'mlp', weight: w.id, unitAxis: axis, units: w.dims[axis] };
  }
  if (n.opType === 'Gemm' && w.dims.length === 2 && !attr(n, 'transA')?.i) {
    const transB = Boolean(attr(n, 'transB')?.i);
    const axis = role === 'reads' ? (transB ? 1 : 0) : transB ? 0 : 1;
    return { kind: 'mlp', weight: w.id, unitAxis: axis, units: w.dims[axis] };
  }
  if (n.opType === 'Conv' && w.dims.length >= 3 && (attr(n, 'group')?.i ?? 1) === 1) {
    const axis = role === 'reads' ? 1 : 0;
    return { kind: 'conv', weight: w.id, unitAxis: axis, units: w.dims[axis] };
  }
  return undefined;
}

function readsUnits(n: NodeInfo, constants: Map<string, TensorInfo>): Reader | undefined {
  const r = weightOf(n, constants, 'reads');
  return r && r.units >= 2 ? r : undefined;
}

/** What the walk back from the reading layer found. */
export interface Walk {
  projections: Projection[];
  perUnit: number[];
  /** Region nodes (elementwise ops, BatchNormalization), not the projections. */
  nodes: NodeInfo[];
  barrier?: NodeInfo;
  failure?: string;
}

interface Scope {
  producer: Map<string, NodeInfo>;
  constants: Map<string, TensorInfo>;
  inputs: ReadonlyMap<string, unknown>;
}

/** Walks back from `start` through elementwise ops to the projections that make the units. */
function walkBack(start: string, kind: 'mlp' | 'conv', units: number, scope: Scope): Walk {
  const walk: Walk = { projections: [], perUnit: [], nodes: [] };
  const seen = new Set<string>();
  const fail = (why: string) => {
    walk.failure ??= why;
  };
  const perUnit = (t: TensorInfo): boolean => {
    if (t.count !== units || t.dtype !== DataType.FLOAT) return false;
    const d = t.dims;
    return kind === 'mlp' ? d[d.length - 1] === units : d.length >= 3 && d[d.length - 3] === units;
  };
  const visit = (name: string) => {
    if (seen.has(name) || walk.barrier || walk.failure) return;
    seen.add(name);
    if (scope.inputs.has(name) || scope.constants.has(name))
      return fail(`its units mix with ${name}, which no projection makes`);
    const n = scope.producer.get(name);
    if (!n) return fail(`${name} is made inside a subgraph`);
    const made = weightOf(n, scope.constants, 'makes');
    if (made && made.kind === kind) {
      if (made.units !== units)
        return fail(`${n.name || n.outputs[0]} makes ${made.units} units, not ${units}`);
      const p: Projection = { nodeId: n.id, weight: made.weight, unitAxis: made.unitAxis };
      const b = n.inputs[2] ? scope.constants.get(n.inputs[2]) : undefined;
      if (n.inputs[2] && !b) return fail(`the bias of ${n.name || n.outputs[0]} is not a constant`);
      if (b && b.count !== 1) {
        if (b.count !== units || b.dtype !== DataType.FLOAT)
          return fail(`the bias of ${n.name} is not per unit`);
        p.bias = b.id;
      }
      if (b && b.count === 1) return fail(`the bias of ${n.name} is one value for every unit`);
      walk.projections.push(p);
      return;
    }
    const domainOk = n.domain === '' || n.domain === 'ai.onnx' || n.domain === 'com.microsoft';
    const bn = n.opType === 'BatchNormalization' && kind === 'conv';
    if (!domainOk || (!ELEMENTWISE.has(n.opType) && !bn)) {
      if (SHAPE_OPS.has(n.opType)) walk.barrier = n;
      else fail(`${n.opType} ${n.name || n.outputs[0]} is not elementwise`);
      return;
    }
    if (n.opType === 'Dropout' && n.outputs.length > 1 && n.outputs[1]) return fail('a Dropout mask is used');
    walk.nodes.push(n);
    for (const [i, input] of n.inputs.entries()) {
      if (!input) continue;
      const c = scope.constants.get(input);
      if (!c) {
        visit(input);
        continue;
      }
      if (c.count === 1 && !(bn && i > 0)) continue;
      // BatchNormalization's parameters are [C]; other per-channel constants broadcast as [C,1,1].
      if (perUnit(c) || (bn && c.count === units && c.dims.length === 1)) {
        if (!walk.perUnit.includes(c.id)) walk.perUnit.push(c.id);
      } else return fail(`${input} (${n.opType} ${n.name}) is neither one value nor one per unit`);
    }
  };
  visit(start);
  return walk;
}

/** Why the group's tensors cannot change shape: a shared weight, a value read elsewhere, a graph output. */
function sharing(
  index: ModelIndex,
  down: NodeInfo,
  downWeight: number,
  walk: Walk,
  readers: Map<string, number[]>,
  outputs: Set<string>,
): string | undefined {
  const own = new Set([down.id, ...walk.nodes.map((n) => n.id), ...walk.projections.map((p) => p.nodeId)]);
  for (const id of [downWeight, ...walk.projections.map((p) => p.weight)]) {
    const t = index.tensors[id];
    if ((readers.get(t.name) ?? []).length !== 1) return `${t.name} is shared with other nodes`;
  }
  const values = [...walk.nodes, ...walk.projections.map((p) => index.nodes[p.nodeId])].map(
    (n) => n.outputs[0],
  );
  for (const v of values) {
    if (outputs.has(v)) return `${v} is a graph output`;
    for (const r of readers.get(v) ?? [])
      if (!own.has(r)) return `${v} is also read by ${index.nodes[r].opType} ${index.nodes[r].name}`;
  }
  return undefined;
}

/** The group's biases and per-unit constants that nodes outside it read too (deduplicated initializers). */
function sharedConstants(
  index: ModelIndex,
  down: NodeInfo,
  walk: Walk,
  readers: Map<string, number[]>,
): number[] {
  const own = new Set([down.id, ...walk.nodes.map((n) => n.id), ...walk.projections.map((p) => p.nodeId)]);
  const constants = [
    ...walk.perUnit,
    ...walk.projections.flatMap((p) => (p.bias === undefined ? [] : [p.bias])),
  ];
  return constants.filter((id) => (readers.get(index.tensors[id].name) ?? []).some((r) => !own.has(r)));
}

/** Why a removed unit would not reach the reading layer as zero (an op like Sigmoid alone, Add 1). */
function notZeroAtZero(
  start: string,
  walk: Walk,
  producer: Map<string, NodeInfo>,
  constants: Map<string, TensorInfo>,
  scalarOf: ScalarOf,
): string | undefined {
  const projected = new Set(walk.projections.map((p) => p.nodeId));
  const zeroed = new Set(walk.perUnit);
  const value = valueAtZero(start, (name) => {
    const c = constants.get(name);
    if (c) return zeroed.has(c.id) ? 0 : scalarOf(c);
    const n = producer.get(name);
    if (!n) return undefined;
    return projected.has(n.id) ? 0 : n;
  });
  if (value === undefined) return 'cannot tell what a removed unit would pass on';
  if (Math.abs(value) > 1e-12)
    return `a unit whose weights are zero still passes on ${value} (an op such as Sigmoid or Add of a constant): removing it would change the output`;
  return undefined;
}
