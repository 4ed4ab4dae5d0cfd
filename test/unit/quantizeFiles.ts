// Quantize a model file through the core planners and the writer, as the CLI does (shared by the tests).
import * as path from 'node:path';
import { planQdq } from '../../src/core/quant/planQdq';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  planQuantize,
  type QuantizeOptions,
} from '../../src/core/quant/planQuantize';
import { type Edit, planWrite } from '../../src/core/write/planWrite';
import { type OpenedModel, openModel } from '../../src/runtime/openModel';
import { writeModel } from '../../src/runtime/writeModel';

/**
 * Opens `input`, plans with `plan` and, when `worth(plan)`, writes `output` through the writer as the CLI
 * does (external data beside it when the input had some). Returns the plan.
 */
export function planAndWrite<P extends { edits: Edit[] }>(
  input: string,
  output: string,
  plan: (model: OpenedModel) => P,
  worth: (p: P) => boolean,
): P {
  const model = openModel(input);
  try {
    const p = plan(model);
    if (worth(p)) {
      const ext = model.index.externalLocations.length > 0;
      const wp = planWrite(model.index, model.source, p.edits, {
        externalData: ext ? { location: `${path.basename(output)}.data`, threshold: 1024 } : undefined,
      });
      writeModel(wp, model, output, { force: true });
    }
    return p;
  } finally {
    model.close();
  }
}

/** Plans `format` on `input` and writes `output` when anything was quantized; throws on blockers. */
export function quantizeFile(
  input: string,
  output: string,
  format: 'nbits' | 'qdq',
  options: Partial<QuantizeOptions> = {},
) {
  return planAndWrite(
    input,
    output,
    (model) => {
      const plan = (format === 'qdq' ? planQdq : planQuantize)(
        model.index,
        model.source,
        model.resolveExternal,
        {
          ...DEFAULT_QUANTIZE_OPTIONS,
          ...(format === 'qdq' ? { ops: ['MatMul', 'Gemm', 'Conv'] } : {}),
          ...options,
        },
      );
      if (plan.blockers.length) throw new Error(plan.blockers.join('; '));
      return plan;
    },
    (plan) => plan.tensors.length > 0,
  );
}

/** The portable DequantizeLinear format. */
export function quantizeQdqFile(input: string, output: string, options: Partial<QuantizeOptions> = {}) {
  return quantizeFile(input, output, 'qdq', options);
}
