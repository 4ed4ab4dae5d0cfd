import { MemoryByteSource } from '../core/io/byteSource';
import { findUnitGroups, type UnitGroup } from '../core/compact/findUnitGroups';
import {
  activationImportance,
  type CompactLayerRow,
  magnitudeImportance,
  planCompact,
} from '../core/compact/planCompact';
import { planLowRank } from '../core/compact/planLowRank';
import { weightCache } from '../core/compact/readWeight';
import { indexModel } from '../core/onnx/indexModel';
import type { NodeChange, QuantizedTensorRow } from '../core/quant/planQuantize';
import { addNbitsBytes } from '../core/shrink/nbitsBytes';
import { type Precision, PRECISIONS } from '../core/shrink/precisions';
import { choiceId, splitChoice, type Structure } from '../core/shrink/shrinkChoices';
import { DataType, rawByteLength } from '../core/tensor/dataType';
import { type Edit, planWrite } from '../core/write/planWrite';
import { materialize } from './materialize';
import type { OpenedModel } from './openModel';
import { unitStatistics } from './unitStatistics';
import type { VerifyOptions } from './verifyModels';

/**
 * One decision of a shrink search with structural choices: a MatMul/Gemm weight (its precision, or low-rank
 * factors at a precision), or an MLP unit group whose up/gate/down weights change together (its width cut
 * and one precision for all of them).
 */
export interface ShrinkItem {
  name: string;
  op: string;
  params: number;
  /** The original weights it changes. */
  weights: string[];
  /** A width-cuttable group (width choices apply). */
  group?: UnitGroup;
}

/** A configuration staged: the model with its structural changes made, and what to quantize in it. */
export interface StagedConfiguration {
  /** The original itself when no item has a structural choice. */
  model: OpenedModel;
  /** Weights of `model` (factors, cut weights, untouched weights) and the precision each takes. */
  precisions: Map<string, Precision>;
  /** One row per structurally changed item: dims and bytes of its tensors before and after. */
  layers: CompactLayerRow[];
  nodes: NodeChange[];
}

/** The items, their bytes per choice, and how to stage any configuration of them. */
export interface ShrinkStructures {
  items: ShrinkItem[];
  /** Per item: bytes of its weights at every choice it can take (absent: not offered). */
  bytes: Map<string, Record<string, number>>;
  stage(choices: ReadonlyMap<string, string>): StagedConfiguration;
}

/** A float row as the report's tensor rows hold it, for an item changed structurally and left in float. */
export function floatRow(model: OpenedModel, name: string, note: string): QuantizedTensorRow | undefined {
  const t = model.index.tensors.find((x) => x.name === name);
  if (!t) return undefined;
  const bytes = rawByteLength(t.dtype, t.count);
  const readers = t.consumers.map((c) => model.index.nodes[c.nodeId]);
  return {
    name,
    graph: t.graph,
    op: [...new Set(readers.map((n) => n.opType))].join('+'),
    nodes: readers.map((n) => n.name),
    dims: t.dims,
    beforeDtype: 'float32',
    afterDtype: `float32 (${note})`,
    beforeBytes: bytes,
    afterBytes: bytes,
    weightSqnrDb: NaN,
    removed: false,
  };
}

/**
 * Sets up the structural choices of a shrink search over `rows` (the searchable MatMul/Gemm weights): an
 * MLP unit group (findUnitGroups) whose weights are all searchable and float32 becomes one item when a
 * width structure is asked for (a group overlapping an earlier one keeps its weights separate); every other
 * weight is its own item. Unit importance is measured as `compact --method activation` does (magnitude
 * where an activation could not be measured). Each item's bytes per choice come from the planners: the
 * model staged with every item at one structure, then quantized whole at each precision.
 */
export async function setupStructures(
  model: OpenedModel,
  rows: readonly { name: string; op: string; dims: number[] }[],
  structures: readonly Structure[],
  precisions: readonly Precision[],
  verify: VerifyOptions,
): Promise<ShrinkStructures> {
  const { index } = model;
  const read = weightCache(model.source, model.resolveExternal);
  const searchable = new Map(rows.map((r) => [r.name, r]));
  const items: ShrinkItem[] = [];
  const inGroup = new Set<string>();
  const importance = new Map<string, Float64Array>();
  if (structures.some((s) => s.kind === 'width')) {
    const { groups } = findUnitGroups(index, (t) => (t.count === 1 ? read(t)[0] : undefined));
    for (const g of groups) {
      if (g.kind !== 'mlp') continue;
      const ids = [...g.projections.map((p) => p.weight), g.down.weight];
      const names = ids.map((id) => index.tensors[id].name);
      const ok = ids.every((id) => index.tensors[id].dtype === DataType.FLOAT);
      if (!ok || !names.every((n) => searchable.has(n) && !inGroup.has(n))) continue;
      for (const n of names) inGroup.add(n);
      const name = searchable.has(g.name) ? `${g.name} (group)` : g.name;
      items.push({
        name,
        op: 'MLP',
        params: ids.reduce((s, id) => s + index.tensors[id].count, 0),
        weights: names,
        group: g,
      });
    }
    const measured = await unitStatistics(
      model.path,
      items.map((i) => ({ name: i.group!.hidden, units: i.group!.units, axis: i.group!.hiddenAxis })),
      { ...verify, samples: 64 },
    ).catch(() => undefined);
    const byName = new Map(measured?.stats.map((s) => [s.name, s]) ?? []);
    for (const i of items) {
      const s = byName.get(i.group!.hidden);
      importance.set(
        i.group!.name,
        s
          ? activationImportance(index, i.group!, s.meanAbs, read)
          : magnitudeImportance(index, i.group!, read),
      );
    }
  }
  for (const r of rows)
    if (!inGroup.has(r.name))
      items.push({ name: r.name, op: r.op, params: r.dims.reduce((a, b) => a * b, 1), weights: [r.name] });

  const lowRank = new Map<string, ReturnType<typeof planLowRank> | undefined>();
  const lowRankOf = (weight: string, s: Structure) => {
    const key = `${weight}\u0000${s.id}`;
    if (!lowRank.has(key)) {
      const plan = planLowRank(
        index,
        { fraction: s.percent / 100 },
        false,
        read,
        undefined,
        (w) => w === weight,
      );
      lowRank.set(key, plan.tensors.length === 1 ? plan : undefined);
    }
    return lowRank.get(key);
  };
  const byName = new Map(items.map((i) => [i.name, i]));

  const stage = (choices: ReadonlyMap<string, string>): StagedConfiguration => {
    const edits: Edit[] = [];
    const dropped: string[] = [];
    const out: StagedConfiguration = { model, precisions: new Map(), layers: [], nodes: [] };
    const widths = new Map<number, UnitGroup[]>();
    const set = (names: readonly string[], p: Precision) => {
      if (p !== 'float') for (const n of names) out.precisions.set(n, p);
    };
    for (const [name, id] of choices) {
      const item = byName.get(name);
      if (!item) continue;
      const { structure, precision } = splitChoice(id);
      const s = structures.find((x) => x.id === structure);
      if (!s) {
        set(item.weights, precision);
        continue;
      }
      if (s.kind === 'rank') {
        const plan = lowRankOf(item.weights[0], s);
        if (!plan) throw new Error(`unreachable: ${item.name} has no ${s.id} factors`);
        edits.push(...plan.edits);
        out.nodes.push(...plan.nodes);
        out.layers.push(...plan.tensors);
        set(
          plan.tensors[0].tensors.filter((t) => t.dimsAfter.length > 0).map((t) => t.name),
          precision,
        );
      } else {
        widths.set(s.percent, [...(widths.get(s.percent) ?? []), item.group!]);
        set(item.weights, precision);
      }
    }
    for (const [percent, groups] of widths) {
      const plan = planCompact(
        index,
        groups,
        [],
        importance,
        { units: percent / 100, method: 'activation', keepFirstLast: false },
        read,
      );
      for (const e of plan.edits) {
        if (e.kind === 'removeValueInfo') dropped.push(...e.names);
        else edits.push(e);
      }
      out.layers.push(...plan.tensors);
    }
    if (dropped.length) edits.push({ kind: 'removeValueInfo', graph: 'main', names: dropped });
    if (edits.length === 0) return out;
    const bytes = materialize(planWrite(index, model.source, edits), model);
    const source = new MemoryByteSource(bytes);
    out.model = {
      path: model.path,
      index: indexModel(source),
      source,
      resolveExternal: model.resolveExternal,
      file: { ...model.file, bytes: bytes.length },
      close: () => undefined,
    };
    return out;
  };

  // Bytes per choice: the model staged with every item at one structure (or none), quantized whole.
  const bytes = new Map(items.map((i) => [i.name, {} as Record<string, number>]));
  for (const s of [undefined, ...structures]) {
    const config = new Map<string, string>();
    for (const i of items) {
      if (!s) config.set(i.name, 'float');
      else if (s.kind === 'rank' && !i.group && lowRankOf(i.weights[0], s)) config.set(i.name, s.id);
      else if (s.kind === 'width' && i.group && importance.has(i.group.name)) config.set(i.name, s.id);
    }
    if (config.size === 0) continue;
    const staged = stage(config);
    // A group the cut leaves alone (too few units) has no width choice.
    const cut = new Set(staged.layers.map((l) => l.name));
    const tensorsOf = (i: ShrinkItem): string[] | undefined => {
      if (!s) return i.weights;
      if (s.kind === 'width') return cut.has(i.group!.name) ? i.weights : undefined;
      const layer = staged.layers.find((l) => l.tensors[0].name === i.weights[0]);
      return layer?.tensors.filter((t) => t.dimsAfter.length > 0).map((t) => t.name);
    };
    const names = new Map<string, string[]>();
    for (const i of items) {
      const t = config.has(i.name) ? tensorsOf(i) : undefined;
      if (t) names.set(i.name, t);
    }
    const tensorBytes = new Map<string, Partial<Record<Precision, number>>>();
    for (const t of staged.model.index.tensors) {
      if (t.graph !== 'main' && t.graph !== '') continue;
      const b = rawByteLength(t.dtype, t.count);
      tensorBytes.set(t.name, { float: b, ...(t.dtype === DataType.FLOAT ? { fp16: b / 2 } : {}) });
    }
    addNbitsBytes(staged.model, precisions, tensorBytes);
    for (const [item, tensors] of names) {
      for (const p of PRECISIONS) {
        if (p !== 'float' && !precisions.includes(p)) continue;
        const each = tensors.map((n) => tensorBytes.get(n)?.[p]);
        if (each.some((b) => b === undefined)) continue;
        bytes.get(item)![choiceId(s, p)] = each.reduce((a, b) => a! + b!, 0)!;
      }
    }
  }
  return { items, bytes, stage };
}
