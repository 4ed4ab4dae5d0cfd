import type * as OrtTypes from 'onnxruntime-node';
import type { DataSection } from '../core/data/dataSection';
import { FormatError, ModelError } from '../core/errors';
import { decodeFloat16 } from '../core/tensor/float16';
import { extraGraphOutputs } from '../core/write/extraGraphOutputs';
import { concat, planWrite } from '../core/write/planWrite';
import { CALIBRATION_SEED } from './captureActivations';
import { DataError, RecipeError } from './data/loadSamples';
import { samplesFor } from './data/sampleFeeds';
import { constantReaderOf } from './data/synthesizeInputs';
import { loadOrt } from './loadOrt';
import { openModel } from './openModel';
import { materialize } from './sensitivity';
import { type SynthesizedInput, synthesizeFeeds, type VerifyOptions } from './verifyModels';

/** An activation measured per channel: the units on its last axis, or on axis 1 (NCHW). */
export interface UnitTarget {
  name: string;
  units: number;
  axis: 'last' | 1;
}

/** Per-channel figures of one activation over every sample (every position of a batch row). */
export interface UnitStats {
  name: string;
  units: number;
  /** Positions seen (rows for [.., units], N·H·W for NCHW). */
  samples: number;
  meanAbs: Float64Array;
  /** Share of samples where the channel is > 0 (fires). */
  fireRate: Float64Array;
  /** Share of samples where the channel is not 0. */
  nonZero: Float64Array;
  /** Mean square (energy) per channel. */
  meanSquare: Float64Array;
}

export interface UnitStatsResult {
  stats: UnitStats[];
  missing: { name: string; reason: string }[];
  /** What the measurement ran on, for the report. */
  calibration: string;
  /**
   * The data section of the run: the user's files (the calibration samples were measured), or the
   * synthesized batches (calibration: how many ran). Absent with an inputs folder.
   */
  data?: DataSection;
}

export interface UnitStatsOptions extends VerifyOptions {
  /** Synthesized batches are run until every activation has this many samples (at most `maxBatches`). */
  samples: number;
  maxBatches?: number;
  /** Data files skipped (and why), one line each. */
  warn?(line: string): void;
  /** After each run of the model: runs done and the runs planned (grows while synthesizing). */
  onProgress?(done: number, total: number): void;
}

/**
 * Runs the model in onnxruntime-node with the target activations added as graph outputs, as
 * captureActivations does, and accumulates per channel mean |x|, how often it is > 0 and non-zero, and its
 * mean square. The inputs: the calibration samples of the user's data (`options.data`, or the recipe
 * beside the model), one run each and every one of them, as GPTQ and sensitivity measure (the evaluation
 * samples are left to the verdict); else synthesized batches (seeds from CALIBRATION_SEED, away from the
 * verification's) until every activation has `samples` samples; one run of `inputsDir`.
 */
export async function unitStatistics(
  modelPath: string,
  targets: readonly UnitTarget[],
  options: UnitStatsOptions,
): Promise<UnitStatsResult> {
  const ort = loadOrt();
  const model = openModel(modelPath);
  const { index } = model;
  const main = index.graphs[0];
  const inputs = new Set(main.inputs.map((i) => i.name));
  const outputs = new Set(main.outputs.map((o) => o.name));
  const produced = new Set(main.nodeIds.flatMap((id) => index.nodes[id].outputs));
  const missing: UnitStatsResult['missing'] = [];
  const wanted = new Map<string, UnitTarget>();
  for (const t of targets) {
    if (inputs.has(t.name) || produced.has(t.name)) wanted.set(t.name, t);
    else missing.push({ name: t.name, reason: 'computed inside a subgraph (or a constant)' });
  }
  const acc = new Map(
    [...wanted.values()].map((t) => [
      t.name,
      {
        name: t.name,
        units: t.units,
        samples: 0,
        meanAbs: new Float64Array(t.units),
        fireRate: new Float64Array(t.units),
        nonZero: new Float64Array(t.units),
        meanSquare: new Float64Array(t.units),
      } satisfies UnitStats,
    ]),
  );
  let described: SynthesizedInput[] = [];
  let session: OrtTypes.InferenceSession | undefined;
  let maxBatches = options.inputsDir ? 1 : (options.maxBatches ?? 64);
  let batches = 0;
  let data: DataSection | undefined;
  let fromData: string | undefined;
  let real: Record<string, OrtTypes.Tensor>[] | undefined;
  try {
    // The user's calibration samples when there are some (the recipe beside the model counts).
    const samples =
      options.data && !options.inputsDir
        ? await samplesFor(modelPath, index, options, options.warn).catch((e: unknown) => {
            if (e instanceof DataError) throw new ModelError(e.file, e.reason);
            if (e instanceof RecipeError)
              throw new ModelError(e.file, `is not a valid input recipe: ${e.problems.join('; ')}`);
            throw e;
          })
        : undefined;
    if (samples?.source === 'files') {
      if (samples.calibration.length === 0)
        throw new ModelError(
          modelPath,
          `the data leaves no calibration sample to measure on (--calibration 0?); ${samples.section.evaluation} evaluation samples`,
        );
      real = samples.calibration;
      maxBatches = real.length;
      data = samples.section;
      fromData = `${real.length} calibration sample${real.length === 1 ? '' : 's'} of ${samples.section.paths.join(', ')}`;
    } else if (samples) data = { ...samples.section, inputs: undefined };
    const readConstant = constantReaderOf(model);
    let bytes: Uint8Array;
    try {
      bytes = materialize(
        planWrite(index, model.source, [], { inline: index.externalLocations.length > 0 }),
        model,
      );
    } catch (e) {
      if (e instanceof FormatError)
        throw new ModelError(modelPath, `${e.message} (measuring holds the model in memory)`);
      throw e;
    }
    const extra = [...wanted.keys()].filter((n) => !inputs.has(n) && !outputs.has(n));
    bytes = concat(bytes, extraGraphOutputs(extra.map((name) => ({ name, elemType: 1 }))));
    session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS).catch((e: Error) => {
      throw new ModelError(
        modelPath,
        `onnxruntime cannot load it with its activations as outputs: ${e.message}`,
      );
    });
    const fetch = [...wanted.keys()].filter((n) => !inputs.has(n));
    while (batches < maxBatches) {
      described = [];
      const feeds = real
        ? real[batches]
        : synthesizeFeeds(
            ort,
            index,
            session.inputNames,
            { ...options, seed: CALIBRATION_SEED + batches },
            described,
            readConstant,
          );
      let out: OrtTypes.InferenceSession.OnnxValueMapType;
      try {
        out = fetch.length ? await session.run(feeds, fetch) : {};
      } catch (e) {
        throw new ModelError(modelPath, `onnxruntime cannot run the calibration: ${(e as Error).message}`);
      }
      batches++;
      for (const s of acc.values()) add(s, wanted.get(s.name)!.axis, out[s.name] ?? feeds[s.name]);
      const enough = !real && [...acc.values()].every((s) => s.samples >= options.samples);
      options.onProgress?.(batches, enough ? batches : maxBatches);
      if (enough) break;
    }
  } finally {
    await session?.release();
    model.close();
  }
  const stats: UnitStats[] = [];
  for (const s of acc.values()) {
    if (s.samples === 0) {
      missing.push({ name: s.name, reason: `no float values with ${s.units} channels` });
      continue;
    }
    for (const a of [s.meanAbs, s.fireRate, s.nonZero, s.meanSquare])
      for (let u = 0; u < s.units; u++) a[u] /= s.samples;
    stats.push(s);
  }
  const from = fromData
    ? fromData
    : options.inputsDir
      ? `inputs ${options.inputsDir}`
      : `${batches} synthesized batch${batches === 1 ? '' : 'es'} (seeds ${CALIBRATION_SEED}–${CALIBRATION_SEED + batches - 1})`;
  const fed = real
    ? (data?.inputs ?? []).map((i) => `${i.name} ${i.dtype}[${i.dims.join(',')}] ${i.source}`)
    : described.map((i) => `${i.name} ${i.dtype}[${i.dims.join(',')}] ${i.values}`);
  const calibration = `${from}: ${fed.join('; ')}`;
  // Synthesized: the section counts the batches that ran (no evaluation here) and describes their inputs.
  if (data && !real)
    data = {
      ...data,
      calibration: batches,
      evaluation: 0,
      inputs: described.map((i) => ({
        name: i.name,
        dtype: i.dtype,
        dims: i.dims,
        source: 'synthetic',
        note: i.values,
      })),
    };
  return { stats, missing, calibration, ...(data ? { data } : {}) };
}

const SESSION_OPTIONS: OrtTypes.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  logSeverityLevel: 4,
};

/** Adds one activation tensor's samples (sums; divided by the count at the end). */
function add(s: UnitStats, axis: 'last' | 1, t: OrtTypes.Tensor | undefined): void {
  if (!t || (t.type !== 'float32' && t.type !== 'float16')) return;
  const values = t.type === 'float16' ? decodeFloat16(t.data as Uint16Array) : (t.data as Float32Array);
  const dims = t.dims;
  const c = axis === 'last' ? dims[dims.length - 1] : dims[1];
  if (c !== s.units) return;
  const inner = axis === 'last' ? 1 : dims.slice(2).reduce((a, b) => a * b, 1);
  const outer = values.length / (c * inner);
  for (let o = 0; o < outer; o++)
    for (let u = 0; u < c; u++) {
      const base = (o * c + u) * inner;
      let abs = 0;
      let fire = 0;
      let nz = 0;
      let sq = 0;
      for (let j = 0; j < inner; j++) {
        const v = values[base + j];
        abs += Math.abs(v);
        sq += v * v;
        if (v > 0) fire++;
        if (v !== 0) nz++;
      }
      s.meanAbs[u] += abs;
      s.fireRate[u] += fire;
      s.nonZero[u] += nz;
      s.meanSquare[u] += sq;
    }
  s.samples += outer * inner;
}
