import type * as OrtTypes from 'onnxruntime-node';
import type { ModelIndex, TensorInfo } from '../core/onnx/modelIndex';
import { readFloat32, type QuantizeOptions } from '../core/quant/planQuantize';
import { planOneWeight } from '../core/sensitivity/planOneWeight';
import { weightSweep } from '../core/sensitivity/weightSweep';
import { DataType } from '../core/tensor/dataType';
import { decodeFloat16 } from '../core/tensor/float16';
import { buildCandidate } from './candidateModel';
import type { OpenedModel } from './openModel';
import type { LayerMeasurement, MeasureJob, ReferenceOutput } from './sensitivityProtocol';
import type { Feeds } from './verifyModels';

type Ort = typeof OrtTypes;

/**
 * Builds the model with only the job's weight changed (buildCandidate: in memory, untouched external data
 * read by onnxruntime from the original's files), runs it on `feeds` and compares each float output with
 * the original's. A candidate that cannot be planned, loaded or run is a result with an `error` (it sorts
 * last), not a failure of the run.
 */
export async function measureCandidate(
  ort: Ort,
  model: OpenedModel,
  job: MeasureJob,
  base: QuantizeOptions,
  sessionOptions: OrtTypes.InferenceSession.SessionOptions,
  feeds: Feeds,
  reference: readonly ReferenceOutput[],
): Promise<LayerMeasurement> {
  const started = performance.now();
  const { index, source, resolveExternal } = model;
  const tensor = index.tensors.find((t) => t.name === job.name && t.graph === job.graph);
  const result: LayerMeasurement = {
    outputs: [],
    outputSqnrDb: NaN,
    cosine: NaN,
    afterBytes: NaN,
    weightSqnrDb: NaN,
    ms: 0,
  };
  const done = (error?: string) => ({ ...result, error, ms: round(performance.now() - started) });
  if (!tensor) return done(`no weight ${job.name} in graph ${job.graph || '(main)'}`);
  if (job.sweep) {
    const values = readFloat32(tensor, source, resolveExternal);
    const { K, N, layout, alpha } = shapeOf(index, tensor);
    if (values && tensor.dims.length === 2)
      result.sweep = weightSweep(values, K, N, {
        blockSize: job.perturbation.kind === 'nbits' ? job.perturbation.blockSize : base.blockSize,
        layout,
        alpha,
        scaleType: tensor.dtype === DataType.FLOAT16 ? 'float16' : 'float32',
      });
  }
  const plan = planOneWeight(index, source, resolveExternal, tensor, job.perturbation, base);
  if (!plan.row) return done(plan.error);
  result.afterBytes = plan.row.afterBytes;
  result.weightSqnrDb = plan.row.weightSqnrDb;
  const candidate = buildCandidate(model, plan.edits, sessionOptions);
  let session: OrtTypes.InferenceSession;
  try {
    session = await ort.InferenceSession.create(candidate.bytes, candidate.sessionOptions);
  } catch (e) {
    candidate.dispose();
    return done(`the candidate does not load: ${(e as Error).message}`);
  }
  try {
    const out = await session.run(feeds);
    for (const ref of reference) {
      const y = out[ref.name];
      if (!y || y.dims.join() !== ref.dims.join())
        return done(`output ${ref.name} is missing or changed shape`);
      result.outputs.push({ name: ref.name, ...compare(ref.values, asNumbers(y)) });
    }
  } catch (e) {
    return done(`the candidate does not run: ${(e as Error).message}`);
  } finally {
    await session.release();
    candidate.dispose();
  }
  result.outputSqnrDb = Math.min(...result.outputs.map((o) => o.sqnrDb));
  result.cosine = Math.min(...result.outputs.map((o) => o.cosine));
  return done();
}

/** The model's float outputs, as float64 references for the comparisons. */
export function floatOutputs(out: OrtTypes.InferenceSession.OnnxValueMapType): ReferenceOutput[] {
  const refs: ReferenceOutput[] = [];
  for (const [name, t] of Object.entries(out)) {
    if (t.type === 'float32' || t.type === 'float16' || t.type === 'float64')
      refs.push({ name, dims: [...t.dims], values: asNumbers(t) });
  }
  return refs;
}

function asNumbers(t: OrtTypes.Tensor): Float64Array {
  if (t.type === 'float16') return Float64Array.from(decodeFloat16(t.data as Uint16Array));
  return Float64Array.from(t.data as ArrayLike<number>);
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

export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
