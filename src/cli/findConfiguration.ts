import { ModelError } from '../core/errors';
import { type LmHeadPrecision, lmHeadWeights } from '../core/quant/lmHead';
import { DEFAULT_QUANTIZE_OPTIONS, type QuantizedTensorRow } from '../core/quant/planQuantize';
import { addNbitsBytes } from '../core/shrink/nbitsBytes';
import { planMixed } from '../core/shrink/planMixed';
import { ladderOf, type Precision, PRECISION_SPECS, PRECISIONS } from '../core/shrink/precisions';
import type { Baseline, ShrinkReport } from '../core/shrink/shrinkReport';
import {
  type Evaluation,
  type Fallback,
  type Loss,
  type LossRequest,
  type SearchLayer,
  type SearchResult,
  searchShrink,
} from '../core/shrink/shrinkSearch';
import type { Objective, Structure } from '../core/shrink/shrinkChoices';
import {
  fidelityOf,
  meetsTarget,
  type ShrinkTarget,
  targetValue,
  unmeasurable,
} from '../core/shrink/shrinkTarget';
import { openCandidateRunner } from '../runtime/candidateRunner';
import { openLossEstimator, type LossEstimator } from '../runtime/estimateLayerLosses';
import { modelBytesOf, type OpenedModel, openModel } from '../runtime/openModel';
import { openSensitivity, SensitivityCancelledError, type SensitivitySession } from '../runtime/sensitivity';
import type { VerifyOptions } from '../runtime/verifyModels';

export interface SearchSettings {
  verify: VerifyOptions;
  /** Structural choices beside the precisions (`--choices`). */
  structures: Structure[];
  objective: Objective;
  maxBytes?: number;
  precisions: Precision[];
  /** Undefined: as many as the model allows (sensitivityWorkersFor). */
  workers?: number;
  /** Only these layers are searched; the others stay in float. */
  layers?: RegExp;
  refine: boolean;
  /** Undefined: estimated from ESTIMATE_FROM_BYTES up, else measured. */
  losses?: LossSource;
  /** The fewest bits (or float) a language model's head may take (`--lm-head`, default 8). */
  lmHead: LmHeadPrecision;
}

/** The lowest rung of an LM head's ladder per `--lm-head`. */
const LM_HEAD_FLOORS: Record<LmHeadPrecision, Precision> = {
  2: 'int2',
  4: 'int4b128',
  8: 'int8',
  float: 'float',
};

/** How the search found each layer's loss alone (`--losses`, `summary.losses`). */
export type LossSource = 'measured' | 'estimated';

/** From this size on, a model's layer losses are estimated by default: one session load costs seconds. */
const ESTIMATE_FROM_BYTES = 2 ** 30;

export interface Found extends SearchResult {
  /** The workers that measured layer losses (0: they were estimated, no worker ran). */
  workers: number;
  lossSource: LossSource;
  layers: SearchLayer[];
  baselines: ShrinkReport['baselines'];
}

/**
 * The weights shrink may change and each one's bytes at every allowed precision, from the planners
 * themselves (one whole-model plan per MatMulNBits precision; float16 halves a float32 weight), so the
 * search trades real bytes.
 */
function plannedLayers(
  model: OpenedModel,
  precisions: readonly Precision[],
): { rows: QuantizedTensorRow[]; bytes: Map<string, Partial<Record<Precision, number>>> } {
  const bytes = new Map<string, Partial<Record<Precision, number>>>();
  const rows = addNbitsBytes(model, precisions, bytes);
  for (const r of rows) {
    const b = bytes.get(r.name) ?? {};
    b.float = r.beforeBytes;
    if (precisions.includes('fp16') && r.beforeDtype === 'float32') b.fp16 = r.beforeBytes / 2;
    bytes.set(r.name, b);
  }
  return { rows, bytes };
}

/** The precision each baseline key stands for. */
const BASELINE_PRECISION = (key: string): Precision =>
  key === 'uniform4' ? 'int4' : key === 'uniform8' ? 'int8' : (key as Precision);

/** The smallest uniform configuration of an allowed precision that meets the target, as a search fallback. */
function smallestMeeting(
  baselines: Found['baselines'],
  precisions: readonly Precision[],
  layers: readonly SearchLayer[],
): Fallback | undefined {
  const meeting = Object.entries(baselines)
    .filter(([k, b]) => {
      const p = BASELINE_PRECISION(k);
      // Only a configuration every layer may take (an LM head has a floor of its own).
      const allowed = layers.every((l) => !l.ladder || l.ladder.includes(p));
      return b.meetsTarget && !b.error && precisions.includes(p) && allowed;
    })
    .sort((a, b) => a[1].bytes - b[1].bytes);
  if (meeting.length === 0) return undefined;
  const [key, b] = meeting[0];
  return {
    label: key,
    choices: new Map(layers.map((l) => [l.name, BASELINE_PRECISION(key)])),
    evaluation: b,
  };
}

/**
 * Opens the model for measurements, runs the uniform baselines and searches; throws when no file should
 * be written.
 */
export async function findConfiguration(
  input: string,
  target: ShrinkTarget,
  settings: SearchSettings,
  log: (m: string) => void,
  signal: AbortSignal,
): Promise<Found> {
  const { verify, precisions } = settings;
  const model = openModel(input);
  let session: SensitivitySession | undefined;
  try {
    const lossSource =
      settings.losses ?? (modelBytesOf(model) >= ESTIMATE_FROM_BYTES ? 'estimated' : 'measured');
    const planned = plannedLayers(model, precisions);
    if (planned.rows.length === 0)
      throw new ModelError(
        input,
        'no MatMul/Gemm weights to shrink: no MatMul or Gemm reads a constant 2-D float weight. No file written.',
      );
    const pick = settings.layers;
    const rows = pick
      ? planned.rows.filter((r) => pick.test(r.name) || r.nodes.some((n) => pick.test(n)))
      : planned.rows;
    if (rows.length === 0)
      throw new ModelError(input, `no MatMul/Gemm weight matches --layers ${pick?.source}. No file written.`);
    const sizes = planned.bytes;
    const heads = new Set(lmHeadWeights(model.index).map((t) => t.name));
    const headLadder = (bytes: Partial<Record<Precision, number>>) =>
      ladderOf(
        precisions.filter(
          (p) => PRECISIONS.indexOf(p) >= PRECISIONS.indexOf(LM_HEAD_FLOORS[settings.lmHead]),
        ),
        bytes,
      );
    const layers: SearchLayer[] = rows.map((r) => ({
      name: r.name,
      op: r.op,
      params: r.dims.reduce((a, b) => a * b, 1),
      bytes: sizes.get(r.name)!,
      ...(heads.has(r.name) ? { ladder: headLadder(sizes.get(r.name)!) } : {}),
    }));
    for (const r of rows)
      if (heads.has(r.name) && settings.lmHead !== 2)
        log(`${r.name} is the LM head: it takes ${LM_HEAD_FLOORS[settings.lmHead]} or more (--lm-head)`);
    const graphOf = new Map(rows.map((r) => [r.name, r.graph]));
    let estimator: LossEstimator | undefined;
    if (lossSource === 'estimated') {
      log(`estimating layer losses: one calibration pass for ${rows.length} layers' input energy…`);
      estimator = await openLossEstimator(
        model,
        rows.map((r) => r.name),
        verify,
        signal,
      );
      if (estimator.unweighted.length)
        log(
          `${estimator.unweighted.length} layers' inputs could not be captured: their weight error alone counts`,
        );
    } else {
      // Measured losses: the original runs once and the workers run one candidate per layer and precision.
      session = await openSensitivity(
        input,
        { bits: 4, ...verify, workers: settings.workers },
        DEFAULT_QUANTIZE_OPTIONS,
      );
      if (session.workersNote) log(session.workersNote);
    }
    const measured = async (wanted: readonly { name: string; precision: Precision }[]) => {
      if (!session) throw new Error('unreachable: measured losses without a sensitivity session');
      const ids = [...new Set(wanted.map((w) => w.precision))].join(', ');
      log(`measuring ${wanted.length} layer losses alone (${ids}) on ${session.pool.size} workers…`);
      const jobs = wanted.map((w) => {
        const spec = PRECISION_SPECS[w.precision];
        if (spec.kind === 'float') throw new Error('unreachable: float needs no measurement');
        return { name: w.name, graph: graphOf.get(w.name)!, perturbation: spec };
      });
      try {
        const got = await session.pool.measure(jobs, { signal });
        return got.map((m): Loss | undefined =>
          m.error ? undefined : { sqnrDb: m.outputSqnrDb, cosine: m.cosine },
        );
      } catch (e) {
        if (e instanceof SensitivityCancelledError) throw new ModelError(input, 'shrink cancelled');
        throw e;
      }
    };
    const measure = estimator
      ? (wanted: readonly LossRequest[]) => {
          log(`estimating ${wanted.length} layer losses alone from their inputs' energy…`);
          return estimator.estimate(wanted, signal);
        }
      : measured;
    const runner = await openCandidateRunner(model, verify);
    const evaluate = async (choices: ReadonlyMap<string, Precision>): Promise<Evaluation> => {
      if (signal.aborted) throw new ModelError(input, 'shrink cancelled');
      const plan = planMixed(
        model.index,
        model.source,
        model.resolveExternal,
        choices,
        DEFAULT_QUANTIZE_OPTIONS,
      );
      if (plan.blockers.length) return { bytes: NaN, error: plan.blockers.join('; ') };
      const run = await runner.run(plan.edits);
      return {
        bytes: run.bytes,
        fidelity: run.error ? undefined : fidelityOf(run.outputs, run.metrics),
        error: run.error,
      };
    };
    const uniform = async (p: Precision): Promise<Baseline> => {
      const e = await evaluate(new Map(layers.map((l) => [l.name, p])));
      return { ...e, meetsTarget: !e.error && !!e.fidelity && meetsTarget(e.fidelity, target) };
    };
    const baselines: Found['baselines'] = {
      uniform4: await uniform('int4'),
      uniform8: await uniform('int8'),
    };
    for (const p of precisions)
      if (p !== 'int4' && p !== 'int8' && p !== 'float') baselines[p] = await uniform(p);
    const cannot = baselines.uniform4.fidelity && unmeasurable(target, baselines.uniform4.fidelity);
    if (cannot) throw new ModelError(input, cannot);
    log(
      'uniform: ' +
        Object.entries(baselines)
          .map(([k, b]) => `${k} ${b.bytes} bytes`)
          .join(', '),
    );
    const result = await searchShrink(layers, target, evaluate, {
      measure,
      precisions,
      maxBytes: settings.maxBytes,
      fallback: smallestMeeting(baselines, precisions, layers),
      refine: settings.refine,
      // Estimated losses are for models where every run costs minutes: raise many layers per run.
      batch: lossSource === 'estimated',
      onStep: (c) =>
        log(
          `candidate ${c.step}${c.raised ? ` (${c.raised.name} ${c.raised.from}→${c.raised.to}` : ''}` +
            `${c.raised ? `${c.alsoRaised ? ` and ${c.alsoRaised} more layers` : ''})` : ''}` +
            `${c.lowered ? ` (${c.lowered.name} ${c.lowered.from}→${c.lowered.to})` : ''}` +
            `${c.fallback ? ` (falls back to ${c.fallback})` : ''}: ` +
            `${c.bytes} bytes, ${target.metric} ${c.fidelity ? targetValue(c.fidelity, target) : c.error}` +
            `${c.met ? ' — meets the target' : ''}`,
        ),
    });
    if (!result.met) throw new ModelError(input, `${result.failure}. No file written.`);
    return { ...result, layers, baselines, workers: session?.pool.size ?? 0, lossSource };
  } finally {
    model.close();
    await session?.close();
  }
}
