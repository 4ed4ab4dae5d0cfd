import type { DataSection } from '../data/dataSection';
import type { TaskMetrics } from '../data/taskMetrics';
import type { NodeChange } from '../quant/planQuantize';

/** A file the transform read or wrote. */
export interface ReportFile {
  path: string;
  bytes: number;
  sha256: string;
  /** Bytes of `gzip -6` of the file, where the transform measures it (prune). */
  gzipBytes?: number;
  /**
   * True when `gzipBytes` is an estimate: a large file's evenly spaced blocks compressed one by one, the
   * ratio applied to the whole file; `gzipSampledFraction` is the share of its bytes that were compressed.
   */
  gzipEstimated?: boolean;
  gzipSampledFraction?: number;
}

/** Output fidelity as measured in ONNX Runtime (the shape of runtime/verifyModels' result). */
export interface ReportVerification {
  ok: boolean;
  error?: string;
  minCosine: number;
  inputs: { name: string; dtype: string; dims: number[]; values: string }[];
  outputs: {
    name: string;
    cosine: number;
    sqnrDb: number;
    maxAbsError: number;
    top1Agreement?: number;
  }[];
  original: { bytes: number; loadMs: number; medianMs: number; error?: string };
  candidate: { bytes: number; loadMs: number; medianMs: number; error?: string };
  data?: DataSection;
  /** Task metrics over every evaluation sample: `task` lm | classification | generic, with its figures. */
  metrics?: TaskMetrics;
  /** What synthesis chose that the user should know (open dims raised after the original failed). */
  synthesisNote?: string;
}

/** The summary every transform report opens with. */
export interface TransformSummary {
  bytesBefore: number;
  bytesAfter: number;
  ratio: number;
  tensors: number;
  nodes: number;
  /** pass: min output cosine ≥ 0.99; warn: ≥ 0.95; fail: lower, or the model failed to load or run. */
  status: 'pass' | 'warn' | 'fail' | 'unverified';
}

/** A candidate left as it was, and why. */
export interface SkippedRow {
  name: string;
  op: string;
  reason: string;
  /** Quantize: the weight left in float (when `name` is the node reading it) and its stored bytes. */
  tensor?: string;
  bytes?: number;
}

/**
 * What every compaction report holds (DESIGN.md "Contracts"): JSON on disk, Markdown rendered from the
 * same object. Quantize, convert and prune reports extend it with their own rows and sections.
 */
export interface TransformReport<Row = unknown> {
  tool: { name: 'big-shrink'; version: string };
  transform: 'quantize' | 'convert' | 'prune' | 'shrink' | 'compact';
  createdAt: string;
  input: { files: ReportFile[] };
  output: { files: ReportFile[] };
  options: Record<string, unknown>;
  summary: TransformSummary;
  /** What the figures were measured on: the user's files (split) or synthesized inputs. */
  data?: DataSection;
  /** Opset imports and IR version raised or added, and the nodes rewritten for the new opset. */
  opsetChanges: string[];
  tensors: Row[];
  nodes: NodeChange[];
  skipped: SkippedRow[];
  warnings: string[];
  verification?: ReportVerification;
  timingsMs: Record<string, number>;
  /** Bytes of new tensors that went through a temporary spill file instead of memory (large models). */
  spilledBytes?: number;
}

/** pass / warn / fail from the verification (see TransformSummary.status). */
export function fidelityStatus(v: ReportVerification | undefined): TransformSummary['status'] {
  if (!v) return 'unverified';
  if (!v.ok || !(v.minCosine >= 0.95)) return 'fail';
  return v.minCosine >= 0.99 ? 'pass' : 'warn';
}
