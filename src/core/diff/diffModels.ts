import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import { dequantizedView } from '../inspect/dequantizedView';
import type { FileSummary } from '../inspect/inspectReport';
import { nodeLabel, summarizeModel } from '../inspect/summarizeModel';
import type { ModelIndex, TensorInfo } from '../onnx/modelIndex';
import { dataTypeName } from '../tensor/dataType';
import { tensorValues } from '../tensor/tensorValues';
import { compareSides, sharedHistograms, sparsityOf, type ValueSide } from './compareValues';
import { changedAttributes, matchNodes } from './matchNodes';
import { logicalDims, matchTensors, type TensorPair, type TensorUse, tensorUses } from './matchTensors';
import type { MetadataDiff, ModelDiff, ModelOverview, NodeChanges, OpsetDiff, TensorDiff } from './modelDiff';

/** One model to compare: its index and where its bytes are. */
export interface DiffInput {
  index: ModelIndex;
  source: ByteSource;
  resolveExternal: ExternalDataResolver;
  file: FileSummary;
}

export interface DiffOptions {
  /** Histogram bins for `histogramA/histogramB` (0: none). */
  bins?: number;
  /** Only these tensors (A's or B's name) get histograms; when absent, every tensor that is not the same. */
  histogramsFor?: Set<string>;
  /** After each tensor pair. */
  onProgress?(done: number, total: number, name: string): void;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Compares two models tensor by tensor (pairs found by name, by the value a Cast/DequantizeLinear gives
 * back, or by consumer position and shape), node by node, and by opsets, IR version and metadata. Values
 * are read one pair at a time, streamed (a pair whose layouts are transposed holds B's weight alone).
 */
export function diffModels(a: DiffInput, b: DiffInput, options: DiffOptions = {}): ModelDiff {
  const nodes = matchNodes(a.index, b.index);
  const usesA = tensorUses(a.index);
  const usesB = tensorUses(b.index);
  const pairs = matchTensors(a.index, b.index, nodes, usesA, usesB);
  const tensors: TensorDiff[] = [];
  pairs.forEach((p, i) => {
    tensors.push(comparePair(a, b, p, usesA, usesB, options));
    options.onProgress?.(i + 1, pairs.length, (p.a ?? p.b)!.name);
  });
  tensors.sort(byInterest);

  const nodeChanges: NodeChanges = { added: [], removed: [], rewritten: [], changed: [] };
  for (const n of a.index.nodes) {
    const id = nodes.aToB.get(n.id);
    if (id === undefined) {
      nodeChanges.removed.push({ name: nodeLabel(n), op: opName(n), graph: n.graph });
      continue;
    }
    const m = b.index.nodes[id];
    if (m.opType !== n.opType || m.domain !== n.domain) {
      nodeChanges.rewritten.push({
        name: nodeLabel(n),
        ...(nodeLabel(m) !== nodeLabel(n) ? { nameB: nodeLabel(m) } : {}),
        graph: n.graph,
        from: opName(n),
        to: opName(m),
      });
      continue;
    }
    const attributes = changedAttributes(n, m);
    if (attributes.length)
      nodeChanges.changed.push({ name: nodeLabel(n), op: opName(n), graph: n.graph, attributes });
  }
  for (const m of b.index.nodes) {
    if (!nodes.bToA.has(m.id)) nodeChanges.added.push({ name: nodeLabel(m), op: opName(m), graph: m.graph });
  }

  const opsets = opsetDiff(a.index, b.index);
  const metadata = metadataDiff(a.index, b.index);
  const irVersion = {
    a: a.index.irVersion,
    b: b.index.irVersion,
    changed: a.index.irVersion !== b.index.irVersion,
  };
  const summary = { same: 0, changed: 0, added: 0, removed: 0 };
  for (const t of tensors) summary[t.status]++;
  const identical =
    tensors.every((t) => t.status === 'same' && t.nameB === undefined) &&
    Object.values(nodeChanges).every((list) => list.length === 0) &&
    opsets.changed.length === 0 &&
    metadata.changed.length === 0 &&
    !irVersion.changed;
  return {
    identical,
    tensors,
    nodes: nodeChanges,
    opsets,
    irVersion,
    metadata,
    a: overview(a),
    b: overview(b),
    summary,
  };
}

const opName = (n: { opType: string; domain: string }) =>
  n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.opType}` : n.opType;

const STATUS_ORDER = { changed: 0, added: 1, removed: 2, same: 3 };

/** Changed first, worst SQNR first (an unmeasured change after the measured ones), then added, removed, same. */
function byInterest(x: TensorDiff, y: TensorDiff): number {
  if (x.status !== y.status) return STATUS_ORDER[x.status] - STATUS_ORDER[y.status];
  if (x.status !== 'changed') return 0;
  const sx = x.weightSqnrDb ?? Infinity;
  const sy = y.weightSqnrDb ?? Infinity;
  if (sx !== sy) return sx - sy;
  return (y.maxAbsError ?? 0) - (x.maxAbsError ?? 0);
}

/** One side's values as its layer reads them (dequantized when stored as codes). */
function sideOf(
  input: DiffInput,
  t: TensorInfo,
  uses: TensorUse[],
  scale: number,
): { side: ValueSide; dequantized: boolean } {
  const dq = dequantizedView(input.index, t, input.source, input.resolveExternal);
  if (dq) {
    return {
      side: { values: dq.values, dims: logicalDims(input.index, t, uses), float32: true, scale },
      dequantized: true,
    };
  }
  return {
    side: {
      values: tensorValues(t, input.source, input.resolveExternal),
      dims: t.dims,
      float32: false,
      scale,
    },
    dequantized: false,
  };
}

function comparePair(
  a: DiffInput,
  b: DiffInput,
  p: TensorPair,
  usesA: Map<number, TensorUse[]>,
  usesB: Map<number, TensorUse[]>,
  options: DiffOptions,
): TensorDiff {
  const ta = p.a;
  const tb = p.b;
  const first = (ta ?? tb)!;
  const row: TensorDiff = {
    name: first.name,
    ...(ta && tb && ta.name !== tb.name ? { nameB: tb.name } : {}),
    graph: first.graph,
    status: !ta ? 'added' : !tb ? 'removed' : 'same',
    ...(p.matchedBy ? { matchedBy: p.matchedBy } : {}),
    dtypeA: ta ? dataTypeName(ta.dtype) : null,
    dtypeB: tb ? dataTypeName(tb.dtype) : null,
    dimsA: ta ? ta.dims : null,
    dimsB: tb ? tb.dims : null,
    bytesA: ta ? ta.storedBytes : null,
    bytesB: tb ? tb.storedBytes : null,
    weightSqnrDb: null,
    maxAbsError: null,
    sparsityA: null,
    sparsityB: null,
  };
  const ua = ta ? (usesA.get(ta.id) ?? []) : [];
  const ub = tb ? (usesB.get(tb.id) ?? []) : [];
  const layerA = ua.find((u) => u.slot === 'B') ?? ua[0];
  const layerB = ub.find((u) => u.slot === 'B') ?? ub[0];
  if (layerA) row.opA = layerA.op;
  if (layerB) row.opB = layerB.op;
  const wantHistogram =
    (options.bins ?? 0) > 0 &&
    (!options.histogramsFor ||
      options.histogramsFor.has(first.name) ||
      (tb !== undefined && options.histogramsFor.has(tb.name)));
  try {
    // A quantizer folds a Gemm's alpha into the weight: the side that still multiplies by it is scaled.
    const alphaA = layerA && layerB?.op === 'MatMulNBits' ? layerA.alpha : 1;
    const alphaB = layerB && layerA?.op === 'MatMulNBits' ? layerB.alpha : 1;
    const sa = ta ? sideOf(a, ta, ua, alphaA) : undefined;
    const sb = tb ? sideOf(b, tb, ub, alphaB) : undefined;
    if (sa?.dequantized) row.dequantizedA = true;
    if (sb?.dequantized) row.dequantizedB = true;
    if (sa && sb) {
      const countA = sa.side.values.count;
      const countB = sb.side.values.count;
      if (countA !== countB) {
        row.status = 'changed';
        row.note = `A holds ${countA} values, B ${countB}: not compared value by value`;
        row.sparsityA = sparsityOf(sa.side);
        row.sparsityB = sparsityOf(sb.side);
      } else {
        const transpose =
          layerA?.orientation !== undefined &&
          layerB?.orientation !== undefined &&
          layerA.orientation !== layerB.orientation &&
          sa.side.dims.length === 2;
        const f = compareSides(sa.side, sb.side, transpose);
        row.sparsityA = f.sparsityA;
        row.sparsityB = f.sparsityB;
        row.maxAbsError = f.nonFiniteMismatch > 0 ? null : f.maxAbsError;
        if (f.error > 0) row.weightSqnrDb = f.signal > 0 ? round3(10 * Math.log10(f.signal / f.error)) : null;
        if (f.nonFiniteMismatch > 0)
          row.note = `${f.nonFiniteMismatch} values are NaN or infinite on one side only`;
        const sameForm =
          ta!.dtype === tb!.dtype && sameDims(ta!.dims, tb!.dims) && !sa.dequantized === !sb.dequantized;
        if (!f.equal || !sameForm) row.status = 'changed';
      }
    } else {
      const only = (sa ?? sb)!;
      const s = sparsityOf(only.side);
      if (sa) row.sparsityA = s;
      else row.sparsityB = s;
    }
    // Without names, only tensors that differ: a tensor left as it was has two equal histograms.
    if (wantHistogram && (options.histogramsFor || row.status !== 'same')) {
      const sides = [sa?.side, sb?.side];
      const hs = sharedHistograms(
        sides.filter((s): s is ValueSide => s !== undefined),
        options.bins!,
      );
      if (sa) row.histogramA = hs[0];
      if (sb) row.histogramB = hs[sa ? 1 : 0];
    }
  } catch (e) {
    row.note = `values not compared: ${(e as Error).message}`;
    if (
      ta &&
      tb &&
      (ta.dtype !== tb.dtype || !sameDims(ta.dims, tb.dims) || ta.storedBytes !== tb.storedBytes)
    )
      row.status = 'changed';
  }
  return row;
}

const sameDims = (x: number[], y: number[]) => x.length === y.length && x.every((d, i) => d === y[i]);

function opsetDiff(a: ModelIndex, b: ModelIndex): OpsetDiff {
  const map = (index: ModelIndex) =>
    Object.fromEntries(index.opsets.map((o) => [o.domain || 'ai.onnx', o.version]));
  const oa = map(a);
  const ob = map(b);
  const domains = [...new Set([...Object.keys(oa), ...Object.keys(ob)])];
  return {
    a: oa,
    b: ob,
    changed: domains
      .filter((d) => oa[d] !== ob[d])
      .map((domain) => ({ domain, a: oa[domain] ?? null, b: ob[domain] ?? null })),
  };
}

function metadataDiff(a: ModelIndex, b: ModelIndex): MetadataDiff {
  const map = (index: ModelIndex) => Object.fromEntries(index.metadata.map((m) => [m.key, m.value]));
  const ma = map(a);
  const mb = map(b);
  const keys = [...new Set([...Object.keys(ma), ...Object.keys(mb)])];
  return {
    a: ma,
    b: mb,
    changed: keys
      .filter((k) => ma[k] !== mb[k])
      .map((key) => ({ key, a: ma[key] ?? null, b: mb[key] ?? null })),
  };
}

function overview(input: DiffInput): ModelOverview {
  const { model } = summarizeModel(input.index, input.file);
  return {
    path: input.file.path,
    bytes: input.file.bytes + input.file.externalFiles.reduce((s, f) => s + f.bytes, 0),
    irVersion: model.irVersion,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets: model.opsets,
    parameters: model.parameters,
    weightBytes: model.weightBytes,
    nodeCount: model.nodeCount,
    ops: model.ops,
    tensors: input.index.tensors.length,
  };
}
