import type * as OrtTypes from 'onnxruntime-node';
import { ModelError } from '../core/errors';
import type { Edit } from '../core/write/planWrite';
import type { OpenedModel } from './openModel';
import { samplesFor } from './data/sampleFeeds';
import type { TaskMetrics } from '../core/data/taskMetrics';
import { detectTask, type DetectedTask } from '../core/data/detectTask';
import { constantReaderOf } from './data/synthesizeInputs';
import { planSynthesis, synthesizeSamples } from './data/synthesizeSamples';
import { buildCandidate, type CandidateModel } from './candidateModel';
import {
  compareOutputs,
  type Feeds,
  type OutputMetrics,
  type SynthesizedInput,
  synthesizeFeeds,
  pooledOutputs,
  taskMetricsOf,
  type VerifyOptions,
} from './verifyModels';
import { loadOrt } from './loadOrt';

/** Seeds of the calibration samples the search measures on (the verification's start at 1). */
export const CALIBRATION_SAMPLE_SEED = 1001;
/** Synthesized calibration samples per candidate run. */
export const CALIBRATION_SAMPLES = 4;
/** The user's calibration samples a candidate runs on at most (each a run of the original and the candidate). */
const MAX_CALIBRATION_RUNS = 8;

/** A candidate run in memory: its size and every output against the original's. */
export interface CandidateRun {
  bytes: number;
  /** Each output's worst calibration sample. */
  outputs: OutputMetrics[];
  /** Task metrics over the calibration samples. */
  metrics?: TaskMetrics;
  error?: string;
}

/** Runs edited versions of one model in memory against the original's outputs, computed once. */
export interface CandidateRunner {
  /** The inputs, one line each (name, type, shape, where the values came from). */
  inputs: string[];
  /** `on`: the model the edits apply to, when not the original (shrink's structurally staged model). */
  run(edits: Edit[], on?: OpenedModel): Promise<CandidateRun>;
  /**
   * Each candidate's median latency (ms) over `runs` timed runs on the first calibration sample, after two
   * untimed warm-up runs, the candidates' runs interleaved so a busy machine slows them alike (undefined: it
   * does not load or run). All their sessions are open at once.
   */
  time(candidates: { edits: Edit[]; on?: OpenedModel }[], runs: number): Promise<(number | undefined)[]>;
}

/**
 * Loads the original in onnxruntime-node (CPU, all optimizations), runs it once on the inputs verifyModels
 * would use (the same `.npy` files or the same synthesized values), keeps its outputs and returns a runner
 * that builds each candidate (buildCandidate: only changed tensors are new bytes; onnxruntime reads the
 * untouched external data from the original's files), runs it on the
 * same feeds and compares every output exactly as verifyModels does — so the figures of the chosen
 * candidate are those the final verification of the written file reports.
 */
export async function openCandidateRunner(
  model: OpenedModel,
  options: VerifyOptions,
): Promise<CandidateRunner> {
  const ort = loadOrt();
  const sessionOptions: OrtTypes.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 4, // fatal only: ORT's own log lines stay off the terminal (errors reach us)
  };
  const original = await ort.InferenceSession.create(model.path, sessionOptions).catch((e: Error) => {
    throw new ModelError(model.path, `onnxruntime cannot load it: ${e.message}`);
  });
  const described: SynthesizedInput[] = [];
  let samples: Feeds[];
  let task: DetectedTask;
  const reference: OrtTypes.InferenceSession.OnnxValueMapType[] = [];
  const outputNames = [...original.outputNames];
  const synthesis = { path: model.path, index: model.index, readConstant: constantReaderOf(model) };
  try {
    // The shrink search measures on the calibration samples; the final verdict on the evaluation ones.
    const files =
      options.data && !options.inputsDir ? await samplesFor(model.path, model.index, options) : undefined;
    if (files?.source === 'files' && files.calibration.length > 0) {
      task = detectTask(model.index, synthesis.readConstant);
      samples = files.calibration.slice(0, MAX_CALIBRATION_RUNS);
      for (const [name, t] of Object.entries(samples[0]))
        described.push({ name, dtype: t.type, dims: [...t.dims], values: 'calibration samples' });
    } else if (options.inputsDir) {
      task = detectTask(model.index, synthesis.readConstant);
      samples = [
        synthesizeFeeds(ort, model.index, original.inputNames, options, described, synthesis.readConstant),
      ];
    } else {
      // Calibration samples, never the evaluation ones the final verification measures on.
      const plan = await planSynthesis(ort, original, synthesis, options);
      task = plan.task;
      samples = await synthesizeSamples(
        ort,
        original,
        synthesis,
        plan,
        options.evaluationSamples ?? CALIBRATION_SAMPLES,
        CALIBRATION_SAMPLE_SEED,
        described,
      );
    }
    for (const feeds of samples) reference.push(await original.run(feeds));
  } catch (e) {
    if (e instanceof ModelError) throw e;
    throw new ModelError(model.path, `onnxruntime cannot run it: ${(e as Error).message}`);
  } finally {
    await original.release();
  }
  return {
    inputs: described.map((i) => `${i.name}: ${i.dtype}[${i.dims.join(',')}] ${i.values}`),
    async time(candidates, runs) {
      type Timed = { session: OrtTypes.InferenceSession; times: number[]; failed?: boolean };
      const opened: (Timed | undefined)[] = [];
      const built: CandidateModel[] = [];
      try {
        for (const c of candidates) {
          const b = buildCandidate(c.on ?? model, c.edits, sessionOptions);
          built.push(b);
          try {
            const session = await ort.InferenceSession.create(b.bytes, b.sessionOptions);
            opened.push({ session, times: [] });
            for (let i = 0; i < 2; i++) await session.run(samples[0]);
          } catch {
            if (opened.length === built.length) opened[opened.length - 1]!.failed = true;
            else opened.push(undefined);
          }
        }
        for (let r = 0; r < runs; r++)
          for (const o of opened) {
            if (!o || o.failed) continue;
            const t0 = performance.now();
            try {
              await o.session.run(samples[0]);
              o.times.push(performance.now() - t0);
            } catch {
              o.failed = true;
            }
          }
        return opened.map((o) =>
          !o || o.failed ? undefined : o.times.sort((a, b) => a - b)[Math.floor(o.times.length / 2)],
        );
      } finally {
        for (const o of opened) await o?.session.release();
        for (const b of built) b.dispose();
      }
    },
    async run(edits, on) {
      const candidate = buildCandidate(on ?? model, edits, sessionOptions);
      const result: CandidateRun = { bytes: candidate.totalBytes, outputs: [] };
      let session: OrtTypes.InferenceSession;
      try {
        session = await ort.InferenceSession.create(candidate.bytes, candidate.sessionOptions);
      } catch (e) {
        candidate.dispose();
        return { ...result, error: `the candidate does not load: ${(e as Error).message}` };
      }
      try {
        const outs: OrtTypes.InferenceSession.OnnxValueMapType[] = [];
        const perSample: OutputMetrics[][] = [];
        for (const [k, feeds] of samples.entries()) {
          const out = await session.run(feeds);
          const row: OutputMetrics[] = [];
          for (const name of outputNames) {
            const x = reference[k][name];
            const y = out[name];
            if (!y || y.dims.join() !== x.dims.join())
              return { ...result, error: `output ${name} is missing or changed shape` };
            row.push(compareOutputs(name, x, y));
          }
          outs.push(out);
          perSample.push(row);
        }
        result.outputs = pooledOutputs(ort, outputNames, reference, outs);
        result.metrics = taskMetricsOf(task, samples, reference, outs, perSample);
      } catch (e) {
        return { ...result, error: `the candidate does not run: ${(e as Error).message}` };
      } finally {
        await session.release();
        candidate.dispose();
      }
      return result;
    },
  };
}
