import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex } from '../onnx/modelIndex';
import { weightLayout } from '../onnx/weightLayout';
import { computeStats } from '../stats/computeStats';
import { payloadHash, payloadHasherForValues } from '../stats/payloadHash';
import type { TensorStats } from '../stats/tensorStats';
import { canDecode } from '../tensor/decodeRawElements';
import { tensorValues } from '../tensor/tensorValues';
import { dequantizedView } from './dequantizedView';

export interface TensorStatisticsResult {
  stats?: TensorStats;
  /** Only for weights stored as quantized codes: statistics of the dequantized values. */
  dequantized?: TensorStats;
  /** Content hash of the stored bytes, to find byte-identical duplicates. */
  hash?: string;
}

/**
 * Statistics of one tensor (and of its dequantized values when it holds quantized codes). Reads the
 * payload by offset, chunk by chunk: a worker-thread job for big tensors. Strings have no statistics.
 */
export function tensorStatistics(
  index: ModelIndex,
  tensorId: number,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  options: { bins?: number } = {},
): TensorStatisticsResult {
  const tensor = index.tensors[tensorId];
  if (!tensor) throw new RangeError(`no tensor #${tensorId}`);
  if (!canDecode(tensor.dtype)) return {};
  const bins = options.bins ?? 64;
  const layout = weightLayout(index, tensor);
  // For raw float tensors the hash rides along with the statistics' first pass: no third read.
  const hasher = payloadHasherForValues(tensor);
  const stats = computeStats(tensorValues(tensor, source, resolveExternal), { bins, layout, hasher });
  const hash = hasher ? hasher.digest() : payloadHash(tensor, source, resolveExternal);
  const view = dequantizedView(index, tensor, source, resolveExternal);
  const dequantized = view ? computeStats(view.values, { bins, layout: view.layout }) : undefined;
  return { stats, hash, ...(dequantized ? { dequantized } : {}) };
}
