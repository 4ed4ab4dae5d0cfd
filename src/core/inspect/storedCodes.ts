import type { ModelIndex, TensorInfo } from '../onnx/modelIndex';
import { matMulNBitsValues, type MatMulNBitsParams } from '../quant/matMulNBitsValues';
import { DataType, dataTypeName } from '../tensor/dataType';
import type { ValueStream } from '../tensor/valueStream';

/**
 * Where a tensor packs several quantized codes per stored element: input B of `com.microsoft::MatMulNBits`
 * (uint8 bytes holding 2, 4 or 8-bit codes of the `[N, K]` weight, K padded to whole blocks).
 */
export function packedCodesOf(index: ModelIndex, tensor: TensorInfo): MatMulNBitsParams | undefined {
  if (tensor.dtype !== DataType.UINT8) return undefined;
  for (const { nodeId, input } of tensor.consumers) {
    const node = index.nodes[nodeId];
    if (node.opType !== 'MatMulNBits' || node.domain !== 'com.microsoft' || input !== 1) continue;
    const int = (name: string) => node.attributes.find((a) => a.name === name)?.i;
    const K = int('K');
    const N = int('N');
    if (K === undefined || N === undefined || !(K > 0 && N > 0)) continue;
    const params = { K, N, bits: int('bits') ?? 4, blockSize: int('block_size') ?? 32 };
    const blob = (params.blockSize * params.bits) / 8;
    // Only a B whose size fits the attributes is read as codes (a bad one keeps its bytes view).
    if (tensor.count !== N * Math.ceil(K / params.blockSize) * blob) continue;
    return params;
  }
  return undefined;
}

/**
 * The codes a MatMulNBits B holds, one value per weight (0…2^bits − 1) in `[N, K]` order, the padding
 * of the last block dropped: what the "stored codes" statistics are computed over.
 */
export function packedCodeValues(bytes: ValueStream, params: MatMulNBitsParams): ValueStream {
  const blocks = params.N * Math.ceil(params.K / params.blockSize);
  // Scale 1 and zero point 0 turn the dequantizer into an unpacker.
  return matMulNBitsValues(
    bytes,
    new Float64Array(blocks).fill(1),
    { kind: 'float', values: new Float64Array(blocks) },
    params,
  );
}

/** Inputs of a quantized reader that hold its scales and zero points (not weights of their own). */
const QUANTIZATION_PARAMETER_SLOTS: Record<string, number[]> = {
  MatMulNBits: [2, 3],
};

/**
 * The learned parameters a tensor holds: one per weight, whatever the packing (a MatMulNBits B counts K·N,
 * not its bytes); 0 for the scales and zero points of a quantized weight, which only say how to read its
 * codes.
 */
export function parameterCount(index: ModelIndex, tensor: TensorInfo): number {
  const packed = packedCodesOf(index, tensor);
  if (packed) return packed.K * packed.N;
  const quantization =
    tensor.consumers.length > 0 &&
    tensor.consumers.every(({ nodeId, input }) =>
      QUANTIZATION_PARAMETER_SLOTS[index.nodes[nodeId].opType]?.includes(input),
    );
  return quantization ? 0 : tensor.count;
}

/**
 * The type its values are stored as, for the parameters-by-type overview: a MatMulNBits B counts as
 * `uint4` (or `uint2`, `uint8`), the rest as their dtype.
 */
export function storedTypeName(index: ModelIndex, tensor: TensorInfo): string {
  const packed = packedCodesOf(index, tensor);
  return packed ? `uint${packed.bits}` : dataTypeName(tensor.dtype);
}
