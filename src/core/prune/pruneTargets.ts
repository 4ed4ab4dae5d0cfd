import type { WeightLayout } from '../stats/tensorStats';
import type { ModelIndex, NodeInfo, TensorInfo } from '../onnx/modelIndex';
import { weightLayout } from '../onnx/weightLayout';
import { DataType, dataTypeName } from '../tensor/dataType';
import type { SkippedRow } from '../transform/transformReport';

/**
 * What a float tensor is to the ops that read it:
 * - `matrix`: the weight of a MatMul, Gemm, Conv, ConvTranspose, recurrent or attention projection;
 * - `embedding`: a lookup table (Gather, EmbedLayerNormalization);
 * - `norm`: a normalization's scale or shift;
 * - `bias`: a bias input, or a 1-D parameter read elementwise (biases, per-channel scales);
 * - `other`: a learned weight read by anything else (PRelu slopes, 2-D tables added or multiplied);
 * - `constant`: a float tensor that is not a learned weight (DFT bases, mel filters, scalars).
 */
export type PruneKind = 'matrix' | 'embedding' | 'norm' | 'bias' | 'other' | 'constant';

/** Kinds pruned only when asked (`--include`). */
export type OptionalKind = 'bias' | 'norm' | 'embedding' | 'constant';
export const OPTIONAL_KINDS: readonly OptionalKind[] = ['bias', 'norm', 'embedding', 'constant'];

/** Float types whose values can be pruned and written back bit-exactly (except the zeros). */
export const PRUNABLE_TYPES: ReadonlySet<number> = new Set([
  DataType.FLOAT,
  DataType.FLOAT16,
  DataType.BFLOAT16,
]);

type Slots = Partial<Record<PruneKind, number[] | '*'>>;

/** Per op type, which input slots hold which kind of parameter. */
const SLOTS: Record<string, Slots> = {
  MatMul: { matrix: [0, 1] },
  FusedMatMul: { matrix: [0, 1] },
  Gemm: { matrix: [0, 1], bias: [2] },
  Conv: { matrix: [1], bias: [2] },
  FusedConv: { matrix: [1], bias: [2] },
  ConvTranspose: { matrix: [1], bias: [2] },
  LSTM: { matrix: [1, 2], bias: [3] },
  GRU: { matrix: [1, 2], bias: [3] },
  RNN: { matrix: [1, 2], bias: [3] },
  Einsum: { matrix: '*' },
  Attention: { matrix: [1], bias: [2] },
  MultiHeadAttention: { bias: [3] },
  Gather: { embedding: [0] },
  GatherND: { embedding: [0] },
  GatherElements: { embedding: [0] },
  EmbedLayerNormalization: { embedding: [2, 3, 4], norm: [5, 6] },
  LayerNormalization: { norm: [1, 2] },
  SimplifiedLayerNormalization: { norm: [1] },
  SkipLayerNormalization: { norm: [2, 3], bias: [4] },
  SkipSimplifiedLayerNormalization: { norm: [2], bias: [3] },
  BatchNormalization: { norm: [1, 2, 3, 4] },
  InstanceNormalization: { norm: [1, 2] },
  GroupNormalization: { norm: [1, 2] },
  BiasGelu: { bias: [1] },
  FastGelu: { bias: [1] },
  BiasAdd: { bias: [1, 2] },
};

/** When readers disagree, the most protective kind wins: a tied embedding/projection stays an embedding. */
const PRECEDENCE: PruneKind[] = ['norm', 'embedding', 'matrix', 'bias', 'other'];

/** Ops whose weights have a reduction and an output-channel axis (N:M and channel pruning work on these). */
const LAYOUT_OPS = new Set([
  'MatMul',
  'FusedMatMul',
  'Gemm',
  'Conv',
  'FusedConv',
  'ConvTranspose',
  'Attention',
]);

/**
 * Names exporters give fixed signal-processing tensors that ops read like weights (STFT/DFT bases, windows,
 * mel filter banks, PyTorch buffers). Unnamed ones (tf2onnx's `const_fold_opt__N`) cannot be told apart:
 * leave them out with --exclude.
 */
export const FIXED_NAME =
  /(basis|window|mel_?filter|filter_?bank|fbank|(^|[^a-z])(dft|stft|cqt)([^a-z]|$)|buffer)/i;

/** The kind of a tensor, from its role, its name and the op/slot of every reader. */
export function pruneKind(index: ModelIndex, t: TensorInfo): PruneKind {
  if (t.role !== 'weight' || FIXED_NAME.test(t.name)) return 'constant';
  const found = new Set<PruneKind>();
  for (const c of t.consumers) {
    const node = index.nodes[c.nodeId];
    const slots = SLOTS[node.opType];
    let kind: PruneKind | undefined;
    if (slots) {
      for (const [k, s] of Object.entries(slots) as [PruneKind, number[] | '*'][]) {
        if (s === '*' || s.includes(c.input)) kind = k;
      }
    }
    found.add(kind ?? (t.dims.length <= 1 ? 'bias' : 'other'));
  }
  return PRECEDENCE.find((k) => found.has(k)) ?? (t.dims.length <= 1 ? 'bias' : 'other');
}

/**
 * The layout every layout-aware reader agrees on (reduction and output-channel axes), or a reason why
 * there is none.
 */
export function agreedLayout(index: ModelIndex, t: TensorInfo): WeightLayout | string {
  let agreed: WeightLayout | undefined;
  for (const c of t.consumers) {
    const node = index.nodes[c.nodeId];
    if (!LAYOUT_OPS.has(node.opType)) continue;
    const layout = weightLayout(index, { ...t, consumers: [c] });
    if (!layout) continue;
    if (
      agreed &&
      (agreed.reductionAxis !== layout.reductionAxis || agreed.channelAxis !== layout.channelAxis)
    ) {
      return `its readers sum over different axes (${agreed.reductionAxis} and ${layout.reductionAxis})`;
    }
    agreed = layout;
  }
  return agreed ?? 'no MatMul, Gemm or Conv reads it with a known reduction axis';
}

/** A weight the planner will prune. */
export interface PruneTarget {
  tensor: TensorInfo;
  kind: PruneKind;
  /** Op types that read it (`MatMul`, `Conv+Add`, …). */
  op: string;
  nodes: string[];
  /** Set for the N:M and channel methods. */
  layout?: WeightLayout;
}

/** A tensor left alone, and why. */
export type SkippedTensor = SkippedRow;

export interface TargetOptions {
  /** Kinds pruned besides `matrix` and `other`. */
  include: readonly OptionalKind[];
  /** Keep the first and the last matrix layer (in graph order) dense. */
  keepFirstLast: boolean;
  /** Weights (or nodes reading them) whose name matches are left alone. */
  exclude?: RegExp;
  /** N:M and channel pruning need a reduction / output-channel axis. */
  needsLayout: boolean;
  /** N:M: skip weights whose reduction axis holds N weights or fewer (nothing to thin). */
  nmN?: number;
}

/**
 * The weights to prune, in model order, and the ones left alone with the reason. Only float32, float16 and
 * bfloat16 weights read by some node qualify; biases, norms, embeddings and fixed constants only when
 * `include` names them. Tensors inside function bodies are skipped (they are templates, not one layer).
 */
export function selectTargets(
  index: ModelIndex,
  options: TargetOptions,
): { targets: PruneTarget[]; skipped: SkippedTensor[] } {
  const targets: PruneTarget[] = [];
  const skipped: SkippedTensor[] = [];
  const include = new Set<PruneKind>(['matrix', 'other', ...options.include]);
  const graphs = new Map(index.graphs.map((g) => [g.path, g]));
  for (const t of index.tensors) {
    if (t.consumers.length === 0) continue;
    const readers = t.consumers.map((c) => index.nodes[c.nodeId]);
    const op = [...new Set(readers.map((n) => n.opType))].join('+');
    const skip = (reason: string) => skipped.push({ name: t.name, op, reason });
    if (t.role === 'shape') continue;
    const kind = pruneKind(index, t);
    if (!include.has(kind)) {
      // Only say so for tensors someone might have expected to be pruned.
      if (kind !== 'constant' || t.count >= 16) skip(`${kind} (add --include ${kind} to prune it)`);
      continue;
    }
    if (!PRUNABLE_TYPES.has(t.dtype)) {
      skip(`${dataTypeName(t.dtype)} (float32, float16 and bfloat16 are pruned)`);
      continue;
    }
    if (graphs.get(t.graph)?.kind === 'function') {
      skip('lives in a function body');
      continue;
    }
    if (
      options.exclude &&
      (options.exclude.test(t.name) || readers.some((n) => options.exclude!.test(n.name)))
    ) {
      skip('excluded by --exclude');
      continue;
    }
    let layout: WeightLayout | undefined;
    if (options.needsLayout) {
      const l = agreedLayout(index, t);
      if (typeof l === 'string') {
        skip(l);
        continue;
      }
      if (options.nmN !== undefined && l.dims[l.reductionAxis] <= options.nmN) {
        skip(
          `its reduction axis ${l.reductionAxis} holds ${l.dims[l.reductionAxis]} weights (depthwise?): no N:M group to thin`,
        );
        continue;
      }
      layout = l;
    }
    targets.push({ tensor: t, kind, op, nodes: readers.map(nodeLabel), layout });
  }
  if (options.keepFirstLast) {
    const layers = targets
      .filter((x) => x.kind === 'matrix')
      .map((x) => ({ x, at: Math.min(...x.tensor.consumers.map((c) => c.nodeId)) }))
      .sort((a, b) => a.at - b.at);
    const keep = new Map<PruneTarget, string>();
    if (layers.length > 0) keep.set(layers[0].x, 'first layer kept dense (--keep-first-last)');
    if (layers.length > 1) keep.set(layers[layers.length - 1].x, 'last layer kept dense (--keep-first-last)');
    for (const [x, reason] of keep) skipped.push({ name: x.tensor.name, op: x.op, reason });
    return { targets: targets.filter((x) => !keep.has(x)), skipped };
  }
  return { targets, skipped };
}

export function nodeLabel(n: NodeInfo): string {
  return n.name || `#${n.id} ${n.opType}`;
}
