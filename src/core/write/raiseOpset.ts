import type { ModelIndex, NodeInfo } from '../onnx/modelIndex';
import { DataType } from '../tensor/dataType';
import { numberToFloat16Bits } from '../tensor/float16';
import { attributeFromInfo, uniqueName } from './newNames';
import type { Edit } from './planWrite';
import type { NewAttribute, NewNode } from './protoEncode';

/** What raising the default-domain opset takes. */
export interface OpsetRaise {
  /** From and to (equal when nothing changes). */
  from: number;
  to: number;
  /** setOpset, setIrVersion when the new opset needs a newer IR, the node rewrites and their constants. */
  edits: Edit[];
  /** One line per change, for the report ("opset 15 → 21", "ReduceMax r1: axes attribute → input" …). */
  changes: string[];
  /** Nodes whose meaning would change at the new opset and that are not rewritten. Non-empty: do not raise. */
  refusals: string[];
}

/** The IR version a default-domain opset came with (onnx/helper.py VERSION_TABLE): the least it needs. */
const MIN_IR: [opset: number, ir: number][] = [
  [21, 10],
  [19, 9],
  [15, 8],
  [12, 7],
  [11, 6],
  [10, 5],
  [9, 4],
];

/** The IR version a model at `opset` needs at least. */
export function minIrVersion(opset: number): number {
  for (const [o, ir] of MIN_IR) if (opset >= o) return ir;
  return 3;
}

/** The model's default-domain (`ai.onnx`) opset version; 0 when it imports none. */
export function defaultOpset(index: ModelIndex): number {
  return index.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

const REDUCE_18 = new Set([
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceMax',
  'ReduceMean',
  'ReduceMin',
  'ReduceProd',
  'ReduceSumSquare',
]);

/** Ops whose meaning changes at an opset in a way no local rewrite here preserves. */
const REFUSED: { op: string; at: number; why: string }[] = [
  { op: 'Upsample', at: 10, why: 'deprecated at opset 10 (use Resize)' },
  { op: 'Resize', at: 11, why: 'Resize-11 added roi and changed the default coordinate mapping' },
  { op: 'Scatter', at: 11, why: 'deprecated at opset 11 (use ScatterElements)' },
  { op: 'DFT', at: 20, why: 'DFT-20 takes the axis as an input with a different default' },
  { op: 'GroupNormalization', at: 21, why: 'GroupNormalization-21 takes per-channel scale and bias' },
];

/**
 * Plans raising the default-domain opset of a model to `target` (and its IR version to what that opset
 * needs, or `minIr` if higher), rewriting the nodes whose signature changed on the way so the model
 * computes the same: attributes that became inputs (Slice-10, TopK-10, Clip-11, Pad-11, Squeeze/Unsqueeze/
 * Split/ReduceSum-13, the other Reduce ops at 18) turn into constant inputs, Dropout-12 loses `ratio`,
 * Split-18 gets `num_outputs`, RoiAlign-16 keeps its old coordinate mapping, GridSample-20 its mode, and a
 * Softmax/LogSoftmax/Hardmax before 13 whose axis is not the last becomes Flatten → op → Reshape (the old
 * "coerce to 2-D" meaning). Ops it cannot carry over are listed in `refusals`; the caller must not write
 * the edits then. Nodes in model-local functions follow their own opset imports and are left alone.
 */
export function planRaiseOpset(index: ModelIndex, target: number, names: Set<string>, minIr = 0): OpsetRaise {
  const from = defaultOpset(index);
  const raise: OpsetRaise = { from, to: Math.max(from, target), edits: [], changes: [], refusals: [] };
  const ir = Math.max(minIrVersion(raise.to), minIr);
  if (ir > index.irVersion) {
    raise.edits.push({ kind: 'setIrVersion', version: ir });
    raise.changes.push(`IR version ${index.irVersion} → ${ir}`);
  }
  if (from >= target) return raise;
  if (from < 9) {
    raise.refusals.push(`the model imports ai.onnx opset ${from}: re-export it at opset 9 or later first`);
    return raise;
  }
  raise.edits.push({ kind: 'setOpset', domain: '', version: target });
  raise.changes.unshift(`ai.onnx opset ${from} → ${target}`);
  const graphs = new Map(index.graphs.map((g) => [g.path, g]));
  const floatType = scalarFloatType(index);
  const crosses = (v: number) => from < v && v <= target;

  for (const node of index.nodes) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
    if (graphs.get(node.graph)?.kind !== 'graph') continue;
    const label = `${node.opType} ${node.name || `#${node.id}`}`;
    const refused = REFUSED.find((r) => r.op === node.opType && crosses(r.at));
    if (refused) {
      raise.refusals.push(`${label}: ${refused.why}`);
      continue;
    }
    const rewrite = new NodeRewrite(node, names, floatType);
    try {
      upgrade(rewrite, node, crosses, index);
    } catch (e) {
      raise.refusals.push(`${label}: ${(e as Error).message}`);
      continue;
    }
    if (!rewrite.changed) continue;
    const built = rewrite.build();
    if (typeof built === 'string') {
      raise.refusals.push(built);
      continue;
    }
    raise.edits.push({ kind: 'replaceNode', nodeId: node.id, nodes: built.nodes });
    for (const c of built.constants) raise.edits.push({ kind: 'addTensor', graph: node.graph, ...c });
    raise.changes.push(`${label}: ${rewrite.notes.join('; ')}`);
  }
  return raise;
}

function upgrade(r: NodeRewrite, node: NodeInfo, crosses: (v: number) => boolean, index: ModelIndex): void {
  const op = node.opType;
  if (op === 'Slice' && crosses(10)) {
    if (r.has('starts')) {
      const axes = r.take('axes');
      r.setInputs([r.inputs[0], r.int64('starts', r.take('starts')!), r.int64('ends', r.take('ends') ?? [])]);
      if (axes) r.inputs.push(r.int64('axes', axes));
      r.note('starts/ends/axes attributes → inputs');
    }
  }
  if (op === 'TopK' && crosses(10) && r.has('k')) {
    r.setInputs([r.inputs[0], r.int64('k', r.take('k')!)]);
    r.note('k attribute → input');
  }
  if (op === 'Clip' && crosses(11) && (r.has('min') || r.has('max'))) {
    const min = r.take('min');
    const max = r.take('max');
    r.setInputs([r.inputs[0], min ? r.float('min', min[0]) : '', max ? r.float('max', max[0]) : '']);
    while (r.inputs.at(-1) === '') r.inputs.pop();
    r.note('min/max attributes → inputs');
  }
  if (op === 'Pad' && crosses(11) && r.has('pads')) {
    const pads = r.take('pads')!;
    const value = r.take('value')?.[0] ?? 0;
    r.setInputs([r.inputs[0], r.int64('pads', pads)]);
    if (value !== 0) r.inputs.push(r.float('value', value));
    r.note('pads/value attributes → inputs');
  }
  if (op === 'Dropout' && crosses(12) && r.has('ratio')) {
    r.take('ratio');
    r.note('ratio attribute dropped (inference ignores it)');
  }
  if ((op === 'Squeeze' || op === 'Unsqueeze' || op === 'ReduceSum') && crosses(13) && r.has('axes')) {
    r.setInputs([r.inputs[0], r.int64('axes', r.take('axes')!)]);
    r.note('axes attribute → input');
  }
  if (op === 'Split' && crosses(13) && r.has('split')) {
    r.setInputs([r.inputs[0], r.int64('split', r.take('split')!)]);
    r.note('split attribute → input');
  }
  if ((op === 'Softmax' || op === 'LogSoftmax' || op === 'Hardmax') && crosses(13)) {
    const axis = r.peek('axis')?.[0] ?? 1;
    const rank = rankOf(index, node);
    const last = axis === -1 || (rank !== undefined && (axis < 0 ? axis + rank : axis) === rank - 1);
    if (!last) r.coerceTo2d(axis);
  }
  if (REDUCE_18.has(op) && crosses(18) && r.has('axes')) {
    r.setInputs([r.inputs[0], r.int64('axes', r.take('axes')!)]);
    r.note('axes attribute → input');
  }
  if (op === 'Split' && crosses(18) && !r.inputs[1] && !r.has('num_outputs')) {
    r.set({ name: 'num_outputs', i: node.outputs.length });
    r.note(`num_outputs = ${node.outputs.length}`);
  }
  if (op === 'RoiAlign' && crosses(16) && !r.has('coordinate_transformation_mode')) {
    r.set({ name: 'coordinate_transformation_mode', s: 'output_half_pixel' });
    r.note('keeps the pre-16 coordinate mapping (output_half_pixel)');
  }
  if (op === 'GridSample' && crosses(20)) {
    const mode = r.peekString('mode');
    const renamed = mode === 'bilinear' ? 'linear' : mode === 'bicubic' ? 'cubic' : undefined;
    if (renamed) {
      r.set({ name: 'mode', s: renamed });
      r.note(`mode ${mode} → ${renamed}`);
    }
  }
}

/** Rank of a node's first input or output when the graph declares it. */
function rankOf(index: ModelIndex, node: NodeInfo): number | undefined {
  for (const g of index.graphs) {
    const v = [...g.inputs, ...g.outputs].find(
      (x) => x.name === node.inputs[0] || x.name === node.outputs[0],
    );
    if (v?.shape) return v.shape.length;
  }
  return undefined;
}

/** The float type of Clip/Pad constants: float32 unless the model's floats are all float16. */
function scalarFloatType(index: ModelIndex): number | undefined {
  const types = new Set<number>();
  for (const t of index.tensors)
    if (t.dtype === DataType.FLOAT || t.dtype === DataType.FLOAT16) types.add(t.dtype);
  for (const v of [...index.graphs[0].inputs, ...index.graphs[0].outputs]) {
    if (v.dtype === DataType.FLOAT || v.dtype === DataType.FLOAT16) types.add(v.dtype);
  }
  if (types.size > 1) return undefined;
  return types.has(DataType.FLOAT16) ? DataType.FLOAT16 : DataType.FLOAT;
}

type Constant = { name: string; tensor: { dtype: number; dims: number[]; data: Uint8Array } };

/** One node being rewritten: its inputs and attributes, new constants, and extra nodes around it. */
class NodeRewrite {
  readonly inputs: string[];
  changed = false;
  readonly notes: string[] = [];
  private attributes: NewAttribute[] = [];
  /** Attributes the writer cannot re-encode: fine only if the rewrite removes them. */
  private readonly unencodable: string[] = [];
  private readonly constants: Constant[] = [];
  private readonly taken = new Set<string>();
  private coerceAxis?: number;

  constructor(
    private readonly node: NodeInfo,
    private readonly names: Set<string>,
    private readonly floatType: number | undefined,
  ) {
    this.inputs = [...node.inputs];
    for (const a of node.attributes) {
      const attr = attributeFromInfo(a);
      if (attr) this.attributes.push(attr);
      else this.unencodable.push(a.name);
    }
  }

  /** True while the node has the attribute (not yet taken). */
  has(name: string): boolean {
    return this.node.attributes.some((a) => a.name === name) && !this.taken.has(name);
  }

  /** An attribute's numbers (ints or floats, a single value as a list of one). */
  peek(name: string): number[] | undefined {
    const a = this.node.attributes.find((x) => x.name === name);
    if (!a) return undefined;
    return a.ints ?? a.floats ?? (a.i !== undefined ? [a.i] : a.f !== undefined ? [a.f] : undefined);
  }

  peekString(name: string): string | undefined {
    return this.node.attributes.find((x) => x.name === name)?.s;
  }

  /** Removes an attribute and returns its numbers. */
  take(name: string): number[] | undefined {
    const values = this.peek(name);
    this.taken.add(name);
    this.attributes = this.attributes.filter((a) => a.name !== name);
    this.changed = true;
    return values;
  }

  set(attr: NewAttribute): void {
    this.attributes = [...this.attributes.filter((a) => a.name !== attr.name), attr];
    this.changed = true;
  }

  setInputs(inputs: string[]): void {
    this.inputs.splice(0, this.inputs.length, ...inputs);
    this.changed = true;
  }

  note(text: string): void {
    this.notes.push(text);
  }

  /** A new int64 [n] initializer (values clamped to int64). */
  int64(what: string, values: number[]): string {
    const data = new BigInt64Array(values.length);
    const max = (1n << 63n) - 1n;
    values.forEach((v, i) => {
      data[i] = v >= 2 ** 63 ? max : v <= -(2 ** 63) ? -max - 1n : BigInt(Math.trunc(v));
    });
    return this.constant(what, DataType.INT64, [values.length], new Uint8Array(data.buffer));
  }

  /** A new float scalar initializer of the model's float type. */
  float(what: string, value: number): string {
    if (this.floatType === undefined)
      throw new Error('the model mixes float32 and float16: the type of the new scalar is unknown');
    const data =
      this.floatType === DataType.FLOAT16
        ? new Uint8Array(new Uint16Array([numberToFloat16Bits(value)]).buffer)
        : new Uint8Array(new Float32Array([value]).buffer);
    return this.constant(what, this.floatType, [], data);
  }

  /** The pre-13 Softmax meaning: flatten to 2-D at `axis`, apply on the last axis, restore the shape. */
  coerceTo2d(axis: number): void {
    this.coerceAxis = axis;
    this.set({ name: 'axis', i: -1 });
    this.note(
      `axis ${axis} kept as the pre-13 "coerce to 2-D" meaning: Flatten → ${this.node.opType} → Reshape`,
    );
  }

  build(): { nodes: NewNode[]; constants: Constant[] } | string {
    const kept = this.unencodable.filter((name) => !this.taken.has(name));
    if (kept.length > 0) {
      return `${this.node.opType} ${this.node.name || `#${this.node.id}`}: attribute ${kept.join(', ')} cannot be re-encoded`;
    }
    const node: NewNode = {
      opType: this.node.opType,
      domain: this.node.domain || undefined,
      name: this.node.name || undefined,
      inputs: this.inputs,
      outputs: [...this.node.outputs],
      attributes: this.attributes,
    };
    if (this.coerceAxis === undefined) return { nodes: [node], constants: this.constants };
    const x = node.inputs[0];
    const y = node.outputs[0];
    const stem = this.node.name || this.node.opType;
    const shape = uniqueName(this.names, `${stem}_shape`);
    const flat = uniqueName(this.names, `${stem}_2d`);
    const out2d = uniqueName(this.names, `${stem}_2d_out`);
    return {
      nodes: [
        { opType: 'Shape', inputs: [x], outputs: [shape] },
        {
          opType: 'Flatten',
          inputs: [x],
          outputs: [flat],
          attributes: [{ name: 'axis', i: this.coerceAxis }],
        },
        { ...node, inputs: [flat], outputs: [out2d] },
        { opType: 'Reshape', inputs: [out2d, shape], outputs: [y] },
      ],
      constants: this.constants,
    };
  }

  private constant(what: string, dtype: number, dims: number[], data: Uint8Array): string {
    const name = uniqueName(this.names, `${this.node.name || this.node.opType}_${what}`);
    this.constants.push({ name, tensor: { dtype, dims, data } });
    return name;
  }
}
