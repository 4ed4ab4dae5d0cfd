import { onnx } from 'onnx-proto';
import type * as OrtTypes from 'onnxruntime-node';
import type { MatMul } from '../core/quant/matMul';
import { loadOrt } from './loadOrt';

/** A one-node model: c = MatMul(a, b) on float64 `[m, k]` and `[k, n]`, every size symbolic. */
function matMulModel(): Uint8Array {
  const value = (name: string, rows: string, cols: string): onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.DOUBLE,
        shape: { dim: [{ dimParam: rows }, { dimParam: cols }] },
      },
    },
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'big-shrink',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'matmul',
      node: [{ opType: 'MatMul', input: ['a', 'b'], output: ['c'] }],
      input: [value('a', 'm', 'k'), value('b', 'k', 'n')],
      output: [value('c', 'm', 'n')],
    },
  }).finish();
}

/**
 * A MatMul run by ONNX Runtime (MLAS's float64 GEMM, ~30× a JavaScript loop on one core) on `threads`
 * threads: the solvers' products on a 1.1 B model's layers take seconds instead of minutes. One session,
 * opened on first use and kept for the thread's life.
 */
export function ortMatMul(threads = 1): MatMul {
  let session: Promise<OrtTypes.InferenceSession> | undefined;
  return async (a, b, m, k, n) => {
    const ort = loadOrt();
    session ??= ort.InferenceSession.create(matMulModel(), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      logSeverityLevel: 4,
    });
    const out = await (
      await session
    ).run({
      a: new ort.Tensor('float64', a, [m, k]),
      b: new ort.Tensor('float64', b, [k, n]),
    });
    return out.c.data as Float64Array;
  };
}
