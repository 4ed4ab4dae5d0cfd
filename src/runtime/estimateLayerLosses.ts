import { ModelError } from '../core/errors';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  matMulNBitsUses,
  type MatMulNBitsUse,
  readFloat32,
  roundToNearest,
} from '../core/quant/planQuantize';
import { lossOfNoise, type WeightedNoise, weightedNoise } from '../core/quant/weightedNoise';
import { PRECISION_SPECS } from '../core/shrink/precisions';
import type { Loss, LossRequest } from '../core/shrink/shrinkSearch';
import { decodeFloat16, encodeFloat16 } from '../core/tensor/float16';
import { inGraphOrder } from '../core/quant/captureSegments';
import { rawByteLength } from '../core/tensor/dataType';
import {
  type ActivationTarget,
  type CalibrationOptions,
  CaptureCancelledError,
  captureActivations,
  type CaptureResult,
} from './captureActivations';
import { captureInSegments, SegmentsUnsupportedError } from './captureInSegments';
import { gramGroups } from './planDataAware';
import type { OpenedModel } from './openModel';
import type { VerifyOptions } from './verifyModels';

/** Calibration batches for the activations' energy per channel: a few suffice for a diagonal. */
export const ESTIMATE_BATCHES = 4;

/** Layer losses estimated from one calibration pass instead of one model run per layer and precision. */
export interface LossEstimator {
  estimate(wanted: readonly LossRequest[], signal?: AbortSignal): Promise<(Loss | undefined)[]>;
  /** What the activations' energy was measured on. */
  calibration: string;
  /** Weights whose activation could not be captured: estimated from the weight error alone. */
  unweighted: string[];
}

/**
 * Opens an estimator of each layer's loss alone for shrink's search on models where one onnxruntime run
 * per layer and precision would take too long (a session of a multi-GB model costs many seconds): one
 * calibration pass collects every weighted layer's input energy per channel (the diagonal of XᵀX, K
 * numbers each — captureActivations with `diagonal`), then a loss is the layer's own output noise ratio
 * under round-to-nearest at that precision (weightedNoise), with no model run. It is a ranking of layers,
 * not the whole model's figure: the search still runs every candidate in onnxruntime before it takes it.
 * `partWeightBytes`: the weights one part of the calibration loads at most (captureEnergy).
 */
export async function openLossEstimator(
  model: OpenedModel,
  names: readonly string[],
  verify: VerifyOptions,
  signal?: AbortSignal,
  partWeightBytes = PART_WEIGHT_BYTES,
): Promise<LossEstimator> {
  const wanted = new Set(names);
  const uses = new Map<string, MatMulNBitsUse[]>();
  for (const u of matMulNBitsUses(model.index, DEFAULT_QUANTIZE_OPTIONS))
    if (wanted.has(u.tensor.name)) uses.set(u.tensor.name, [...(uses.get(u.tensor.name) ?? []), u]);
  const targets = new Map<string, { name: string; K: number; elemType: number }>();
  for (const list of uses.values())
    for (const u of list) targets.set(u.activation, { name: u.activation, K: u.K, elemType: u.tensor.dtype });
  let capture;
  try {
    capture = await captureEnergy(
      model,
      [...uses.values()].flat(),
      [...targets.values()],
      { ...verify, batches: ESTIMATE_BATCHES, rowsPerK: 0, diagonal: true },
      partWeightBytes,
      signal,
    );
  } catch (e) {
    if (e instanceof CaptureCancelledError) throw new ModelError(model.path, 'shrink cancelled');
    throw e;
  }
  const energy = new Map(capture.grams.map((g) => [g.name, g.gram]));
  const unweighted = [...uses]
    .filter(([, list]) => list.some((u) => !energy.has(u.activation)))
    .map(([n]) => n);
  const diagOf = (u: MatMulNBitsUse) => energy.get(u.activation) ?? new Float64Array(u.K).fill(1);

  let cached: { name: string; values: Float32Array | undefined } | undefined;
  const valuesOf = (u: MatMulNBitsUse) => {
    if (cached?.name !== u.tensor.name)
      cached = { name: u.tensor.name, values: readFloat32(u.tensor, model.source, model.resolveExternal) };
    return cached.values;
  };
  const estimateOne = ({ name, precision }: LossRequest): Loss | undefined => {
    const list = uses.get(name);
    const spec = PRECISION_SPECS[precision];
    if (!list?.length || spec.kind === 'float') return undefined;
    const total: WeightedNoise = { signal: 0, noise: 0 };
    for (const u of list) {
      const values = valuesOf(u);
      if (!values) return undefined;
      const one =
        spec.kind === 'fp16'
          ? float16Noise(values, u, diagOf(u))
          : quantizedNoise(values, u, spec.bits, spec.blockSize, diagOf(u));
      if (!one) return undefined;
      total.signal += one.signal;
      total.noise += one.noise;
    }
    return lossOfNoise(total);
  };
  return {
    calibration: capture.calibration,
    unweighted,
    async estimate(requests, abort) {
      // One weight read for all its precisions: requests of a layer go together.
      const order = requests.map((r, i) => ({ r, i })).sort((a, b) => a.r.name.localeCompare(b.r.name));
      const out: (Loss | undefined)[] = new Array(requests.length);
      for (const { r, i } of order) {
        if (abort?.aborted) throw new ModelError(model.path, 'shrink cancelled');
        out[i] = estimateOne(r);
        // Let a cancel or a progress message through between layers.
        await new Promise((resolve) => setImmediate(resolve));
      }
      cached = undefined;
      return out;
    },
  };
}

/** The weighted noise of round-to-nearest at `bits`/`blockSize` as `u` reads the weight. */
function quantizedNoise(
  values: Float32Array,
  u: MatMulNBitsUse,
  bits: 2 | 4 | 8,
  blockSize: number,
  diag: Float64Array,
): WeightedNoise | undefined {
  const q = roundToNearest(
    values,
    u.tensor,
    { bits, blockSize, symmetric: false },
    u.layout,
    u.alpha,
    u.K,
    u.N,
  );
  return q && weightedNoise(values, u.layout, u.alpha, q, bits, blockSize, diag);
}

/** The weighted noise of storing the weight in float16 (none for a float16 weight), a chunk at a time. */
function float16Noise(values: Float32Array, u: MatMulNBitsUse, diag: Float64Array): WeightedNoise {
  const CHUNK = 1 << 20;
  const bits = new Uint16Array(Math.min(CHUNK, values.length));
  const rounded = new Float32Array(bits.length);
  let signal = 0;
  let noise = 0;
  for (let start = 0; start < values.length; start += CHUNK) {
    const chunk = values.subarray(start, start + CHUNK);
    decodeFloat16(encodeFloat16(chunk, bits.subarray(0, chunk.length)), rounded.subarray(0, chunk.length));
    for (let j = 0; j < chunk.length; j++) {
      const i = start + j;
      const k = u.layout === 'KN' ? Math.floor(i / u.N) : i % u.K;
      const e = chunk[j] - rounded[j];
      signal += diag[k] * chunk[j] * chunk[j];
      noise += diag[k] * e * e;
    }
  }
  return { signal, noise };
}

/** Weights one part of the estimator's calibration loads at most: a big model runs part by part. */
const PART_WEIGHT_BYTES = 512 * 2 ** 20;

/**
 * The diagonal of each activation's XᵀX: part by part (captureInSegments, parts of at most
 * PART_WEIGHT_BYTES of the weights the activations multiply) when that makes several parts — a session
 * then holds one part of a big model, not all of it — else, or when the graph cannot be cut, in one run.
 */
async function captureEnergy(
  model: OpenedModel,
  uses: readonly MatMulNBitsUse[],
  targets: ActivationTarget[],
  options: CalibrationOptions,
  partWeightBytes: number,
  signal?: AbortSignal,
): Promise<CaptureResult> {
  const weightBytes = new Map<string, number>();
  const counted = new Set<string>();
  for (const u of uses) {
    if (counted.has(`${u.activation}\n${u.tensor.id}`)) continue;
    counted.add(`${u.activation}\n${u.tensor.id}`);
    const bytes = rawByteLength(u.tensor.dtype, u.tensor.count);
    weightBytes.set(u.activation, (weightBytes.get(u.activation) ?? 0) + bytes);
  }
  const groups = gramGroups(
    inGraphOrder(model.index, targets),
    uses,
    partWeightBytes,
    (t) => weightBytes.get(t.name) ?? 0,
  );
  const control = { cancelled: () => signal?.aborted ?? false };
  if (groups.length > 1) {
    try {
      const result: CaptureResult = { grams: [], missing: [], calibration: '' };
      for await (const part of captureInSegments(model.path, groups, options, undefined, control)) {
        result.grams.push(...part.captured.grams);
        result.missing.push(...part.captured.missing);
        result.calibration ||= `${part.captured.calibration} (in ${part.parts} parts of the model)`;
      }
      return result;
    } catch (e) {
      if (!(e instanceof SegmentsUnsupportedError)) throw e;
    }
  }
  return captureActivations(model.path, targets, options, control);
}
