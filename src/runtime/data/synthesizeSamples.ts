import type * as OrtTypes from 'onnxruntime-node';
import { type DetectedTask, detectTask } from '../../core/data/detectTask';
import type { ConstantReader } from '../../core/data/integerRange';
import { ModelError } from '../../core/errors';
import type { ModelIndex } from '../../core/onnx/modelIndex';
import { decodeFloat16 } from '../../core/tensor/float16';
import type { Feeds, SynthesizedInput, VerifyOptions } from '../verifyModels';
import { FREE_DIM, mulberry32, resolveDim, synthesizeFeeds } from './synthesizeInputs';

type Ort = typeof OrtTypes;

/** The sizes tried for open dims, in order, when the original fails on the smaller ones. */
export const FREE_DIM_LADDER = [FREE_DIM, 64, 512];

/** The window of self-sampled language-model sequences when nothing sets the sequence length. */
export const LM_WINDOW = 32;

/** A model and what synthesis needs of it. */
export interface SynthesisModel {
  path: string;
  index: ModelIndex;
  readConstant?: ConstantReader;
}

/** Synthesis settled for one model: the options every sample uses, its task, and what was chosen. */
export interface SynthesisPlan {
  options: VerifyOptions;
  task: DetectedTask;
  /** Said when the sizes were raised ("sequence = 64: the original fails on 8 (…)"). */
  note?: string;
  /** Tokens per self-sampled sequence (language models). */
  window?: number;
}

/**
 * Settles the sizes synthesized inputs get: runs the original once on the first sample; when it fails and
 * some dims were open (no --dims, no hint), raises them along FREE_DIM_LADDER (8 → 64 → 512) and says what
 * it chose. When nothing runs, a ModelError says in words that the original does not run on synthesized
 * inputs, naming the inputs and ONNX Runtime's reason.
 */
export async function planSynthesis(
  ort: Ort,
  session: OrtTypes.InferenceSession,
  model: SynthesisModel,
  options: VerifyOptions,
): Promise<SynthesisPlan> {
  const task = detectTask(model.index, model.readConstant);
  const tried: string[] = [];
  let firstError = '';
  let described: SynthesizedInput[] = [];
  const ladder = options.freeDim !== undefined ? [options.freeDim] : FREE_DIM_LADDER;
  for (const freeDim of ladder) {
    const free = new Set<string>();
    described = [];
    const feeds = synthesizeFeeds(
      ort,
      model.index,
      session.inputNames,
      { ...options, freeDim },
      described,
      model.readConstant,
      free,
    );
    try {
      // Failures are expected while the sizes are tried: keep ONNX Runtime's log quiet.
      await session.run(feeds, { logSeverityLevel: 4 });
      const settled = { ...options, freeDim };
      const note =
        tried.length > 0
          ? `${[...free].join(', ')} = ${freeDim}: the original fails on ${tried.join(', ')} (${firstError})`
          : undefined;
      return { options: settled, task, note, window: lmWindow(model.index, task, settled) };
    } catch (e) {
      if (!firstError) firstError = (e as Error).message;
      tried.push(`${[...free].join(', ') || 'the declared sizes'} = ${freeDim}`);
      // Nothing open: a larger size cannot help.
      if (free.size === 0 || options.inputsDir) break;
    }
  }
  const inputs = described.map((i) => `${i.name} ${i.dtype}[${i.dims.join(',')}]`).join(', ');
  throw new ModelError(
    model.path,
    `the original model does not run on synthesized inputs: give real inputs with --data, or sizes with ` +
      `--dims (inputs ${inputs}; tried ${tried.join(', ')}). onnxruntime: ${firstError}`,
  );
}

/** Tokens per LM sequence: the ids' sequence dim when --dims (or a hint) sets it, else LM_WINDOW. */
function lmWindow(index: ModelIndex, task: DetectedTask, options: VerifyOptions): number | undefined {
  if (task.task !== 'lm') return undefined;
  const info = index.graphs[0].inputs.find((i) => i.name === task.inputIds);
  const declared = info?.shape?.[1];
  if (typeof declared === 'number' && declared > 0) return declared;
  const shape = options.shapes?.[task.inputIds];
  if (shape?.length === 2) return shape[1];
  if (!info) return LM_WINDOW;
  const r = resolveDim(index, info, 1, new Map(Object.entries(options.dims ?? {})), LM_WINDOW);
  return r.free ? LM_WINDOW : r.value;
}

/**
 * `count` synthesized samples with seeds `seed`, `seed + 1`, …: for a causal LM, token sequences sampled
 * from the original model itself (seeded, temperature 1, token by token from a random first token, the
 * growing window re-run with an empty past); otherwise synthesizeFeeds with each seed. `described`
 * receives the first sample's inputs.
 */
export async function synthesizeSamples(
  ort: Ort,
  session: OrtTypes.InferenceSession,
  model: SynthesisModel,
  plan: SynthesisPlan,
  count: number,
  seed: number,
  described: SynthesizedInput[] = [],
): Promise<Feeds[]> {
  const samples: Feeds[] = [];
  for (let s = 0; s < count; s++) {
    const into = s === 0 ? described : [];
    if (plan.task.task === 'lm' && plan.window !== undefined) {
      samples.push(await sampleSequence(ort, session, model, plan, plan.task, seed + s, into));
    } else {
      samples.push(
        synthesizeFeeds(
          ort,
          model.index,
          session.inputNames,
          { ...plan.options, seed: seed + s },
          into,
          model.readConstant,
        ),
      );
    }
  }
  return samples;
}

/** Feeds for `tokens` as a [1, n] window with an empty past, the other inputs synthesized to match. */
function windowFeeds(
  ort: Ort,
  session: OrtTypes.InferenceSession,
  model: SynthesisModel,
  plan: SynthesisPlan,
  task: Extract<DetectedTask, { task: 'lm' }>,
  tokens: readonly number[],
  seed: number,
  described: SynthesizedInput[],
): Feeds {
  const n = tokens.length;
  // Every open dim (seq_len, total_seq_len) is the window; past lengths stay 0.
  const options: VerifyOptions = {
    ...plan.options,
    seed,
    freeDim: n,
    shapes: { ...plan.options.shapes, [task.inputIds]: [1, n] },
  };
  const feeds = synthesizeFeeds(ort, model.index, session.inputNames, options, described, model.readConstant);
  const ids = feeds[task.inputIds];
  feeds[task.inputIds] =
    ids.type === 'int32'
      ? new ort.Tensor('int32', Int32Array.from(tokens), [1, n])
      : new ort.Tensor(
          'int64',
          BigInt64Array.from(tokens, (t) => BigInt(t)),
          [1, n],
        );
  return feeds;
}

async function sampleSequence(
  ort: Ort,
  session: OrtTypes.InferenceSession,
  model: SynthesisModel,
  plan: SynthesisPlan,
  task: Extract<DetectedTask, { task: 'lm' }>,
  seed: number,
  described: SynthesizedInput[],
): Promise<Feeds> {
  const random = mulberry32(seed * 7919 + 17);
  const V = task.vocab;
  const window = plan.window ?? LM_WINDOW;
  const tokens = [Math.floor(random() * V)];
  const p = new Float64Array(V);
  while (tokens.length < window) {
    const feeds = windowFeeds(ort, session, model, plan, task, tokens, seed, []);
    const out = await session.run(feeds, [task.logits]);
    const logits = out[task.logits];
    const data =
      logits.type === 'float16' ? decodeFloat16(logits.data as Uint16Array) : (logits.data as Float32Array);
    const start = (tokens.length - 1) * V;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (data[start + i] > max) max = data[start + i];
    let sum = 0;
    for (let i = 0; i < V; i++) sum += p[i] = Math.exp(data[start + i] - max);
    let u = random() * sum;
    let next = V - 1;
    for (let i = 0; i < V; i++) {
      u -= p[i];
      if (u < 0) {
        next = i;
        break;
      }
    }
    tokens.push(next);
  }
  const feeds = windowFeeds(ort, session, model, plan, task, tokens, seed, described);
  const ids = described.find((d) => d.name === task.inputIds);
  if (ids) ids.values = `self-sampled from the original (seed ${seed}, temperature 1)`;
  return feeds;
}
