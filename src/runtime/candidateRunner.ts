import type * as OrtTypes from 'onnxruntime-node';
import { ModelError } from '../core/errors';
import type { Edit } from '../core/write/planWrite';
import type { OpenedModel } from './openModel';
import { buildCandidate } from './candidateModel';
import {
  compareOutputs,
  type Feeds,
  type OutputMetrics,
  type SynthesizedInput,
  synthesizeFeeds,
  type VerifyOptions,
} from './verifyModels';

type Ort = typeof OrtTypes;

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
 * that builds each candidate (buildCandidate: only changed tensors are new bytes; onnxruntime reads the
 * untouched external data from the original's files), runs it on the
 * same feeds and compares every output exactly as verifyModels does — so the figures of the chosen
 * candidate are those the final verification of the written file reports.
 */
export async function openCandidateRunner(
  model: OpenedModel,
  options: VerifyOptions,
): Promise<CandidateRunner> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as Ort;
  const sessionOptions: OrtTypes.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
  const original = await ort.InferenceSession.create(model.path, sessionOptions).catch((e: Error) => {
    throw new ModelError(model.path, `onnxruntime cannot load it: ${e.message}`);
  });
  const described: SynthesizedInput[] = [];
  let feeds: Feeds;
  let reference: OrtTypes.InferenceSession.OnnxValueMapType;
  const outputNames = [...original.outputNames];
  try {
    feeds = synthesizeFeeds(ort, model.index, original.inputNames, options, described);
    reference = await original.run(feeds);
  } catch (e) {
    throw new ModelError(model.path, `onnxruntime cannot run it: ${(e as Error).message}`);
  } finally {
    await original.release();
  }
  return {
    inputs: described.map((i) => `${i.name}: ${i.dtype}[${i.dims.join(',')}] ${i.values}`),
    async run(edits) {
      const candidate = buildCandidate(model, edits, sessionOptions);
      const result: CandidateRun = { bytes: candidate.totalBytes, outputs: [] };
      let session: OrtTypes.InferenceSession;
      try {
        session = await ort.InferenceSession.create(candidate.bytes, candidate.sessionOptions);
      } catch (e) {
        candidate.dispose();
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
        candidate.dispose();
      }
      return result;
    },
  };
}
