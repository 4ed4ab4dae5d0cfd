import { onnx } from 'onnx-proto';
import type * as OrtTypes from 'onnxruntime-node';
import type { Products } from '../core/quant/products';
import { loadOrt } from './loadOrt';

const DOUBLE = onnx.TensorProto.DataType.DOUBLE;

function value(name: string, dims: string[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: DOUBLE, shape: { dim: dims.map((d) => ({ dimParam: d })) } } },
  };
}

/** A float64 model of `nodes` from inputs to output `out`, every size symbolic. */
function model(
  nodes: onnx.INodeProto[],
  inputs: onnx.IValueInfoProto[],
  out: onnx.IValueInfoProto,
  initializer: onnx.ITensorProto[] = [],
): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'big-shrink',
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'products', node: nodes, input: inputs, output: [out], initializer },
  }).finish();
}

/** c = a·b. */
const MATMUL = model(
  [{ opType: 'MatMul', input: ['a', 'b'], output: ['c'] }],
  [value('a', ['m', 'k']), value('b', ['k', 'n'])],
  value('c', ['m', 'n']),
);

/** q = Σ_j (e·h ∘ e)[:, j]: each row's quadratic form. */
const QUADRATIC = model(
  [
    { opType: 'MatMul', input: ['e', 'h'], output: ['eh'] },
    { opType: 'Mul', input: ['eh', 'e'], output: ['terms'] },
    {
      opType: 'ReduceSum',
      input: ['terms', 'axes'],
      output: ['q'],
      attribute: [{ name: 'keepdims', i: 0, type: onnx.AttributeProto.AttributeType.INT }],
    },
  ],
  [value('e', ['m', 'k']), value('h', ['k', 'k'])],
  value('q', ['m']),
  [{ name: 'axes', dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [1] }],
);

/**
 * Products run by ONNX Runtime (MLAS's float64 GEMM, ~30× a JavaScript loop on one core) on `threads`
 * threads: the solvers' products on a 1.1 B model's layers take seconds instead of minutes. Sessions are
 * opened on first use and kept for the thread's life.
 */
export function ortProducts(threads = 1): Products {
  const sessions = new Map<Uint8Array, Promise<OrtTypes.InferenceSession>>();
  const run = async (bytes: Uint8Array, feeds: Record<string, [Float64Array, number[]]>) => {
    const ort = loadOrt();
    let session = sessions.get(bytes);
    if (!session) {
      session = ort.InferenceSession.create(bytes, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        logSeverityLevel: 4,
      });
      sessions.set(bytes, session);
    }
    const tensors = Object.fromEntries(
      Object.entries(feeds).map(([name, [data, dims]]) => [name, new ort.Tensor('float64', data, dims)]),
    );
    const out = await (await session).run(tensors);
    return Object.values(out)[0].data as Float64Array;
  };
  return {
    matMul: (a, b, m, k, n) => run(MATMUL, { a: [a, [m, k]], b: [b, [k, n]] }),
    quadraticForms: (e, h, m, k) => run(QUADRATIC, { e: [e, [m, k]], h: [h, [k, k]] }),
  };
}
