// Small deterministic models for the CLI contract tests, built with onnx-proto.
import { onnx } from 'onnx-proto';
import { floatTensor, INT64, valueInfo } from './modelFixtures';
import { rng, normal } from './tensorFixtures';

const weights = (seed: number, rows: number, cols: number) => {
  const random = rng(seed);
  return Array.from({ length: rows * cols }, () => normal(random) / Math.sqrt(rows));
};

/**
 * x[1,64] → MatMul w1[64,64] → Relu → MatMul w2[64,16] → y[1,16], seeded Gaussian weights. With
 * `unrunnable`, y is then reshaped to [3, 3] (16 elements do not fit 9), so onnxruntime cannot run the
 * model on any input: the models cannot be compared.
 */
export function mlpModel(options: { unrunnable?: boolean } = {}): Uint8Array {
  const nodes: onnx.INodeProto[] = [
    { opType: 'MatMul', input: ['x', 'w1'], output: ['h'], name: 'mm1' },
    { opType: 'Relu', input: ['h'], output: ['r'], name: 'relu' },
    { opType: 'MatMul', input: ['r', 'w2'], output: [options.unrunnable ? 'z' : 'y'], name: 'mm2' },
  ];
  const initializer = [
    floatTensor('w1', [64, 64], weights(1, 64, 64)),
    floatTensor('w2', [64, 16], weights(2, 64, 16)),
  ];
  if (options.unrunnable) {
    nodes.push({ opType: 'Reshape', input: ['z', 'shape'], output: ['y'], name: 'reshape' });
    initializer.push({
      name: 'shape',
      dims: [2],
      dataType: INT64,
      rawData: new Uint8Array(new BigInt64Array([3n, 3n]).buffer),
    });
  }
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'big-shrink tests',
    opsetImport: [{ version: 17 }],
    graph: {
      name: 'mlp',
      node: nodes,
      initializer,
      input: [valueInfo('x', [1, 64])],
      output: [valueInfo('y', options.unrunnable ? [3, 3] : [1, 16])],
    },
  }).finish();
}

/** x[1,8] → Relu → y: a valid model with no weight at all (nothing to quantize, prune or measure). */
export function weightlessModel(): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ version: 17 }],
    graph: {
      name: 'relu',
      node: [{ opType: 'Relu', input: ['x'], output: ['y'], name: 'relu' }],
      input: [valueInfo('x', [1, 8])],
      output: [valueInfo('y', [1, 8])],
    },
  }).finish();
}
