import type * as OrtTypes from 'onnxruntime-node';
import { FormatError, ModelError } from '../core/errors';
import type { ModelIndex, TensorInfo } from '../core/onnx/modelIndex';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  planQuantize,
  readFloat32,
  type QuantizeOptions,
  type QuantizedTensorRow,
  type SkippedTarget,
} from '../core/quant/planQuantize';
import { weightSweep, type WeightSweep } from '../core/sensitivity/weightSweep';
import { DataType } from '../core/tensor/dataType';
import { decodeFloat16 } from '../core/tensor/float16';
import { planWrite, type WritePlan } from '../core/write/planWrite';
import { openModel, type OpenedModel } from './openModel';
import { type Feeds, type SynthesizedInput, synthesizeFeeds, type VerifyOptions } from './verifyModels';

type Ort = typeof OrtTypes;

/** What a sensitivity run quantizes and on which inputs. */
export interface SensitivityOptions extends VerifyOptions {
  bits: 2 | 4 | 8;
  /** Block size along K (default 32). */
  blockSize?: number;
  /** Op types whose weights are measured (default MatMul and Gemm). */
  ops?: string[];
}

/** One output's fidelity with one layer quantized. */
export interface SensitivityOutput {
  name: string;
  cosine: number;
  sqnrDb: number;
}

/** What quantizing one weight (and only it) does to the model's outputs, and its data-free sweep. */
export interface LayerSensitivity {
  name: string;
  /** The ops that read the weight (`MatMul`, `Gemm`, `MatMul+Gemm`). */
  op: string;
  nodes: string[];
  dims: number[];
  /** Elements of the weight. */
  params: number;
  /** The float weight's bytes. */
  bytes: number;
  /** Codes, scales and zero points at `bits`. */
  quantizedBytes: number;
  /** Weight SQNR at `bits` (what `quantize` reports for it). */
  weightSqnrDb: number;
  /** The worst output's SQNR (dB) against the original model's. */
  outputSqnrDb: number;
  /** The worst output's cosine similarity. */
  cosine: number;
  /** 1 - cosine: the loss this layer alone causes. */
  cosineLoss: number;
  outputs: SensitivityOutput[];
  sweep: WeightSweep;
  ms: number;
  /** Why this candidate could not be measured (it then sorts last). */
  error?: string;
}

export interface SensitivityReport {
  model: string;
  bits: number;
  blockSize: number;
  /** One line per input: name, type, shape, where the values came from. */
  inputs: string[];
  /** Most sensitive first (lowest output SQNR). */
  layers: LayerSensitivity[];
  skipped: SkippedTarget[];
  /** True when external data was brought into the in-memory candidates. */
  inlined: boolean;
  timings: { originalMs: number; totalMs: number };
}

/** Progress and cancellation of a run. */
export interface SensitivityControl {
  /** After the original ran (done 0) and after each candidate. */
  onProgress?(done: number, total: number, layer: string | undefined): void;
  /** Checked before each model load: aborted stops the run with a SensitivityCancelledError. */
  signal?: AbortSignal;
}

export class SensitivityCancelledError extends Error {
  constructor() {
    super('sensitivity run cancelled');
    this.name = 'SensitivityCancelledError';
  }
}

/**
 * Measures, one weight at a time, what quantizing it to `bits` (MatMulNBits, round-to-nearest, as
 * `quantize` does) costs at the model's outputs: every candidate is the original model with that weight
 * alone quantized, built in memory (the write plan's pieces copied into one buffer) and run in
 * onnxruntime-node on the same inputs as the original, whose outputs are computed once and kept.
 * A model with external data has it brought inline in each candidate (so candidates need no files); that
 * is refused past protobuf's 2 GiB limit. Candidates run one after another: onnxruntime-node runs a
 * session on the calling thread, so two sessions in one thread would not overlap, and each run already
 * uses every core through ORT's intra-op threads. Each weight also gets its data-free sweep (weight SQNR
 * at 2/3/4/8 bits and 25/50/75% sparsity) from the one read of its values.
 */
export async function measureSensitivity(
  modelPath: string,
  options: SensitivityOptions,
  control: SensitivityControl = {},
): Promise<SensitivityReport> {
  const t0 = performance.now();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as Ort;
  const check = () => {
    if (control.signal?.aborted) throw new SensitivityCancelledError();
  };
  const quantOptions: QuantizeOptions = {
    ...DEFAULT_QUANTIZE_OPTIONS,
    bits: options.bits,
    blockSize: options.blockSize ?? DEFAULT_QUANTIZE_OPTIONS.blockSize,
    ops: options.ops ?? DEFAULT_QUANTIZE_OPTIONS.ops,
  };
  const model = openModel(modelPath);
  try {
    const { index, source, resolveExternal } = model;
    const inlined = index.externalLocations.length > 0;
    // The targets and their weight SQNR: the whole-model plan `quantize` would make.
    const full = planQuantize(index, source, resolveExternal, quantOptions);
    const rows = uniqueByName(full.tensors);
    const report: SensitivityReport = {
      model: modelPath,
      bits: options.bits,
      blockSize: quantOptions.blockSize,
      inputs: [],
      layers: [],
      skipped: full.skipped,
      inlined,
      timings: { originalMs: NaN, totalMs: NaN },
    };
    const sessionOptions: OrtTypes.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    };

    check();
    const original = await ort.InferenceSession.create(model.path, sessionOptions).catch((e: Error) => {
      throw new ModelError(modelPath, `onnxruntime cannot load it: ${e.message}`);
    });
    let feeds: Feeds;
    let reference: Map<string, Reference>;
    try {
      const described: SynthesizedInput[] = [];
      feeds = synthesizeFeeds(ort, index, original.inputNames, options, described);
      report.inputs = described.map((i) => `${i.name}: ${i.dtype}[${i.dims.join(',')}] ${i.values}`);
      reference = floatOutputs(await original.run(feeds));
    } finally {
      await original.release();
    }
    if (reference.size === 0) throw new ModelError(modelPath, 'has no float outputs to compare');
    report.timings.originalMs = round(performance.now() - t0);
    control.onProgress?.(0, rows.length, undefined);

    for (const [i, row] of rows.entries()) {
      check();
      const started = performance.now();
      const layer = await measureLayer(
        ort,
        model,
        row,
        quantOptions,
        inlined,
        sessionOptions,
        feeds,
        reference,
      );
      layer.ms = round(performance.now() - started);
      report.layers.push(layer);
      control.onProgress?.(i + 1, rows.length, row.name);
    }
    report.layers.sort(bySensitivity);
    report.timings.totalMs = round(performance.now() - t0);
    return report;
  } finally {
    model.close();
  }
}

interface Reference {
  dims: readonly number[];
  values: Float64Array;
}

async function measureLayer(
  ort: Ort,
  model: OpenedModel,
  row: QuantizedTensorRow,
  options: QuantizeOptions,
  inline: boolean,
  sessionOptions: OrtTypes.InferenceSession.SessionOptions,
  feeds: Feeds,
  reference: Map<string, Reference>,
): Promise<LayerSensitivity> {
  const { index, source, resolveExternal } = model;
  const tensor = index.tensors.find((t) => t.name === row.name && t.graph === row.graph)!;
  const values = readFloat32(tensor, source, resolveExternal)!;
  const { K, N, layout, alpha } = shapeOf(index, tensor);
  const layer: LayerSensitivity = {
    name: row.name,
    op: row.op,
    nodes: row.nodes,
    dims: row.dims,
    params: tensor.count,
    bytes: row.beforeBytes,
    quantizedBytes: row.afterBytes,
    weightSqnrDb: row.weightSqnrDb,
    outputSqnrDb: NaN,
    cosine: NaN,
    cosineLoss: NaN,
    outputs: [],
    sweep: weightSweep(values, K, N, {
      blockSize: options.blockSize,
      layout,
      alpha,
      scaleType: tensor.dtype === DataType.FLOAT16 ? 'float16' : 'float32',
    }),
    ms: 0,
  };
  const plan = planQuantize(index, source, resolveExternal, {
    ...options,
    exclude: onlyWeight(index, tensor),
  });
  if (plan.blockers.length > 0) return { ...layer, error: plan.blockers.join('; ') };
  if (plan.tensors.length !== 1 || plan.tensors[0].name !== row.name)
    return { ...layer, error: `the one-weight plan quantized ${plan.tensors.length} weights` };
  let bytes: Uint8Array;
  try {
    bytes = materialize(planWrite(index, source, plan.edits, { inline }), model);
  } catch (e) {
    if (e instanceof FormatError)
      throw new ModelError(model.path, `${e.message} (sensitivity holds each candidate in memory)`);
    throw e;
  }
  let session: OrtTypes.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, sessionOptions);
  } catch (e) {
    return { ...layer, error: `the candidate does not load: ${(e as Error).message}` };
  }
  try {
    const out = await session.run(feeds);
    for (const [name, ref] of reference) {
      const y = out[name];
      if (!y || y.dims.join() !== ref.dims.join())
        return { ...layer, error: `output ${name} is missing or changed shape` };
      layer.outputs.push({ name, ...compare(ref.values, asNumbers(y)) });
    }
  } catch (e) {
    return { ...layer, error: `the candidate does not run: ${(e as Error).message}` };
  } finally {
    await session.release();
  }
  layer.outputSqnrDb = Math.min(...layer.outputs.map((o) => o.sqnrDb));
  layer.cosine = Math.min(...layer.outputs.map((o) => o.cosine));
  layer.cosineLoss = round(1 - layer.cosine, 9);
  return layer;
}

/**
 * An `exclude` pattern that spares one weight: planQuantize leaves in float every weight whose name, or
 * the name of a node reading it, matches; this matches every name except the weight's and its readers'.
 */
export function onlyWeight(index: ModelIndex, t: TensorInfo): RegExp {
  const keep = [t.name, ...t.consumers.map((c) => index.nodes[c.nodeId].name)];
  const escaped = [...new Set(keep)].map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^(?!(?:${escaped.join('|')})$)`);
}

/** K, N and how the first quantizable reader stores the weight (MatMul B [K, N], Gemm transB=1 [N, K]). */
function shapeOf(index: ModelIndex, t: TensorInfo) {
  for (const c of t.consumers) {
    const n = index.nodes[c.nodeId];
    if (c.input !== 1 || n.opType !== 'Gemm') continue;
    const attr = (name: string) => n.attributes.find((a) => a.name === name);
    const alpha = attr('alpha')?.f ?? 1;
    if (attr('transB')?.i) return { K: t.dims[1], N: t.dims[0], layout: 'NK' as const, alpha };
    return { K: t.dims[0], N: t.dims[1], layout: 'KN' as const, alpha };
  }
  return { K: t.dims[0], N: t.dims[1], layout: 'KN' as const, alpha: 1 };
}

/** The write plan's pieces copied into one buffer (what InferenceSession.create takes). */
export function materialize(plan: WritePlan, model: OpenedModel): Uint8Array {
  const out = new Uint8Array(plan.modelBytes);
  let at = 0;
  for (const p of plan.model) {
    if (p.kind === 'bytes') {
      out.set(p.bytes, at);
      at += p.bytes.length;
      continue;
    }
    const from = p.kind === 'source' ? model.source : model.resolveExternal(p.location);
    const chunk = 8 << 20;
    for (let o = 0; o < p.length; o += chunk) {
      const part = from.read(p.offset + o, Math.min(chunk, p.length - o));
      out.set(part, at);
      at += part.length;
    }
  }
  if (at !== out.length) throw new Error(`materialized ${at} bytes, the plan says ${out.length}`);
  return out;
}

function uniqueByName(rows: QuantizedTensorRow[]): QuantizedTensorRow[] {
  const seen = new Set<string>();
  return rows.filter((r) => !seen.has(r.name) && seen.add(r.name));
}

function floatOutputs(out: OrtTypes.InferenceSession.OnnxValueMapType): Map<string, Reference> {
  const refs = new Map<string, Reference>();
  for (const [name, t] of Object.entries(out)) {
    if (t.type === 'float32' || t.type === 'float16' || t.type === 'float64')
      refs.set(name, { dims: [...t.dims], values: asNumbers(t) });
  }
  return refs;
}

function asNumbers(t: OrtTypes.Tensor): Float64Array {
  if (t.type === 'float16') return Float64Array.from(decodeFloat16(t.data as Uint16Array));
  return Float64Array.from(t.data as ArrayLike<number>);
}

/** Cosine and SQNR (dB) of `y` against `x`, as verifyModels computes them. */
function compare(x: Float64Array, y: Float64Array): { cosine: number; sqnrDb: number } {
  let dot = 0;
  let nx = 0;
  let ny = 0;
  let err = 0;
  for (let i = 0; i < x.length; i++) {
    dot += x[i] * y[i];
    nx += x[i] * x[i];
    ny += y[i] * y[i];
    err += (x[i] - y[i]) ** 2;
  }
  const cosine = nx === 0 && ny === 0 ? 1 : dot / Math.sqrt(nx * ny);
  return { cosine: round(cosine, 6), sqnrDb: round(err === 0 ? Infinity : 10 * Math.log10(nx / err)) };
}

/** Most sensitive first: lowest output SQNR, then lowest cosine; failed candidates last. */
function bySensitivity(a: LayerSensitivity, b: LayerSensitivity): number {
  if (!!a.error !== !!b.error) return a.error ? 1 : -1;
  return a.outputSqnrDb - b.outputSqnrDb || a.cosine - b.cosine || a.name.localeCompare(b.name);
}

function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
