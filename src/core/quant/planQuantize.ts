import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex, NodeInfo, TensorInfo } from '../onnx/modelIndex';
import { DataType, rawByteLength } from '../tensor/dataType';
import { allFinite } from '../tensor/allFinite';
import { encodeFloat16 } from '../tensor/float16';
import { tensorValues } from '../tensor/tensorValues';
import { emptyPlan, type TransformPlan } from '../transform/transformPlan';
import type { SkippedRow } from '../transform/transformReport';
import { uniqueName as unique, usedNames } from '../write/newNames';
import type { Piece } from '../write/pieces';
import type { NewNode } from '../write/protoEncode';
import { quantizeBlockwise, sqnrDb, type BlockwiseWeight } from './quantizeBlockwise';
import type { QuantMethod } from './dataAwareQuantize';
import { planEmbeddingQuantize } from './planEmbedding';
import { quantTargets } from './quantTargets';
import { type LmHeadPrecision, lmHeadWeights } from './lmHead';
import { weightReader } from './weightReader';
import type { WeightRows } from '../simd/quantizeKernels';

/** What to quantize and how. */
export interface QuantizeOptions {
  bits: 2 | 4 | 8;
  /** Power of two, 16–256 (default 32). */
  blockSize: number;
  symmetric: boolean;
  /** MatMulNBits accuracy_level: 0 unset, 4 = int8 activations (the fast CPU path; default). */
  accuracyLevel: number;
  /** Op types to quantize (default MatMul and Gemm). */
  ops: string[];
  /** Nodes or weights whose name matches are left in float. */
  exclude?: RegExp;
  /** When set, only weights (or nodes reading them) whose name matches are quantized (`--only`). */
  only?: RegExp;
  /** Weights with fewer elements are left in float (default 0). */
  minElements: number;
  /**
   * Token embeddings (Gather of a float [V, H] initializer) to com.microsoft::GatherBlockQuantized at
   * these bits (`--embedding 4|8`), block `blockSize`; undefined leaves them in float.
   */
  embedding?: 4 | 8;
  /**
   * A language model's head (lmHeadWeights) at other bits, or left in float (`--lm-head`); undefined
   * quantizes it like the other weights.
   */
  lmHead?: LmHeadPrecision;
}

export const DEFAULT_QUANTIZE_OPTIONS: QuantizeOptions = {
  bits: 4,
  blockSize: 32,
  symmetric: false,
  accuracyLevel: 4,
  ops: ['MatMul', 'Gemm'],
  minElements: 0,
};

/** One quantized weight, for the report. */
export interface QuantizedTensorRow {
  name: string;
  graph: string;
  /** The ops that read it (`MatMul`, `Gemm`, …). */
  op: string;
  nodes: string[];
  dims: number[];
  beforeDtype: string;
  afterDtype: string;
  beforeBytes: number;
  /** Codes + scales + zero points. */
  afterBytes: number;
  weightSqnrDb: number;
  /** False when another reader still needs the float weight (it stays in the model). */
  removed: boolean;
  /** With --method search|gptq: the method whose codes were kept, and its layer gain over RTN (dB). */
  method?: QuantMethod;
  layerGainDb?: number;
  /** The language model's head, quantized at its own precision (`--lm-head`). */
  lmHead?: true;
}

/** One node the plan rewrites. */
export interface NodeChange {
  node: string;
  graph: string;
  from: string;
  to: string;
  weight: string;
  /** Gemm specifics: folded alpha/beta, bias input or Add kept after. */
  note?: string;
}

/** A candidate left in float, and why. */
export type SkippedTarget = SkippedRow;

export type QuantizePlan = TransformPlan<QuantizedTensorRow>;

/**
 * Where the bytes of new tensors go: kept in memory (the default), or spilled to a file by the runtime
 * and referenced as pieces, so a multi-GB model's quantized tensors are never all in memory at once.
 */
export type TensorSink = (bytes: Uint8Array) => Uint8Array | Piece[];

const inMemory: TensorSink = (bytes) => bytes;

/** How another transform composes with quantization (planPruneInt4: the pruned values, the pruned weights). */
export interface QuantizeHooks {
  /** A weight's values instead of its stored ones (undefined: NaN or infinite values). */
  read?(t: TensorInfo): Float32Array | undefined;
  /** Only these weights are quantized; the others are passed over without a skipped row. */
  accept?(t: TensorInfo): boolean;
  /** A weight's codes instead of round-to-nearest (the data-aware methods): only the values differ. */
  quantizeWeight?: WeightQuantizer;
  /**
   * For a weight quantized elsewhere (another thread), whether its values are all finite; its codes then
   * come from `quantizeWeight` and it is not read here. Undefined: read and check it here.
   */
  finite?(t: TensorInfo): boolean | undefined;
}

export type Layout = 'KN' | 'NK';

/**
 * Chooses the codes of one weight instead of round-to-nearest (the data-aware methods): the weight as one
 * reader takes it (`layout`, `alpha` folded in, K×N), or undefined to round it to nearest.
 */
export type WeightQuantizer = (
  t: TensorInfo,
  layout: Layout,
  alpha: number,
  K: number,
  N: number,
) => BlockwiseWeight | undefined;

/** One MatMul/Gemm that planQuantize rewrites: how it reads its weight and what it multiplies it by. */
export interface MatMulNBitsUse {
  tensor: TensorInfo;
  node: NodeInfo;
  layout: Layout;
  alpha: number;
  K: number;
  N: number;
  /** The activation A (input 0) whose rows multiply the weight. */
  activation: string;
}

/** The readers planQuantize would rewrite with `options` (weights skipped for NaN values aside). */
export function matMulNBitsUses(index: ModelIndex, options: QuantizeOptions): MatMulNBitsUse[] {
  const ops = new Set(options.ops);
  const out: MatMulNBitsUse[] = [];
  const heads = ownPrecision(index, options);
  for (const { tensor, uses } of quantTargets(
    index,
    options,
    [],
    (node, t) => (heads.has(t.id) ? undefined : asUse(index, node, ops)),
    notDense2D,
  )) {
    for (const u of uses) {
      const [K, N] = u.layout === 'KN' ? tensor.dims : [tensor.dims[1], tensor.dims[0]];
      out.push({
        tensor,
        node: u.node,
        layout: u.layout,
        alpha: u.alpha,
        K,
        N,
        activation: u.node.inputs[0],
      });
    }
  }
  return out;
}

const notDense2D = (t: TensorInfo) =>
  t.dims.length !== 2 || t.sparse ? `${t.name} is not a dense 2-D weight` : undefined;

interface Use {
  node: NodeInfo;
  layout: Layout;
  alpha: number;
}

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16]);

/**
 * Plans a weight-only quantization to `com.microsoft::MatMulNBits`: every `MatMul` whose B is a constant
 * 2-D float32/float16 weight and every `Gemm` with transA=0 (transB 0 or 1, alpha folded into the weight,
 * beta*C becoming the bias input when C is a constant of N values, else an Add kept after). Weights may
 * sit in initializers, Constant nodes or subgraphs; a weight read by several nodes is quantized once and
 * all of them read the same new initializers, added in the weight's own graph. The float weight is removed
 * when nothing else reads it. Returns the writer's edits and the report rows; reads each weight once.
 * `hooks` let another transform supply the values, pick the weights or choose the codes (data-aware methods).
 */
export function planQuantize(
  index: ModelIndex,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  options: QuantizeOptions,
  sink: TensorSink = inMemory,
  hooks: QuantizeHooks = {},
): QuantizePlan {
  const plan: QuantizePlan = emptyPlan();
  const ops = new Set(options.ops);
  if (ops.has('Conv')) plan.warnings.push('Conv needs the portable DequantizeLinear format: left in float');
  if (options.bits === 2)
    plan.warnings.push('2-bit weights lose much more than 4-bit: check the verification figures');
  const names = usedNames(index);
  const removedTensors = new Set<number>();
  const read = (x: TensorInfo) => (hooks.read ? hooks.read(x) : readFloat32(x, source, resolveExternal));
  // A raw float32 weight is read as it is quantized, a few rows at a time (weightReader).
  const readWeight =
    hooks.read ?? weightReader(source, resolveExternal, (x) => readFloat32(x, source, resolveExternal));
  const targets = quantTargets(
    index,
    options,
    plan.skipped,
    (node, t) => (hooks.accept && !hooks.accept(t) ? undefined : asUse(index, node, ops)),
    notDense2D,
  );

  const heads = ownPrecision(index, options);
  for (const { tensor: t, uses, others, skip, row } of targets) {
    const head = heads.get(t.id);
    if (head === 'float') {
      skip(`${t.name} is the LM head: left in float (--lm-head float)`);
      continue;
    }
    // The head at its own bits is rounded to nearest here: the other threads' codes are at options.bits.
    const o = head === undefined ? options : { ...options, bits: head };
    const elsewhere = head === undefined ? hooks.finite?.(t) : undefined;
    const values = elsewhere === undefined ? readWeight(t) : undefined;
    // One quantization per layout: a weight read as MatMul B [K, N] and as Gemm transB=1 B [N, K] is two.
    // All are made before any edit, as a weight read while it is quantized can turn out to hold a NaN.
    const quantized = new Map<string, BlockwiseWeight | undefined>();
    if (elsewhere !== false && (elsewhere === true || values)) {
      for (const u of uses) {
        const key = useKey(u.layout, u.alpha);
        if (quantized.has(key)) continue;
        const [K, N] = u.layout === 'KN' ? t.dims : [t.dims[1], t.dims[0]];
        quantized.set(
          key,
          (head === undefined ? hooks.quantizeWeight?.(t, u.layout, u.alpha, K, N) : undefined) ??
            roundToNearest(values ?? missing(t), t, o, u.layout, u.alpha, K, N),
        );
        if (!quantized.get(key)) break;
      }
    }
    if (quantized.size === 0 || [...quantized.values()].some((q) => !q)) {
      skip(`${t.name} holds NaN or infinite values`);
      continue;
    }
    const byKey = new Map<string, { q: BlockwiseWeight; b: string; scales: string; zp?: string }>();
    let rowQ: BlockwiseWeight | undefined;
    let afterBytes = 0;
    for (const u of uses) {
      const [K, N] = u.layout === 'KN' ? t.dims : [t.dims[1], t.dims[0]];
      const key = useKey(u.layout, u.alpha);
      let entry = byKey.get(key);
      if (!entry) {
        const q = quantized.get(key)!;
        const base = byKey.size === 0 ? t.name : `${t.name}_${u.layout}`;
        entry = {
          q,
          b: unique(names, `${base}_Q${o.bits}`),
          scales: unique(names, `${base}_scales`),
          zp: q.zeroPoints ? unique(names, `${base}_zp`) : undefined,
        };
        byKey.set(key, entry);
        plan.edits.push(
          {
            kind: 'addTensor',
            graph: t.graph,
            name: entry.b,
            tensor: {
              dtype: DataType.UINT8,
              dims: [N, q.kBlocks, (o.blockSize * o.bits) / 8],
              data: sink(q.b),
            },
          },
          {
            kind: 'addTensor',
            graph: t.graph,
            name: entry.scales,
            tensor: { dtype: t.dtype, dims: [N * q.kBlocks], data: sink(q.scaleBytes) },
          },
        );
        afterBytes += q.b.length + q.scaleBytes.length;
        if (q.zeroPoints && entry.zp) {
          plan.edits.push({
            kind: 'addTensor',
            graph: t.graph,
            name: entry.zp,
            tensor: { dtype: DataType.UINT8, dims: [q.zeroPoints.length], data: sink(q.zeroPoints) },
          });
          afterBytes += q.zeroPoints.length;
        }
        rowQ ??= q;
      }
      const { nodes, note, biasTensor } = rewriteNode(index, u, entry, K, N, o, names, t.dtype, read);
      plan.edits.push({ kind: 'replaceNode', nodeId: u.node.id, nodes });
      if (biasTensor) {
        plan.edits.push({
          kind: 'addTensor',
          graph: t.graph,
          name: biasTensor.name,
          tensor: biasTensor.data,
        });
      }
      plan.nodes.push({
        node: u.node.name || `#${u.node.id}`,
        graph: u.node.graph,
        from: u.node.opType,
        to: 'com.microsoft::MatMulNBits',
        weight: t.name,
        note,
      });
    }
    const removed = others.length === 0;
    if (removed) {
      plan.edits.push({ kind: 'removeTensor', tensorId: t.id });
      removedTensors.add(t.id);
    }
    plan.tensors.push({
      ...row,
      afterDtype: `uint${o.bits} (MatMulNBits, block ${o.blockSize}${o.symmetric ? ', symmetric' : ''})`,
      beforeBytes: rawByteLength(t.dtype, t.count),
      afterBytes,
      weightSqnrDb: rowQ ? round3(sqnrDb(rowQ.signalEnergy, rowQ.errorEnergy)) : NaN,
      removed,
      ...(head === undefined ? {} : { lmHead: true as const }),
    });
  }
  // A Gemm's C folded into a new bias is no longer read: drop it too.
  dropUnreadBiases(index, plan, removedTensors);
  if (options.embedding)
    planEmbeddingQuantize(
      index,
      source,
      resolveExternal,
      plan,
      { bits: options.embedding, blockSize: options.blockSize },
      sink,
    );
  if (
    plan.nodes.length > 0 &&
    !index.opsets.some((o) => o.domain === 'com.microsoft') &&
    !plan.opsetChanges.includes('com.microsoft 1 added')
  ) {
    plan.edits.push({ kind: 'setOpset', domain: 'com.microsoft', version: 1 });
    plan.opsetChanges.push('com.microsoft 1 added');
  }
  return plan;
}

/** Readers of a weight that take it in the same layout with the same alpha share one quantization. */
export function useKey(layout: Layout, alpha: number): string {
  return `${layout}:${alpha}`;
}

/**
 * Round-to-nearest codes of a weight as one reader takes it: what planQuantize writes without hooks
 * (undefined when a weight read as it is quantized turns out to hold a NaN or an infinity).
 */
export function roundToNearest(
  values: Float32Array | WeightRows,
  t: TensorInfo,
  options: Pick<QuantizeOptions, 'bits' | 'blockSize' | 'symmetric'>,
  layout: Layout,
  alpha: number,
  K: number,
  N: number,
): BlockwiseWeight | undefined {
  const scaleType = t.dtype === DataType.FLOAT16 ? 'float16' : 'float32';
  const { bits, blockSize, symmetric } = options;
  return quantizeBlockwise(values, K, N, { bits, blockSize, symmetric, scaleType }, layout, alpha);
}

function missing(t: TensorInfo): never {
  throw new Error(`${t.name} was quantized elsewhere, but not for every reader`);
}

/** Which node reads a weight at input 1 in a way MatMulNBits can take; a string says why not. */
function asUse(index: ModelIndex, node: NodeInfo, ops: Set<string>): Use | string | undefined {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return undefined;
  if (node.opType === 'MatMul' && ops.has('MatMul')) return { node, layout: 'KN', alpha: 1 };
  if (node.opType !== 'Gemm' || !ops.has('Gemm')) return undefined;
  const attr = (name: string, fallback: number) => {
    const a = node.attributes.find((x) => x.name === name);
    return a?.i ?? a?.f ?? fallback;
  };
  if (attr('transA', 0) !== 0) return 'Gemm with transA=1 is left in float';
  const alpha = attr('alpha', 1);
  const c = node.inputs[2];
  if (c && Math.fround(attr('beta', 1)) !== 1 && !findTensor(index, node, c)) {
    return 'Gemm with beta != 1 and a computed C is left in float';
  }
  return { node, layout: attr('transB', 0) ? 'NK' : 'KN', alpha: Math.fround(alpha) };
}

/** The LM head weights that take a precision of their own (none when `--lm-head` equals `--bits`). */
function ownPrecision(index: ModelIndex, options: QuantizeOptions): Map<number, LmHeadPrecision> {
  const p = options.lmHead;
  if (p === undefined || p === options.bits) return new Map();
  return new Map(lmHeadWeights(index).map((t) => [t.id, p]));
}

/** The MatMulNBits node (and an Add for a Gemm bias that is not N values) replacing one reader. */
function rewriteNode(
  index: ModelIndex,
  u: Use,
  entry: { b: string; scales: string; zp?: string },
  K: number,
  N: number,
  options: QuantizeOptions,
  names: Set<string>,
  dtype: number,
  read: (t: TensorInfo) => Float32Array | undefined,
): {
  nodes: NewNode[];
  note?: string;
  biasTensor?: { name: string; data: { dtype: number; dims: number[]; data: Uint8Array } };
} {
  const n = u.node;
  const attributes = [
    { name: 'K', i: K },
    { name: 'N', i: N },
    { name: 'bits', i: options.bits },
    { name: 'block_size', i: options.blockSize },
    { name: 'accuracy_level', i: options.accuracyLevel },
  ];
  const inputs = [n.inputs[0], entry.b, entry.scales, entry.zp ?? ''];
  const mm = (outputs: string[], extra: string[] = []): NewNode => ({
    opType: 'MatMulNBits',
    domain: 'com.microsoft',
    name: n.name || undefined,
    inputs: [...inputs, ...extra],
    outputs,
    attributes,
  });
  if (n.opType === 'MatMul') return { nodes: [mm(n.outputs)] };

  const notes: string[] = [`transB=${u.layout === 'NK' ? 1 : 0}`];
  if (u.alpha !== 1) notes.push(`alpha ${u.alpha} folded into the weight`);
  const cName = n.inputs[2];
  if (!cName) return { nodes: [mm(n.outputs)], note: notes.join(', ') };
  const betaAttr = n.attributes.find((a) => a.name === 'beta');
  const beta = Math.fround(betaAttr?.f ?? 1);
  const c = findTensor(index, n, cName);
  if (c && c.count === N && c.dims.at(-1) === N && c.dtype === dtype && FLOAT_TYPES.has(c.dtype)) {
    if (beta === 1 && c.dims.length === 1) {
      notes.push('C is the bias input');
      return { nodes: [mm(n.outputs, ['', cName])], note: notes.join(', ') };
    }
    // beta*C as a new [N] bias (values read from the constant).
    const biasName = unique(names, `${cName}_bias`);
    notes.push(`beta*C folded into bias ${biasName}`);
    return {
      nodes: [mm(n.outputs, ['', biasName])],
      note: notes.join(', '),
      biasTensor: { name: biasName, data: { dtype, dims: [N], data: scaledBytes(read, c, beta, dtype) } },
    };
  }
  // C broadcasts over rows (or is not a constant): keep an Add after the MatMulNBits.
  const tmp = unique(names, `${n.outputs[0]}_matmul`);
  const add: NewNode = {
    opType: 'Add',
    name: n.name ? `${n.name}_bias` : undefined,
    inputs: [tmp, cName],
    outputs: n.outputs,
  };
  if (beta !== 1) {
    if (!c) throw new Error('unreachable: non-constant C with beta != 1 is filtered before');
    const scaled = unique(names, `${cName}_beta`);
    notes.push(`Add kept after, C scaled by beta into ${scaled}`);
    return {
      nodes: [mm([tmp]), { ...add, inputs: [tmp, scaled] }],
      note: notes.join(', '),
      biasTensor: {
        name: scaled,
        data: { dtype: c.dtype, dims: c.dims, data: scaledBytes(read, c, beta, c.dtype) },
      },
    };
  }
  notes.push('Add kept after (C is not N values)');
  return { nodes: [mm([tmp]), add], note: notes.join(', ') };
}

/** The constant tensor a node input names (searched from the node's graph outwards), if any. */
function findTensor(index: ModelIndex, node: NodeInfo, name: string): TensorInfo | undefined {
  return index.tensors.find((t) => t.name === name && t.consumers.some((c) => c.nodeId === node.id));
}

/** A tensor's values times `factor`, as raw bytes of `dtype` (float32 or float16). */
function scaledBytes(
  read: (t: TensorInfo) => Float32Array | undefined,
  t: TensorInfo,
  factor: number,
  dtype: number,
): Uint8Array {
  const original = read(t);
  if (!original) throw new Error(`${t.name} holds NaN or infinite values`);
  const values = original.map((v) => Math.fround(v * factor));
  if (dtype === DataType.FLOAT16) {
    const h = encodeFloat16(values);
    return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
  }
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * A weight's values as float32 (one copy), or undefined when one is NaN or infinite. The tensor is read as
 * one chunk: a float32 payload then arrives in a buffer of its own (a large positioned read), which is used
 * as it is instead of being copied again; a view into shared memory (a small read's scratch buffer, a
 * model held in memory) is copied, since later reads may overwrite it.
 */
export function readFloat32(
  t: TensorInfo,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
): Float32Array | undefined {
  if (t.count === 0) return new Float32Array(0);
  let out: Float32Array | undefined;
  let at = 0;
  for (const chunk of tensorValues(t, source, resolveExternal, { chunkElements: t.count }).chunks()) {
    if (!allFinite(chunk)) return undefined;
    const own =
      chunk instanceof Float32Array &&
      chunk.length === t.count &&
      chunk.byteLength === chunk.buffer.byteLength;
    if (own && at === 0) return chunk;
    out ??= new Float32Array(t.count);
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Gemm biases replaced by a new folded bias and read by nothing else. */
function dropUnreadBiases(index: ModelIndex, plan: QuantizePlan, removed: Set<number>): void {
  const inputs = new Map(index.graphs.map((g) => [g.path, new Set(g.inputs.map((i) => i.name))]));
  const replaced = new Set(plan.edits.flatMap((e) => (e.kind === 'replaceNode' ? [e.nodeId] : [])));
  const stillRead = new Set<string>();
  for (const e of plan.edits)
    if (e.kind === 'replaceNode') for (const n of e.nodes) for (const i of n.inputs) stillRead.add(i);
  for (const t of index.tensors) {
    if (removed.has(t.id) || t.consumers.length === 0) continue;
    if (!t.consumers.every((c) => replaced.has(c.nodeId))) continue;
    if (stillRead.has(t.name) || inputs.get(t.graph)?.has(t.name)) continue;
    plan.edits.push({ kind: 'removeTensor', tensorId: t.id });
    removed.add(t.id);
  }
}

function round3(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;
}
