/**
 * What to try after a transform whose fidelity verdict is FAIL, instead of only "check the outputs": shrink
 * to a fidelity target, a data-aware method where round-to-nearest failed, or keeping the most sensitive
 * layers in float. A pure decision over the report's facts, shared by the notification and the side panel.
 */

/** The facts of a report the decision reads (a ReportView has them all). */
export interface NextStepReport {
  transform: string;
  status: 'pass' | 'warn' | 'fail' | 'unverified';
  /** The CLI options the report lists (`format`, `bits`, `blockSize`, `method`, `exclude` …). */
  options: Record<string, string | number | boolean>;
  /** Set when the comparison itself failed (then fidelity figures are missing, and so is their advice). */
  fidelity: { error?: string };
  /** The weights the transform changed, with the weight SQNR the report measured. */
  tensors: readonly { name: string; weightSqnrDb?: number | null }[];
}

/** A measured per-layer ranking (`<model>.sensitivity.json`): most sensitive first. */
export interface SensitivityRanking {
  layers: readonly { name: string; error?: string }[];
}

/** What "Quantize…" is asked to do again (its request argument). */
export interface QuantizeRequest {
  preset: 'nbits2' | 'nbits4' | 'nbits8' | 'qdq4' | 'qdq8';
  blockSize?: number;
  method?: 'rtn' | 'search' | 'gptq';
  exclude?: string;
  /** The failed output is replaced without asking: the user chose to try again. */
  force: true;
}

/** One next step, with what runs when it is chosen. */
export type NextStep =
  | { kind: 'shrinkToTarget'; label: 'Shrink to Target…'; detail: string }
  | { kind: 'dataAware'; label: 'Try a data-aware method'; detail: string; request: QuantizeRequest }
  | {
      kind: 'excludeSensitive';
      label: 'Exclude the most sensitive layers';
      detail: string;
      /** The layers kept in float, most sensitive first. */
      layers: string[];
      request: QuantizeRequest;
    };

/** How many of `count` ranked layers to keep in float: the worst tenth, at least one, at most eight. */
export function sensitiveCount(count: number): number {
  return Math.min(8, Math.max(1, Math.ceil(count / 10)));
}

/**
 * The next steps that apply to a FAIL (none for pass, warn, an unverified run, or models that could not be
 * compared, where no figure says what went wrong):
 * - "Shrink to Target…" for quantize, convert and prune: the per-layer search finds the smallest mix that
 *   keeps a target (not offered after a shrink, which already did that);
 * - "Try a data-aware method" after round-to-nearest MatMulNBits quantization (GPTQ at the same bits);
 * - "Exclude the most sensitive layers" after a quantization of two or more weights whose per-layer figures
 *   are known: measured (`sensitivity`, most sensitive first) or else the report's weight SQNR (lowest first).
 *   It quantizes again with those layers added to --exclude.
 */
export function nextSteps(report: NextStepReport, sensitivity?: SensitivityRanking): NextStep[] {
  if (report.status !== 'fail' || report.fidelity.error) return [];
  const steps: NextStep[] = [];
  if (report.transform !== 'shrink')
    steps.push({
      kind: 'shrinkToTarget',
      label: 'Shrink to Target…',
      detail: 'choose the precision of each layer to keep a fidelity target',
    });
  if (report.transform !== 'quantize') return steps;
  const o = report.options;
  const preset = presetOf(o);
  if (!preset) return steps;
  const blockSize = typeof o.blockSize === 'number' ? o.blockSize : undefined;
  const method = typeof o.method === 'string' ? o.method : 'rtn';
  if (o.format === 'nbits' && method === 'rtn')
    steps.push({
      kind: 'dataAware',
      label: 'Try a data-aware method',
      detail: `quantize again with GPTQ (calibrated codes) at ${o.bits}-bit`,
      request: { preset, blockSize, method: 'gptq', force: true },
    });
  const ranked = rankedLayers(report, sensitivity);
  if (ranked.length >= 2) {
    const layers = ranked.slice(0, sensitiveCount(ranked.length));
    const exclude = typeof o.exclude === 'string' ? o.exclude : '';
    const names = `^(?:${layers.map(escapeRegExp).join('|')})$`;
    steps.push({
      kind: 'excludeSensitive',
      label: 'Exclude the most sensitive layers',
      detail: `quantize again with ${layers.join(', ')} kept in float (${sensitivity ? 'measured sensitivity' : 'lowest weight SQNR'})`,
      layers,
      request: {
        preset,
        blockSize,
        ...(method !== 'rtn' ? { method: method as QuantizeRequest['method'] } : {}),
        exclude: exclude ? `${exclude}|${names}` : names,
        force: true,
      },
    });
  }
  return steps;
}

/** The "Quantize…" preset that made a quantize report, from its options. */
function presetOf(o: NextStepReport['options']): QuantizeRequest['preset'] | undefined {
  const id = `${o.format}${o.bits}`;
  return id === 'nbits2' || id === 'nbits4' || id === 'nbits8' || id === 'qdq4' || id === 'qdq8'
    ? id
    : undefined;
}

/**
 * The quantized weights, most sensitive first: the measured ranking where it covers them (layers that
 * could not be measured, or were not quantized, left out), else by the report's weight SQNR.
 */
function rankedLayers(report: NextStepReport, sensitivity?: SensitivityRanking): string[] {
  const quantized = new Set(report.tensors.map((t) => t.name));
  if (sensitivity) {
    const measured = sensitivity.layers.filter((l) => !l.error && quantized.has(l.name)).map((l) => l.name);
    if (measured.length > 0) return measured;
  }
  return report.tensors
    .filter((t) => typeof t.weightSqnrDb === 'number' && Number.isFinite(t.weightSqnrDb))
    .sort((a, b) => (a.weightSqnrDb as number) - (b.weightSqnrDb as number) || a.name.localeCompare(b.name))
    .map((t) => t.name);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
