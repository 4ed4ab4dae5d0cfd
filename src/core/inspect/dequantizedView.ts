import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex, NodeInfo, TensorInfo } from '../onnx/modelIndex';
import { dequantizeLinearValues } from '../quant/dequantizeLinearValues';
import { matMulNBitsValues, type MatMulNBitsZeroPoints } from '../quant/matMulNBitsValues';
import type { WeightLayout } from '../stats/tensorStats';
import { DataType } from '../tensor/dataType';
import { tensorValues } from '../tensor/tensorValues';
import { collectValues, type ValueStream } from '../tensor/valueStream';

/** Quantization parameters are small; anything larger is not a scale. */
const MAX_PARAMETER_VALUES = 1 << 24;

/**
 * For a weight stored as quantized codes (read by DequantizeLinear input 0 or com.microsoft::MatMulNBits
 * input 1, with constant scales), the stream of its dequantized values. Undefined when the tensor is not
 * such a weight or its scales are not constants.
 */
export function dequantizedView(
  index: ModelIndex,
  tensor: TensorInfo,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
): { values: ValueStream; layout?: WeightLayout } | undefined {
  const constant = (node: NodeInfo, input: number) => findConstant(index, node, node.inputs[input]);
  const load = (t: TensorInfo) =>
    collectValues(tensorValues(t, source, resolveExternal), MAX_PARAMETER_VALUES);
  for (const { nodeId, input } of tensor.consumers) {
    const node = index.nodes[nodeId];
    const int = (name: string) => node.attributes.find((a) => a.name === name)?.i;
    if (node.opType === 'DequantizeLinear' && input === 0) {
      const scale = constant(node, 1);
      if (!scale) continue;
      const zeroPoint = constant(node, 2);
      const values = dequantizeLinearValues(tensorValues(tensor, source, resolveExternal), {
        dims: tensor.dims,
        scale: load(scale),
        scaleDims: scale.dims,
        zeroPoint: zeroPoint ? load(zeroPoint) : undefined,
        axis: int('axis'),
        blockSize: int('block_size'),
      });
      return { values };
    }
    if (node.opType === 'MatMulNBits' && node.domain === 'com.microsoft' && input === 1) {
      const scales = constant(node, 2);
      const K = int('K');
      const N = int('N');
      if (!scales || K === undefined || N === undefined) continue;
      const zp = constant(node, 3);
      let zeroPoints: MatMulNBitsZeroPoints | undefined;
      if (zp) {
        zeroPoints =
          zp.dtype === DataType.UINT8
            ? { kind: 'packed', bytes: Uint8Array.from(load(zp)) }
            : { kind: 'float', values: load(zp) };
      }
      const weight = matMulNBitsValues(
        tensorValues(tensor, source, resolveExternal),
        load(scales),
        zeroPoints,
        {
          K,
          N,
          bits: int('bits') ?? 4,
          blockSize: int('block_size') ?? 32,
        },
      );
      return { values: weight, layout: weight.layout };
    }
  }
  return undefined;
}

/** The constant tensor a node input names, looked up in the node's graph and then its enclosing graphs. */
function findConstant(index: ModelIndex, node: NodeInfo, name: string | undefined): TensorInfo | undefined {
  if (!name) return undefined;
  const candidates = index.tensors.filter((t) => t.name === name);
  if (candidates.length <= 1) return candidates[0];
  // The innermost graph whose path is a prefix of the node's wins (a subgraph may shadow an outer name).
  return candidates
    .filter((t) => node.graph === t.graph || node.graph.startsWith(`${t.graph}/`))
    .sort((a, b) => b.graph.length - a.graph.length)[0];
}
