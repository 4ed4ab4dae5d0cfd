import type { QuantMethod } from '../core/quant/dataAwareQuantize';
import { planQuantize, type QuantizeOptions } from '../core/quant/planQuantize';
import type { DataAwareSection } from '../core/quant/quantizeReport';
import { buildCandidate } from '../runtime/candidateModel';
import type { OpenedModel } from '../runtime/openModel';
import { seededOutputSqnr } from '../runtime/seededOutputSqnr';
import type { WriteResult } from '../runtime/writeModel';
import type { DataAwarePlan } from '../runtime/planDataAware';
import type { VerifyOptions, VerifyResult } from '../runtime/verifyModels';

/** Verification seeds (from the verification's own) over which the model-level gain is measured. */
const OUTPUT_SEEDS = 8;

/**
 * The report's data-aware section. When the written model was verified, the round-to-nearest model is
 * built (buildCandidate: in memory, reading the original's external data) and both run on OUTPUT_SEEDS verification batches (the verification's and the next
 * seeds, none of them calibration seeds), so the report can say what the method gained at the model's
 * outputs (worst output SQNR, energies summed over the batches), not only per layer on the calibration.
 */
export async function dataAwareSection(
  model: OpenedModel,
  options: QuantizeOptions,
  method: QuantMethod,
  plan: DataAwarePlan,
  verification: VerifyResult | undefined,
  verifyOptions: VerifyOptions,
  written: WriteResult,
): Promise<DataAwareSection> {
  const gains = plan.rows.map((r) => r.gainDb).filter(Number.isFinite);
  const section: DataAwareSection = {
    method,
    calibration: plan.calibration,
    layers: plan.rows,
    uncovered: plan.uncovered,
    meanLayerGainDb: round(gains.reduce((s, g) => s + g, 0) / Math.max(1, gains.length)),
  };
  if (!verification?.ok) return section;
  const rtnPlan = planQuantize(model.index, model.source, model.resolveExternal, options);
  const rtn = buildCandidate(model, rtnPlan.edits, {});
  const seeds = Array.from({ length: OUTPUT_SEEDS }, (_, i) => (verifyOptions.seed ?? 1) + i);
  let rtnDb: number;
  let db: number;
  try {
    [rtnDb, db] = await seededOutputSqnr(model, [rtn, written.modelPath], verifyOptions, seeds);
  } finally {
    rtn.dispose();
  }
  section.outputSeeds = verifyOptions.inputsDir ? 1 : OUTPUT_SEEDS;
  section.rtnOutputSqnrDb = round(rtnDb);
  section.outputSqnrDb = round(db);
  section.outputGainDb = round(db - rtnDb);
  return section;
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;
}
