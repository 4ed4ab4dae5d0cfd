/**
 * What the model editor shows of a `big-shrink sensitivity --json` report (saved beside the model as
 * `<model>.sensitivity.json`): per layer the measured output SQNR and cosine loss, nothing per value.
 * Parsing checks the fields the editor reads, so a stray or older file is refused with a reason.
 */
import type { WeightSweep } from './sweepPoints';

/** One measured layer. JSON has no Infinity: a null SQNR reads as Infinity (exact), or NaN with an error. */
export interface SensitivityRow {
  name: string;
  op: string;
  params: number;
  /** The weight's SQNR at the measured bits. */
  weightSqnrDb: number;
  /** The worst model output's SQNR with only this weight quantized. */
  outputSqnrDb: number;
  cosine: number;
  /** 1 - cosine. */
  cosineLoss: number;
  error?: string;
}

export interface SensitivitySummary {
  /** The file it was read from. */
  file: string;
  bits: number;
  blockSize: number;
  /** Most sensitive first, as the CLI ranks them. */
  layers: SensitivityRow[];
}

/** `dir/model.onnx` -> `dir/model.sensitivity.json` (the `<model>.<variant>.report.json` naming). */
export function sensitivityFileOf(modelPath: string): string {
  return `${modelPath.replace(/\.onnx$/i, '')}.sensitivity.json`;
}

/** The summary of a parsed report; throws an Error whose message says what is wrong. */
export function summarizeSensitivity(json: unknown, file: string): SensitivitySummary {
  const r = json as { bits?: unknown; blockSize?: unknown; layers?: unknown };
  if (typeof r !== 'object' || r === null || !Array.isArray(r.layers))
    throw new Error('is not a sensitivity report (no layers)');
  if (typeof r.bits !== 'number') throw new Error('is not a sensitivity report (no bits)');
  const layers = r.layers.map((l: Record<string, unknown>, i): SensitivityRow => {
    if (typeof l?.name !== 'string') throw new Error(`layer ${i} has no name`);
    const error = typeof l.error === 'string' ? l.error : undefined;
    const db = (v: unknown) => (typeof v === 'number' ? v : error ? NaN : Infinity);
    const num = (v: unknown) => (typeof v === 'number' ? v : NaN);
    return {
      name: l.name,
      op: typeof l.op === 'string' ? l.op : '',
      params: num(l.params),
      weightSqnrDb: db(l.weightSqnrDb),
      outputSqnrDb: db(l.outputSqnrDb),
      cosine: num(l.cosine),
      cosineLoss: num(l.cosineLoss),
      ...(error ? { error } : {}),
    };
  });
  return { file, bits: r.bits, blockSize: typeof r.blockSize === 'number' ? r.blockSize : 32, layers };
}

/**
 * A sweep that crossed a JSON channel (a webview's postMessage, a saved report): an SQNR is null there
 * only when it was infinite (no error at all), as sqnrDb returns Infinity for zero error.
 */
export function sweepFromJson(sweep: WeightSweep): WeightSweep {
  const back = <K extends number>(r: Record<K, number>) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v ?? Infinity])) as Record<K, number>;
  return { bits: back(sweep.bits), sparsity: back(sweep.sparsity) };
}
