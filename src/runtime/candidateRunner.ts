import type * as OrtTypes from 'onnxruntime-node';
import { FormatError, ModelError } from '../core/errors';
import type { Edit } from '../core/write/planWrite';
import { planWrite } from '../core/write/planWrite';
import type { OpenedModel } from './openModel';
import { samplesFor, stackFeeds } from './data/sampleFeeds';
import { materialize } from './materialize';
import {
  compareOutputs,
  type Feeds,
  type OutputMetrics,
  type SynthesizedInput,
  synthesizeFeeds,
  type VerifyOptions,
} from './verifyModels';
import { loadOrt } from './loadOrt';

/** A candidate run in memory: its size and every output against the original's. */
export interface CandidateRun {
  bytes: number;
  outputs: OutputMetrics[];
  error?: string;
}

/** Runs edited versions of one model in memory against the original's outputs, computed once. */
export interface CandidateRunner {
  /** The inputs, one line each (name, type, shape, where the values came from). */
  inputs: string[];
  run(edits: Edit[]): Promise<CandidateRun>;
}

/**
 * Loads the original in onnxruntime-node (CPU, all optimizations), runs it once on the inputs verifyModels
 * would use (the same `.npy` files or the same synthesized values), keeps its outputs and returns a runner
 * that builds each candidate in memory (external data brought inline, as sensitivity does), runs it on the
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
  let feeds: Feeds;
  let reference: OrtTypes.InferenceSession.OnnxValueMapType;
  const outputNames = [...original.outputNames];
  try {
    // The shrink search measures on the calibration samples; the final verdict on the evaluation ones.
    const samples =
      options.data && !options.inputsDir ? await samplesFor(model.path, model.index, options) : undefined;
    if (samples?.source === 'files' && samples.calibration.length > 0) {
      feeds = stackFeeds(ort, model.index, samples.calibration);
      for (const [name, t] of Object.entries(feeds))
        described.push({ name, dtype: t.type, dims: [...t.dims], values: 'calibration samples' });
    } else feeds = synthesizeFeeds(ort, model.index, original.inputNames, options, described);
    reference = await original.run(feeds);
  } catch (e) {
    throw new ModelError(model.path, `onnxruntime cannot run it: ${(e as Error).message}`);
  } finally {
    await original.release();
  }
  const inline = model.index.externalLocations.length > 0;
  return {
    inputs: described.map((i) => `${i.name}: ${i.dtype}[${i.dims.join(',')}] ${i.values}`),
    async run(edits) {
      let bytes: Uint8Array;
      try {
        bytes = materialize(planWrite(model.index, model.source, edits, { inline }), model);
      } catch (e) {
        if (e instanceof FormatError)
          throw new ModelError(model.path, `${e.message} (shrink holds each candidate in memory)`);
        throw e;
      }
      const result: CandidateRun = { bytes: bytes.length, outputs: [] };
      let session: OrtTypes.InferenceSession;
      try {
        session = await ort.InferenceSession.create(bytes, sessionOptions);
      } catch (e) {
        return { ...result, error: `the candidate does not load: ${(e as Error).message}` };
      }
      try {
        const out = await session.run(feeds);
        for (const name of outputNames) {
          const x = reference[name];
          const y = out[name];
          if (!y || y.dims.join() !== x.dims.join())
            return { ...result, error: `output ${name} is missing or changed shape` };
          result.outputs.push(compareOutputs(name, x, y));
        }
      } catch (e) {
        return { ...result, error: `the candidate does not run: ${(e as Error).message}` };
      } finally {
        await session.release();
      }
      return result;
    },
  };
}
