import type * as OrtTypes from 'onnxruntime-node';
import { ModelError } from '../core/errors';
import { decodeFloat16 } from '../core/tensor/float16';
import type { CandidateModel } from './candidateModel';
import type { OpenedModel } from './openModel';
import { constantReaderOf } from './data/synthesizeInputs';
import { synthesizeFeeds, type VerifyOptions } from './verifyModels';
import { loadOrt } from './loadOrt';

/**
 * The worst output's SQNR (dB) of each candidate (a file or a model built by buildCandidate) against the original, over
 * several synthesized input seeds, each output's signal and error energies summed over the seeds before
 * the ratio is taken. One verification batch can make a small output (two logits, one score) look much
 * better or worse by chance; summed energies over a few batches compare two quantizations fairly. With an
 * inputs folder only the first seed runs (the files are the same for every seed).
 */
export async function seededOutputSqnr(
  model: OpenedModel,
  candidates: (string | CandidateModel)[],
  options: VerifyOptions,
  seeds: readonly number[],
): Promise<number[]> {
  const ort = loadOrt();
  const sessionOptions: OrtTypes.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 4, // fatal only: ORT's own log lines stay off the terminal (errors reach us)
  };
  const load = (m: string | CandidateModel) =>
    (typeof m === 'string'
      ? ort.InferenceSession.create(m, sessionOptions)
      : ort.InferenceSession.create(m.bytes, { ...sessionOptions, ...m.sessionOptions })
    ).catch((e: Error): never => {
      throw new ModelError(
        typeof m === 'string' ? m : model.path,
        `onnxruntime cannot load it: ${e.message}`,
      );
    });
  const sessions: OrtTypes.InferenceSession[] = [];
  try {
    const original = await load(model.path);
    sessions.push(original);
    for (const c of candidates) sessions.push(await load(c));
    const readConstant = constantReaderOf(model);
    const energies = candidates.map(() => new Map<string, { signal: number; error: number }>());
    for (const seed of options.inputsDir ? seeds.slice(0, 1) : seeds) {
      const feeds = synthesizeFeeds(
        ort,
        model.index,
        original.inputNames,
        { ...options, seed },
        [],
        readConstant,
      );
      const x = await original.run(feeds);
      for (const [i, session] of sessions.slice(1).entries()) {
        const y = await session.run(feeds);
        for (const name of original.outputNames) {
          if (x[name].type !== 'float32' && x[name].type !== 'float16') continue;
          const xs = numbers(x[name]);
          const ys = numbers(y[name]);
          const e = energies[i].get(name) ?? { signal: 0, error: 0 };
          for (let k = 0; k < xs.length; k++) {
            e.signal += xs[k] * xs[k];
            e.error += (xs[k] - ys[k]) ** 2;
          }
          energies[i].set(name, e);
        }
      }
    }
    return energies.map((m) =>
      Math.min(
        ...[...m.values()].map((e) => (e.error === 0 ? Infinity : 10 * Math.log10(e.signal / e.error))),
      ),
    );
  } finally {
    for (const s of sessions) await s.release();
  }
}

function numbers(t: OrtTypes.Tensor): ArrayLike<number> {
  return t.type === 'float16' ? decodeFloat16(t.data as Uint16Array) : (t.data as Float32Array);
}
