import type { QuantMethod } from '../core/quant/dataAwareQuantize';
import { planQuantize, type QuantizeOptions } from '../core/quant/planQuantize';
import type { DataAwareSection } from '../core/quant/quantizeReport';
import { openCandidateRunner } from '../runtime/candidateRunner';
import type { OpenedModel } from '../runtime/openModel';
import type { DataAwarePlan } from '../runtime/planDataAware';
import type { VerifyOptions, VerifyResult } from '../runtime/verifyModels';

/**
 * The report's data-aware section. When the written model was verified, the round-to-nearest model is
 * built in memory and run on the same verification inputs, so the report can say what the method gained
 * at the model's outputs (worst output SQNR), not only per layer on the calibration activations.
 */
export async function dataAwareSection(
  model: OpenedModel,
  options: QuantizeOptions,
  method: QuantMethod,
  plan: DataAwarePlan,
  verification: VerifyResult | undefined,
  verifyOptions: VerifyOptions,
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
  const runner = await openCandidateRunner(model, verifyOptions);
  const rtn = await runner.run(planQuantize(model.index, model.source, model.resolveExternal, options).edits);
  if (rtn.error || rtn.outputs.length === 0) return section;
  section.rtnOutputSqnrDb = Math.min(...rtn.outputs.map((o) => o.sqnrDb));
  section.outputSqnrDb = Math.min(...verification.outputs.map((o) => o.sqnrDb));
  section.outputGainDb = round(section.outputSqnrDb - section.rtnOutputSqnrDb);
  return section;
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;
}
