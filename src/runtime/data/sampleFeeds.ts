import type * as OrtTypes from 'onnxruntime-node';
import type { ModelIndex } from '../../core/onnx/modelIndex';
import { type Feeds, synthesizeFeeds, type SynthesizedInput, type VerifyOptions } from '../verifyModels';
import { type DataOptions, loadSamples, type SampleSet } from './loadSamples';
import { batchAxis, fedInputs } from './modelInputs';
import { loadOrt } from '../loadOrt';

type Ort = typeof OrtTypes;

/**
 * Today's synthesizer as loadSamples' hook: `count` feeds with seeds `seed`, `seed + 1`, … (the values
 * verifyModels has always synthesized for one seed).
 */
export function defaultSynthesizer(
  ort: Ort,
  index: ModelIndex,
  options: VerifyOptions,
): (count: number, seed: number) => Feeds[] {
  const names = fedInputs(index).map((i) => i.name);
  return (count, seed) =>
    Array.from({ length: count }, (_, i) =>
      synthesizeFeeds(ort, index, names, { ...options, inputsDir: undefined, seed: seed + i }, []),
    );
}

/**
 * The samples of a verification-style run: loadSamples with the run's data options (the recipe beside the
 * model is read even when none are given) and the default synthesizer.
 */
export async function samplesFor(
  modelPath: string,
  index: ModelIndex,
  options: VerifyOptions & { data?: DataOptions },
  warn?: (line: string) => void,
): Promise<SampleSet> {
  const ort = loadOrt();
  const data: DataOptions = {
    ...options.data,
    dims: { ...options.dims, ...options.data?.dims },
    fill: { ...options.fill, ...options.data?.fill },
  };
  return loadSamples(
    modelPath,
    index,
    { ...data, synthesize: defaultSynthesizer(ort, index, options) },
    warn,
  );
}

/** verifyModels' input descriptions for samples read from files. */
export function describeSamples(set: SampleSet): SynthesizedInput[] {
  return (set.section.inputs ?? []).map((i) => ({
    name: i.name,
    dtype: i.dtype,
    dims: i.dims,
    values: `${i.source}${i.note ? ` (${i.note})` : ''}, ${set.section.evaluation} evaluation samples`,
  }));
}

/**
 * Up to `max` samples as one batch, concatenated along each input's batch axis, for callers that run the
 * model once (sensitivity, the shrink search); the first sample alone when the shapes do not stack (a
 * fixed batch, or samples of different sizes).
 */
export function stackFeeds(ort: Ort, index: ModelIndex, samples: Feeds[], max = 8): Feeds {
  const take = samples.slice(0, max);
  if (take.length <= 1) return take[0] ?? {};
  const inputs = new Map(fedInputs(index).map((i) => [i.name, i]));
  const out: Feeds = {};
  for (const name of Object.keys(take[0])) {
    const info = inputs.get(name);
    const axis = info ? batchAxis(info) : 0;
    const declared = info?.shape[axis];
    const first = take[0][name];
    const same = take.every((f) => {
      const t = f[name];
      return (
        t &&
        t.type === first.type &&
        t.dims.length === first.dims.length &&
        t.dims.every((d, a) => a === axis || d === first.dims[a])
      );
    });
    if (
      !same ||
      (typeof declared === 'number' && declared >= 0) ||
      first.dims.length === 0 ||
      first.type === 'string'
    )
      return take[0];
    const outer = first.dims.slice(0, axis).reduce((p, q) => p * q, 1);
    const parts = take.map((f) => f[name].data as ArrayLike<number> & { length: number });
    const total = parts.reduce((s, p) => s + p.length, 0);
    const Ctor = (
      first.data as unknown as {
        constructor: new (n: number) => { set(a: ArrayLike<number>, o: number): void };
      }
    ).constructor;
    const data = new Ctor(total);
    // Interleave per outer index so the batch axis (not always axis 0) grows.
    let at = 0;
    for (let o = 0; o < outer; o++)
      for (const p of parts) {
        const chunk = p.length / outer;
        data.set(
          (p as unknown as { subarray(a: number, b: number): ArrayLike<number> }).subarray(
            o * chunk,
            (o + 1) * chunk,
          ),
          at,
        );
        at += chunk;
      }
    const dims = [...first.dims];
    dims[axis] = take.reduce((s, f) => s + f[name].dims[axis], 0);
    out[name] = new ort.Tensor(first.type as 'float32', data as unknown as Float32Array, dims);
  }
  return out;
}
