import type { WeightLayout } from '../stats/tensorStats';
import type { ModelIndex, TensorInfo } from './modelIndex';

/**
 * How a weight is laid out for the op that reads it: which axis the op sums over (where N:M sparsity
 * is counted) and which axis indexes output channels. Undefined when no consumer says.
 */
export function weightLayout(index: ModelIndex, tensor: TensorInfo): WeightLayout | undefined {
  const dims = tensor.dims;
  for (const { nodeId, input } of tensor.consumers) {
    const node = index.nodes[nodeId];
    const int = (name: string, fallback: number) =>
      node.attributes.find((a) => a.name === name)?.i ?? fallback;
    switch (node.opType) {
      case 'MatMul':
      case 'FusedMatMul':
        if (dims.length !== 2) break;
        // B [K, N] sums over K; a constant A [M, K] sums over its last axis.
        return input === 1
          ? { dims, reductionAxis: 0, channelAxis: 1 }
          : { dims, reductionAxis: 1, channelAxis: 0 };
      case 'Gemm':
        if (dims.length !== 2 || input > 1) break;
        if (input === 1)
          return int('transB', 0)
            ? { dims, reductionAxis: 1, channelAxis: 0 }
            : { dims, reductionAxis: 0, channelAxis: 1 };
        return int('transA', 0)
          ? { dims, reductionAxis: 0, channelAxis: 1 }
          : { dims, reductionAxis: 1, channelAxis: 0 };
      case 'Conv':
      case 'FusedConv':
        // W [O, I/g, k…]: output channels first; N:M along input channels, as sparse tensor cores count it.
        if (input === 1 && dims.length >= 3) return { dims, reductionAxis: 1, channelAxis: 0 };
        break;
      case 'ConvTranspose':
        if (input === 1 && dims.length >= 3) return { dims, reductionAxis: 0, channelAxis: 1 };
        break;
      case 'Attention':
        // com.microsoft::Attention's packed QKV weight [hidden, 3*hidden] is read like MatMul's B.
        if (node.domain === 'com.microsoft' && input === 1 && dims.length === 2)
          return { dims, reductionAxis: 0, channelAxis: 1 };
        break;
      case 'Gather':
        // An embedding table [V, D]: each row is one token's vector.
        if (input === 0 && dims.length === 2) return { dims, reductionAxis: 1, channelAxis: 0 };
        break;
    }
  }
  return undefined;
}
