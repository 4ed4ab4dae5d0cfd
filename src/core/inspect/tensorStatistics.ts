import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex } from '../onnx/modelIndex';
import { weightLayout } from '../onnx/weightLayout';
import { statsScratch } from '../simd/statsSimd';
import { computeStats } from '../stats/computeStats';
import { payloadHash, payloadHasherForValues } from '../stats/payloadHash';
import type { TensorStats } from '../stats/tensorStats';
import { canDecode } from '../tensor/decodeRawElements';
import { readFloat32Into } from '../tensor/readFloat32Into';
import { DataType } from '../tensor/dataType';
import { tensorValues } from '../tensor/tensorValues';
import { valuesOf, type ValueStream } from '../tensor/valueStream';
import type { TensorInfo } from '../onnx/modelIndex';
import { dequantizedView } from './dequantizedView';
import { packedCodeValues, packedCodesOf } from './storedCodes';

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
  // A MatMulNBits B packs 2–8-bit codes into bytes: its statistics are over the codes (0…15 at 4 bits),
  // one per weight, with no layout (a zero code is not a zero weight; the dequantized view has the layout).
  const packed = packedCodesOf(index, tensor);
  const layout = packed ? undefined : weightLayout(index, tensor);
  // For raw float tensors the hash rides along with the statistics' first pass: no third read.
  const hasher = payloadHasherForValues(tensor);
  const values = packed
    ? packedCodeValues(tensorValues(tensor, source, resolveExternal), packed)
    : (wholeFloat32(tensor, source, resolveExternal) ?? tensorValues(tensor, source, resolveExternal));
  const stats = computeStats(values, { bins, layout, hasher });
  const hash = hasher ? hasher.digest() : payloadHash(tensor, source, resolveExternal);
  const view = dequantizedView(index, tensor, source, resolveExternal);
  const dequantized = view ? computeStats(view.values, { bins, layout: view.layout }) : undefined;
  return { stats, hash, ...(dequantized ? { dequantized } : {}) };
}

/** Tensors up to this size are read once and kept for both statistics passes (the RSS bound allows 2×). */
const WHOLE_READ_LIMIT = 256 << 20;

/**
 * A raw or external float32 tensor read in one go, so the second statistics pass does not read the file
 * again. Undefined when the tensor is not such a tensor, is too large, or its payload length is off
 * (tensorValues then reports the problem).
 */
function wholeFloat32(
  tensor: TensorInfo,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
): ValueStream | undefined {
  if (tensor.dtype !== DataType.FLOAT || tensor.sparse || tensor.count * 4 > WHOLE_READ_LIMIT)
    return undefined;
  // One buffer per thread, reused tensor after tensor: fresh multi-MB buffers cost page faults that
  // serialize the worker threads of one process.
  // In the SIMD kernels' memory when they run, so they read the values where they are.
  if (scratch.length < tensor.count) {
    const size = Math.max(tensor.count, Math.floor(scratch.length * 1.5));
    scratch = statsScratch(size) ?? new Float32Array(size);
  }
  const values = scratch.subarray(0, tensor.count);
  if (!readFloat32Into(tensor, source, resolveExternal, values)) return undefined;
  return valuesOf(values);
}

/** The reused read buffer of wholeFloat32 (its values are only read while one tensor's statistics run). */
let scratch: Float32Array = new Float32Array(0);
