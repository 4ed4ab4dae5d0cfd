import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex, NodeInfo, TensorInfo } from '../onnx/modelIndex';
import { weightLayout } from '../onnx/weightLayout';
import { dequantizeLinearValues, type DequantizeLinearParams } from '../quant/dequantizeLinearValues';
import { matMulNBitsValues, type MatMulNBitsZeroPoints } from '../quant/matMulNBitsValues';
import type { WeightLayout } from '../stats/tensorStats';
import { DataType } from '../tensor/dataType';
import { tensorValues } from '../tensor/tensorValues';
import { collectValues, type ValueStream } from '../tensor/valueStream';

/** Quantization parameters are small; anything larger is not a scale. */
const MAX_PARAMETER_VALUES = 1 << 24;

/**
 * For a weight stored as quantized codes with constant scales, the stream of its dequantized values:
 * read by DequantizeLinear (input 0), com.microsoft::MatMulNBits (input 1), the QOperator ops
 * QLinearMatMul, QLinearConv and com.microsoft::QGemm (input 3, with their b/w scale and zero point),
 * com.microsoft::DynamicQuantizeMatMul (input 1), or MatMulInteger / ConvInteger (input 1, zero point at
 * input 3, the scale found where ONNX Runtime's quantizer puts it: a `Mul` after the `Cast` of the
 * output, by a constant or by `Mul(activation scale, constant)`). Per-tensor or per output channel.
 * Undefined when the tensor is not such a weight or its scales are not constants.
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
    const qop = QOPERATOR_WEIGHT[node.opType];
    if (qop && qop.input === input) {
      const rank = tensor.dims.length;
      const transB = node.opType === 'QGemm' && int('transB') === 1;
      // Per output channel: Conv's axis 0, a matrix's columns (B [K, N]; QGemm's transposed B [N, K]).
      const axis = qop.channelAxis === 'first' || transB ? 0 : rank - 1;
      const scale = qop.scale !== undefined ? constant(node, qop.scale) : findMulScale(index, node, constant);
      if (!scale || rank === 0) continue;
      const zeroPoint = constant(node, qop.zeroPoint);
      const params = perTensorOrAxis(load(scale), zeroPoint ? load(zeroPoint) : undefined, tensor.dims, axis);
      if (!params) continue;
      const values = dequantizeLinearValues(tensorValues(tensor, source, resolveExternal), params);
      return { values, layout: weightLayout(index, tensor) ?? qoperatorLayout(tensor.dims, axis) };
    }
  }
  return undefined;
}

/** Where the QOperator ops keep a constant weight's codes, scale and zero point. */
const QOPERATOR_WEIGHT: Record<
  string,
  { input: number; scale?: number; zeroPoint: number; channelAxis: 'first' | 'last' }
> = {
  QLinearMatMul: { input: 3, scale: 4, zeroPoint: 5, channelAxis: 'last' },
  QLinearConv: { input: 3, scale: 4, zeroPoint: 5, channelAxis: 'first' },
  QGemm: { input: 3, scale: 4, zeroPoint: 5, channelAxis: 'last' },
  DynamicQuantizeMatMul: { input: 1, scale: 2, zeroPoint: 3, channelAxis: 'last' },
  // No scale input: it multiplies the integer result afterwards.
  MatMulInteger: { input: 1, zeroPoint: 3, channelAxis: 'last' },
  ConvInteger: { input: 1, zeroPoint: 3, channelAxis: 'first' },
};

/**
 * Per-tensor (one scale, one zero point) or per-axis parameters for `dims`; a single zero point or scale
 * is repeated to the other's length. Undefined when the lengths fit neither.
 */
export function perTensorOrAxis(
  scale: Float64Array,
  zeroPoint: Float64Array | undefined,
  dims: number[],
  axis: number,
): DequantizeLinearParams | undefined {
  const n = Math.max(scale.length, zeroPoint?.length ?? 1);
  if (n === 1) return { dims, scale, scaleDims: [], zeroPoint, axis };
  if (n !== dims[axis]) return undefined;
  const widen = (v: Float64Array) =>
    v.length === n ? v : v.length === 1 ? new Float64Array(n).fill(v[0]) : undefined;
  const s = widen(scale);
  const z = zeroPoint ? widen(zeroPoint) : undefined;
  if (!s || (zeroPoint && !z)) return undefined;
  return { dims, scale: s, scaleDims: [n], zeroPoint: z, axis };
}

/** A matrix's layout when its reader (a QOperator op) has none in weightLayout: channels on `axis`. */
function qoperatorLayout(dims: number[], axis: number): WeightLayout | undefined {
  if (dims.length === 2) return { dims, reductionAxis: 1 - axis, channelAxis: axis };
  if (dims.length >= 3 && axis === 0) return { dims, reductionAxis: 1, channelAxis: 0 };
  return undefined;
}

/**
 * The weight scale of a MatMulInteger / ConvInteger, as ONNX Runtime's dynamic quantizer writes it:
 * `Cast(to float)` of the integer output, then `Mul` by the constant scale, or by `Mul(activation scale,
 * constant weight scale)`.
 */
function findMulScale(
  index: ModelIndex,
  node: NodeInfo,
  constant: (node: NodeInfo, input: number) => TensorInfo | undefined,
): TensorInfo | undefined {
  const inGraph = index.nodes.filter((n) => n.graph === node.graph);
  const readers = (name: string) => inGraph.filter((n) => n.inputs.includes(name));
  const producer = (name: string) => inGraph.find((n) => n.outputs.includes(name));
  for (const cast of readers(node.outputs[0] ?? '')) {
    if (cast.opType !== 'Cast') continue;
    for (const mul of readers(cast.outputs[0])) {
      if (mul.opType !== 'Mul') continue;
      const other = mul.inputs[0] === cast.outputs[0] ? 1 : 0;
      const direct = constant(mul, other);
      if (direct) return direct;
      const combined = producer(mul.inputs[other]);
      if (combined?.opType !== 'Mul') continue;
      const found = constant(combined, 0) ?? constant(combined, 1);
      if (found) return found;
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
