import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex, TensorInfo } from '../onnx/modelIndex';
import type { QuantizedTensorRow, TensorSink } from '../quant/planQuantize';
import { DataType, dataTypeName, rawByteLength } from '../tensor/dataType';
import { encodeBfloat16, encodeFloat16 } from '../tensor/float16';
import { tensorValues } from '../tensor/tensorValues';
import { emptyPlan, type TransformPlan } from '../transform/transformPlan';
import { channelKeepMask, nmKeepMask } from './keepPatterns';
import { rawFloat32At, readFloat32Into } from '../tensor/readFloat32Into';
import type { LazyTensors } from '../write/lazyTensors';
import { type GlobalCut, globalMagnitudeCut, magnitudeCut } from './magnitudeCut';
import { type ZeroCounts, zeroBelowCut, zeroDropped } from './zeroPruned';
import { pruneScratch } from '../simd/pruneSimd';
import {
  nodeLabel,
  type OptionalKind,
  PRUNABLE_TYPES,
  type PruneKind,
  type PruneTarget,
  selectTargets,
} from './pruneTargets';
import type { KeepMask } from './safetensors';
import type { DataAwarePruneMethod } from './dataAwarePrune';

/** How to prune (DESIGN.md "Sparsity"; issue 5). */
export interface PruneOptions {
  /**
   * magnitude: unstructured; nm: N of every M along the reduction axis; channel: whole output channels;
   * wanda, sparsegpt: chosen on calibration activations by the runtime (hooks.decided), unstructured or N:M
   * (`semiStructured`); the weights it did not decide get magnitude (or nm) pruning.
   */
  method: 'magnitude' | 'nm' | 'channel' | DataAwarePruneMethod;
  /** wanda, sparsegpt: N of every M (`n`, `m`) along the reduction axis instead of `sparsity`. */
  semiStructured?: boolean;
  /** magnitude: the fraction of weights to zero; channel: the fraction of output channels. */
  sparsity: number;
  /** magnitude only: the same fraction in every weight, or one threshold across all of them. */
  scope: 'layer' | 'global';
  n: number;
  m: number;
  keepFirstLast: boolean;
  /** Kinds pruned besides matrices and other learned weights. */
  include: OptionalKind[];
  exclude?: RegExp;
  /**
   * sparse: graph initializers become sparse_initializer where that is smaller. int4 is planned by
   * planPruneInt4 (pruned dense here, then quantized there).
   */
  storage: 'dense' | 'sparse' | 'int4';
  /** Apply these keep-masks (a saved lottery ticket) instead of choosing: `method` and `sparsity` are ignored. */
  masks?: readonly KeepMask[];
  /** Return the keep-mask of every pruned weight (`--save-mask`). */
  keepMasks: boolean;
}

export const DEFAULT_PRUNE_OPTIONS: PruneOptions = {
  method: 'magnitude',
  sparsity: 0.5,
  scope: 'layer',
  n: 2,
  m: 4,
  keepFirstLast: false,
  include: [],
  storage: 'dense',
  keepMasks: false,
};

/** One pruned weight, for the report (a quantize row plus sparsity and storage figures). */
export interface PrunedTensorRow extends Omit<QuantizedTensorRow, 'method' | 'layerGainDb'> {
  kind: PruneKind | 'masked';
  /** How its mask was chosen: wanda/sparsegpt on data, or magnitude/nm (also a data-aware run's fallback), channel, mask. */
  method?: 'magnitude' | 'nm' | 'channel' | 'mask' | DataAwarePruneMethod;
  count: number;
  zerosBefore: number;
  zerosAfter: number;
  sparsityBefore: number;
  sparsityAfter: number;
  /** How the output stores it (MatMulNBits: pruned, then quantized to 4-bit by planPruneInt4). */
  storage: 'dense' | 'sparse_initializer' | 'MatMulNBits';
  /** Payload bytes as a dense tensor and as a SparseTensorProto (values + int64 linear indices). */
  denseBytes: number;
  sparseBytes: number;
  /** N:M: "2:4 along axis 0". */
  pattern?: string;
  /** Channel pruning: the axis, the channel count and the zeroed indices. */
  channels?: { axis: number; total: number; zeroed: number[] };
  note?: string;
}

/**
 * The pruning plan. It changes no node (`nodes` stays empty, kept for the report's shape); its blockers are
 * keep-masks that do not fit the model.
 */
export interface PrunePlan extends TransformPlan<PrunedTensorRow> {
  /** Keep-masks of the pruned weights, named as in the mask file (with `keepMasks`). */
  masks: KeepMask[];
  summary: {
    /** Elements of the pruned weights. */
    weights: number;
    zerosBefore: number;
    zerosAfter: number;
    /** The fraction asked for (magnitude: of weights; channel: of channels); undefined for masks. */
    target?: number;
    achieved: number;
    /** Global magnitude: every |w| below this was pruned, and some equal to it. */
    threshold?: number;
  };
}

/** How a caller takes part in planning: see planPrune. */
export interface PruneHooks {
  lazy?: LazyTensors;
  /**
   * wanda, sparsegpt: a weight's pruned values (float32, stored layout, pruned positions 0) and keep-mask
   * chosen on data, or undefined to prune it by magnitude (nm with `semiStructured`).
   */
  decided?(
    t: TensorInfo,
  ): { values: Float32Array; keep: Uint8Array; method: DataAwarePruneMethod } | undefined;
  onPruned?(t: TensorInfo, values: Float32Array): void;
  /**
   * Receives, once planned, a way to have one weight pruned now, as a fresh float32 array (undefined for a
   * tensor that is not pruned): planPruneInt4 quantizes weight after weight with it, holding one at a time.
   */
  onPlanned?(prunedValues: (t: TensorInfo) => Float32Array | undefined): void;
}

/** First IR version with GraphProto.sparse_initializer (ONNX 1.6). */
const SPARSE_IR = 6;

/**
 * Plans magnitude (per layer or global), N:M or channel pruning, or applies saved keep-masks. Each weight is
 * read once into memory (a global cut reads every target once before, to count: see globalMagnitudeCut),
 * its pruned values are written in the weight's own type (bit-exact apart from the new zeros) as a dense
 * tensor or a sparse initializer, and its keep-mask is returned when asked for.
 *
 * With `hooks.lazy` (dense storage), a weight is read, pruned and encoded only when the writer reaches it,
 * into one reused buffer: its report row, the summary and its keep-mask are complete once the model is
 * written. `hooks.onPruned` sees each weight's pruned values (float32, whatever the weight's type) once
 * they are final; it makes the plan eager. `hooks.onPlanned` gets a function that prunes one weight on
 * demand; a weight pruned more than once (on demand, then by the writer) counts once in its row and the
 * summary.
 */
export function planPrune(
  index: ModelIndex,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  options: PruneOptions,
  sink: TensorSink = (b) => b,
  hooks: PruneHooks = {},
): PrunePlan {
  checkOptions(options);
  const plan: PrunePlan = {
    ...emptyPlan<PrunedTensorRow>(),
    masks: [],
    summary: { weights: 0, zerosBefore: 0, zerosAfter: 0, achieved: 0 },
  };
  const names = maskNames(index);
  let targets: (PruneTarget & { mask?: KeepMask })[];
  const dataAware = options.method === 'wanda' || options.method === 'sparsegpt';
  /** N of every M along the reduction axis: nm, or wanda/sparsegpt with N:M (and their magnitude fallback). */
  const nm = options.method === 'nm' || (dataAware && Boolean(options.semiStructured));
  if (options.masks) {
    targets = matchMasks(index, options.masks, names, plan.blockers);
    if (plan.blockers.length > 0) return plan;
  } else {
    const selected = selectTargets(index, {
      include: options.include,
      keepFirstLast: options.keepFirstLast,
      exclude: options.exclude,
      needsLayout: options.method === 'channel' || nm,
      nmN: nm ? options.n : undefined,
    });
    targets = selected.targets;
    plan.skipped.push(...selected.skipped);
    plan.summary.target = nm ? 1 - options.n / options.m : options.sparsity;
  }
  // Streamed: each weight is read, pruned and handed to the writer as the writer reaches it (one reused
  // buffer); a sparse_initializer needs its size now, and onPruned keeps the values, so those plan eagerly.
  const stream = hooks.lazy && options.storage === 'dense' && !hooks.onPruned ? hooks.lazy : undefined;
  let scratch: Float32Array = new Float32Array(0);
  /**
   * A weight's values in the reused buffer (a raw float32 payload is read straight into it). The buffer
   * lies in the pruning kernels' memory where they run, so they work on it in place; sized once for the
   * largest target, as growing that memory would detach a buffer the writer may still be reading.
   */
  const readReused = (t: TensorInfo): Float32Array => {
    if (scratch.length < t.count) {
      const largest = Math.max(...targets.map((x) => x.tensor.count));
      scratch = pruneScratch(largest) ?? new Float32Array(largest);
    }
    const values = scratch.subarray(0, t.count);
    if (!readFloat32Into(t, source, resolveExternal, values))
      values.set(readValues(t, source, resolveExternal));
    return values;
  };

  let global: GlobalCut | undefined;
  if (!options.masks && options.method === 'magnitude' && options.scope === 'global') {
    const total = targets.reduce((s, x) => s + x.tensor.count, 0);
    const at = targets.map((x) => rawFloat32At(x.tensor, source, resolveExternal));
    global = globalMagnitudeCut(
      targets.length,
      (i) => readReused(targets[i].tensor),
      total,
      Math.round(options.sparsity * total),
      at.every(Boolean) ? (i) => sampleFloat32(at[i]!, targets[i].tensor.count) : undefined,
    );
    plan.summary.threshold = keyToMagnitude(global.cut.threshold);
  }

  /** Each target's pruning, by tensor id (for `onPlanned`). */
  const pruners = new Map<number, (values: Float32Array) => ZeroCounts>();
  const graphInputs = new Map(index.graphs.map((g) => [g.path, new Set(g.inputs.map((i) => i.name))]));
  const s = plan.summary;
  s.weights = targets.reduce((n, x) => n + x.tensor.count, 0);
  targets.forEach((x, i) => {
    const t = x.tensor;
    const width = rawByteLength(t.dtype, 1);
    const denseBytes = rawByteLength(t.dtype, t.count);
    const row: PrunedTensorRow = {
      name: t.name,
      graph: t.graph,
      op: x.op,
      nodes: x.nodes,
      dims: t.dims,
      beforeDtype: dataTypeName(t.dtype),
      afterDtype: dataTypeName(t.dtype),
      beforeBytes: t.storedBytes,
      afterBytes: denseBytes,
      weightSqnrDb: Infinity,
      removed: false,
      kind: x.mask ? 'masked' : x.kind,
      count: t.count,
      zerosBefore: 0,
      zerosAfter: 0,
      sparsityBefore: 0,
      sparsityAfter: 0,
      storage: 'dense',
      denseBytes,
      sparseBytes: 0,
      pattern: undefined,
      channels: undefined,
      note: undefined,
    };
    plan.tensors.push(row);
    let counted = false;
    /** Prunes the values in place and, the first time, fills in the row, the summary and the keep-mask. */
    const prune = (values: Float32Array): ZeroCounts => {
      let c: ZeroCounts;
      let keep: Uint8Array | undefined;
      const decided = dataAware && !x.mask ? hooks.decided?.(t) : undefined;
      row.method = x.mask
        ? 'mask'
        : decided
          ? decided.method
          : nm
            ? 'nm'
            : options.method === 'channel'
              ? 'channel'
              : 'magnitude';
      if (x.mask) c = zeroDropped(values, (keep = x.mask.data));
      else if (decided) {
        c = replacePruned(values, decided.values, (keep = decided.keep));
        if (nm) row.pattern = `${options.n}:${options.m} along axis ${x.layout!.reductionAxis}`;
      } else if (nm) {
        keep = nmKeepMask(values, t.dims, x.layout!.reductionAxis, options.n, options.m);
        c = zeroDropped(values, keep);
        row.pattern = `${options.n}:${options.m} along axis ${x.layout!.reductionAxis}`;
      } else if (options.method === 'channel') {
        const cut = channelKeepMask(values, t.dims, x.layout!.channelAxis, options.sparsity);
        c = zeroDropped(values, (keep = cut.keep));
        row.channels = {
          axis: x.layout!.channelAxis,
          total: t.dims[x.layout!.channelAxis],
          zeroed: cut.zeroed,
        };
      } else if (global) {
        keep = options.keepMasks ? new Uint8Array(t.count) : undefined;
        c = zeroBelowCut(values, global.cut.threshold, global.ties[i], keep);
      } else {
        keep = options.keepMasks ? new Uint8Array(t.count) : undefined;
        const cut = magnitudeCut(() => [values], t.count, Math.round(options.sparsity * t.count));
        c = zeroBelowCut(values, cut.threshold, cut.ties, keep);
      }
      if (counted) return c;
      counted = true;
      const zerosAfter = t.count - c.nnz;
      Object.assign(row, {
        weightSqnrDb: c.error === 0 ? Infinity : round3(10 * Math.log10(c.energy / c.error)),
        zerosBefore: c.zerosBefore,
        zerosAfter,
        sparsityBefore: t.count ? c.zerosBefore / t.count : 0,
        sparsityAfter: t.count ? zerosAfter / t.count : 0,
        sparseBytes: c.nnz * (width + 8),
      });
      s.zerosBefore += c.zerosBefore;
      s.zerosAfter += zerosAfter;
      s.achieved = s.weights ? s.zerosAfter / s.weights : 0;
      const notes: string[] = [];
      if (
        !x.mask &&
        row.method === 'magnitude' &&
        !global &&
        c.zerosBefore > Math.round(options.sparsity * t.count)
      )
        notes.push('already sparser than the target');
      if (row.channels) notes.push('zeroed channels still output their bias');
      // A note set before (planPruneInt4's, when the writer prunes the weight after planning) stays.
      if (notes.length) row.note = [...notes, ...(row.note ? [row.note] : [])].join('; ');
      if (options.keepMasks) plan.masks[i] = { name: names.get(t)!, dims: t.dims, data: keep! };
      return c;
    };
    pruners.set(t.id, prune);
    if (stream) {
      plan.edits.push({
        kind: 'replaceTensor',
        tensorId: t.id,
        tensor: {
          dtype: t.dtype,
          dims: t.dims,
          data: stream.add(denseBytes, () => {
            const values = readReused(t);
            prune(values);
            return encode(values, t.dtype);
          }),
        },
      });
      return;
    }
    const values = readValues(t, source, resolveExternal);
    const c = prune(values);
    hooks.onPruned?.(t, values);
    const graph = index.graphs.find((g) => g.path === t.graph);
    const whyDense =
      options.storage !== 'sparse'
        ? undefined
        : t.where === 'constant'
          ? 'a Constant node stays dense (only graph initializers can be sparse)'
          : graph?.kind !== 'graph'
            ? 'not in a graph'
            : graphInputs.get(t.graph)?.has(t.name)
              ? 'also a graph input: kept dense'
              : index.irVersion < SPARSE_IR
                ? `IR ${index.irVersion} predates sparse_initializer (IR 6): kept dense`
                : row.sparseBytes >= denseBytes
                  ? `dense is smaller (sparse form: ${row.sparseBytes} bytes; int64 indices cost 8 bytes per kept weight)`
                  : undefined;
    if (whyDense) row.note = row.note ? `${whyDense}; ${row.note}` : whyDense;
    if (options.storage === 'sparse' && whyDense === undefined) {
      const { valuesBytes, indexBytes } = sparseParts(values, c.nnz, t.dtype);
      plan.edits.push({
        kind: 'replaceWithSparse',
        tensorId: t.id,
        values: { dtype: t.dtype, dims: [c.nnz], data: sink(valuesBytes) },
        indices: { dtype: DataType.INT64, dims: [c.nnz], data: sink(indexBytes) },
      });
      Object.assign(row, {
        afterDtype: `${dataTypeName(t.dtype)} (sparse_initializer)`,
        afterBytes: row.sparseBytes,
        storage: 'sparse_initializer',
      });
    } else if (c.changed || t.sparse) {
      plan.edits.push({
        kind: 'replaceTensor',
        tensorId: t.id,
        tensor: { dtype: t.dtype, dims: t.dims, data: sink(encode(values, t.dtype)) },
      });
    }
  });
  hooks.onPlanned?.((t) => {
    const prune = pruners.get(t.id);
    if (!prune) return undefined;
    const values = readValues(t, source, resolveExternal);
    prune(values);
    return values;
  });
  if (options.storage === 'sparse' && plan.tensors.some((r) => r.storage === 'dense'))
    plan.warnings.push(
      `${plan.tensors.filter((r) => r.storage === 'dense').length} pruned weights stay dense (see their notes)`,
    );
  if (options.storage === 'sparse')
    plan.warnings.push('ONNX Runtime densifies sparse initializers at load: runtime memory does not shrink');
  if (!options.masks && nm)
    plan.warnings.push(
      `${options.n}:${options.m} sparsity speeds up only runtimes with sparse kernels (e.g. TensorRT on sparse tensor cores); ONNX Runtime CPU computes it dense`,
    );
  return plan;
}

function checkOptions(o: PruneOptions): void {
  if (!(o.sparsity >= 0 && o.sparsity <= 1))
    throw new RangeError(`sparsity must be in [0, 1], got ${o.sparsity}`);
  if (
    (o.method === 'nm' || ((o.method === 'wanda' || o.method === 'sparsegpt') && o.semiStructured)) &&
    !(Number.isInteger(o.n) && Number.isInteger(o.m) && o.n >= 1 && o.n < o.m && o.m <= 255)
  )
    throw new RangeError(`N:M needs whole numbers 1 <= N < M <= 255, got ${o.n}:${o.m}`);
  if (o.method === 'channel' && o.scope === 'global')
    throw new RangeError('channel pruning is per layer (a channel count has no meaning across layers)');
}

/**
 * Puts a data-aware pruning's values in place (pruned positions 0, kept ones as chosen: SparseGPT changes
 * them) and measures it: the weight SQNR's error is Σ (w − ŵ)², not only the pruned w².
 */
function replacePruned(values: Float32Array, chosen: Float32Array, keep: Uint8Array): ZeroCounts {
  if (chosen.length !== values.length || keep.length !== values.length)
    throw new RangeError(`pruned values of ${chosen.length} elements for a weight of ${values.length}`);
  let zerosBefore = 0;
  let nnz = 0;
  let energy = 0;
  let error = 0;
  let changed = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const w = keep[i] ? chosen[i] : 0;
    if (v === 0) zerosBefore++;
    if (Number.isFinite(v)) {
      energy += v * v;
      error += (v - w) * (v - w);
    }
    if (w !== 0) nnz++;
    if (!Object.is(v, w)) {
      values[i] = w;
      changed = true;
    }
  }
  return { zerosBefore, nnz, energy, error, changed };
}

/** Mask names: the weight's name, or `graph/name` where several graphs use the name. */
export function maskNames(index: ModelIndex): Map<TensorInfo, string> {
  const count = new Map<string, number>();
  for (const t of index.tensors) count.set(t.name, (count.get(t.name) ?? 0) + 1);
  return new Map(index.tensors.map((t) => [t, count.get(t.name)! > 1 ? `${t.graph}/${t.name}` : t.name]));
}

/** The weights a mask file names; every mismatch is a blocker naming the mask. */
function matchMasks(
  index: ModelIndex,
  masks: readonly KeepMask[],
  names: Map<TensorInfo, string>,
  blockers: string[],
): (PruneTarget & { mask: KeepMask })[] {
  const byName = new Map([...names].map(([t, n]) => [n, t]));
  const out: (PruneTarget & { mask: KeepMask })[] = [];
  const missing: string[] = [];
  for (const mask of masks) {
    const t = byName.get(mask.name);
    if (!t) {
      missing.push(mask.name);
      continue;
    }
    if (!PRUNABLE_TYPES.has(t.dtype)) {
      blockers.push(
        `mask "${mask.name}": the model's tensor is ${dataTypeName(t.dtype)}, not a float weight`,
      );
      continue;
    }
    if (mask.dims.length !== t.dims.length || mask.dims.some((d, i) => d !== t.dims[i])) {
      blockers.push(
        `mask "${mask.name}" has shape [${mask.dims.join(', ')}]; the weight is [${t.dims.join(', ')}]`,
      );
      continue;
    }
    if (mask.data.some((v) => v > 1)) {
      blockers.push(`mask "${mask.name}" holds values other than 0 and 1`);
      continue;
    }
    const readers = t.consumers.map((c) => index.nodes[c.nodeId]);
    out.push({
      tensor: t,
      kind: 'matrix',
      op: [...new Set(readers.map((n) => n.opType))].join('+'),
      nodes: readers.map(nodeLabel),
      mask,
    });
  }
  if (missing.length > 0) {
    const shown = missing
      .slice(0, 5)
      .map((n) => `"${n}"`)
      .join(', ');
    blockers.unshift(
      `${missing.length} mask${missing.length > 1 ? 's name' : ' names'} no tensor of the model: ${shown}${missing.length > 5 ? ', …' : ''} (a different architecture?)`,
    );
  }
  return out.sort((a, b) => a.tensor.id - b.tensor.id);
}

/** The chunks of a float32/float16/bfloat16 tensor (all decode to Float32Array). */
function* float32Chunks(
  t: TensorInfo,
  source: ByteSource,
  resolve: ExternalDataResolver,
): Generator<Float32Array> {
  for (const chunk of tensorValues(t, source, resolve).chunks()) {
    if (!(chunk instanceof Float32Array)) throw new RangeError(`${t.name}: expected float32 chunks`);
    yield chunk;
  }
}

/** A weight's values as one float32 array (a copy the planner may change). */
function readValues(t: TensorInfo, source: ByteSource, resolve: ExternalDataResolver): Float32Array {
  const out = new Float32Array(t.count);
  let at = 0;
  for (const chunk of float32Chunks(t, source, resolve)) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Stretches of a raw float32 tensor sampled for placing a global cut: 1/64 of it, in 4 spread stretches. */
function sampleFloat32(at: { file: ByteSource; offset: number }, count: number): Float32Array {
  const stretch = Math.min(count, Math.ceil(count / 256));
  const out = new Float32Array(4 * stretch);
  const bytes = new Uint8Array(out.buffer);
  for (let s = 0; s < 4; s++) {
    const start = Math.floor(((count - stretch) * (2 * s + 1)) / 8);
    bytes.set(at.file.read(at.offset + 4 * start, 4 * stretch), 4 * s * stretch);
  }
  return out;
}

/** Values in the weight's own type: float32 as is, float16/bfloat16 re-encoded (exact: they came from there). */
function encode(values: Float32Array, dtype: number): Uint8Array {
  if (dtype === DataType.FLOAT) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bits = dtype === DataType.FLOAT16 ? encodeFloat16(values) : encodeBfloat16(values);
  return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
}

/** The non-zero values and their ascending linear indices (int64, little endian). */
function sparseParts(
  values: Float32Array,
  nnz: number,
  dtype: number,
): { valuesBytes: Uint8Array; indexBytes: Uint8Array } {
  const kept = new Float32Array(nnz);
  // int64 little endian as (low, high) 32-bit words: no BigInt per element.
  const indices = new Uint32Array(2 * nnz);
  let j = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== 0) {
      kept[j] = values[i];
      indices[2 * j] = i >>> 0;
      indices[2 * j + 1] = Math.floor(i / 0x100000000);
      j++;
    }
  }
  if (j !== nnz) throw new RangeError(`counted ${nnz} non-zero values, found ${j}`);
  return { valuesBytes: encode(kept, dtype), indexBytes: new Uint8Array(indices.buffer) };
}

/** The |w| a magnitude key stands for. */
function keyToMagnitude(key: number): number {
  return new Float32Array(new Uint32Array([key]).buffer)[0];
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
