// Small ONNX models built with onnx-proto (an encoder independent of the scanner under test).
import { onnx } from 'onnx-proto';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import type { Piece } from '../../src/core/write/pieces';

export const FLOAT = 1;
export const INT64 = 7;

export function floatTensor(
  name: string,
  dims: number[],
  values: number[],
  typed = false,
): onnx.ITensorProto {
  const bytes = new Uint8Array(new Float32Array(values).buffer);
  return typed
    ? { name, dims, dataType: FLOAT, floatData: values }
    : { name, dims, dataType: FLOAT, rawData: bytes };
}

/** A float32 sparse tensor of shape `dims`: `values` at the flat positions `indices` (raw payloads). */
export function sparseFloatTensor(
  name: string,
  dims: number[],
  values: number[],
  indices: bigint[],
): onnx.ISparseTensorProto {
  return {
    values: {
      name,
      dims: [values.length],
      dataType: FLOAT,
      rawData: new Uint8Array(new Float32Array(values).buffer),
    },
    indices: {
      dims: [indices.length],
      dataType: INT64,
      rawData: new Uint8Array(new BigInt64Array(indices).buffer),
    },
    dims,
  };
}

export function valueInfo(name: string, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

const seq = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

/**
 * A model with weights in every place the index must find: a raw initializer (MatMul B), a typed one
 * (float_data), a Constant `value`, a Constant `value_floats`, a sparse initializer, and an If whose
 * branches hold their own initializer and read an outer one.
 */
export function richModel(): Uint8Array {
  const branch = (name: string, scale: number): onnx.IGraphProto => ({
    name,
    initializer: [
      floatTensor(
        `${name}_w`,
        [4],
        seq(4, (i) => i * scale),
      ),
    ],
    node: [{ opType: 'Mul', input: [`${name}_w`, 'bias'], output: [`${name}_out`], name: `${name}_mul` }],
    output: [valueInfo(`${name}_out`, [4])],
  });
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: 'fixture',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: 17 }],
    metadataProps: [{ key: 'author', value: 'tests' }],
    graph: {
      name: 'g',
      input: [
        valueInfo('x', ['batch', 4]),
        { name: 'cond', type: { tensorType: { elemType: 9, shape: { dim: [] } } } },
      ],
      output: [valueInfo('y', ['batch', 4]), valueInfo('z', [4])],
      initializer: [
        floatTensor(
          'W',
          [4, 4],
          seq(16, (i) => (i % 5) - 2),
        ),
        floatTensor('bias', [4], [0.5, -0.5, 0, 1], true),
        {
          name: 'shape',
          dims: [2],
          dataType: INT64,
          rawData: new Uint8Array(new BigInt64Array([1n, 4n]).buffer),
        },
      ],
      sparseInitializer: [sparseFloatTensor('S', [2, 4], [3, 4], [1n, 6n])],
      node: [
        {
          opType: 'Constant',
          output: ['C'],
          name: 'const_value',
          attribute: [
            {
              name: 'value',
              type: 4,
              t: floatTensor(
                '',
                [4, 4],
                seq(16, (i) => i / 10),
              ),
            },
          ],
        },
        {
          opType: 'Constant',
          output: ['CF'],
          name: 'const_floats',
          attribute: [{ name: 'value_floats', type: 6, floats: [1, 2, 3] }],
        },
        { opType: 'MatMul', input: ['x', 'W'], output: ['xw'], name: 'mm' },
        { opType: 'MatMul', input: ['xw', 'C'], output: ['xwc'], name: 'mm2' },
        { opType: 'Add', input: ['xwc', 'bias'], output: ['y0'], name: 'add' },
        { opType: 'Reshape', input: ['y0', 'shape'], output: ['y'], name: 'reshape' },
        {
          opType: 'If',
          input: ['cond'],
          output: ['z'],
          name: 'branch',
          attribute: [
            { name: 'then_branch', type: 5, g: branch('then', 1) },
            { name: 'else_branch', type: 5, g: branch('else', -1) },
          ],
        },
      ],
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

/** A model whose If bodies nest `depth` levels deep. */
export function nestedModel(depth: number): Uint8Array {
  let body: onnx.IGraphProto = { name: 'leaf', node: [], output: [valueInfo('x', [1])] };
  for (let i = 0; i < depth; i++) {
    body = {
      name: `level${i}`,
      node: [
        { opType: 'If', input: ['c'], output: ['x'], attribute: [{ name: 'then_branch', type: 5, g: body }] },
      ],
      output: [valueInfo('x', [1])],
    };
  }
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ version: 17 }], graph: body }).finish();
}

/** The bytes a write plan describes, with `source` as the input file. */
export function materialize(
  pieces: Piece[],
  source: Uint8Array,
  external: Record<string, Uint8Array> = {},
): Uint8Array {
  const input = new MemoryByteSource(source);
  const parts = pieces.map((p) =>
    p.kind === 'bytes'
      ? p.bytes
      : p.kind === 'source'
        ? input.read(p.offset, p.length)
        : external[p.location].subarray(p.offset, p.offset + p.length),
  );
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function int64Tensor(name: string, values: number[]): onnx.ITensorProto {
  const data = new BigInt64Array(values.map((v) => BigInt(v)));
  return { name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) };
}

/**
 * Weights a layer reads only through Slice/Split/Concat/Unsqueeze (opset 13, runs in ONNX Runtime): an
 * LSTM whose W and R are PyTorch-style `weight_ih [4H, I]` / `weight_hh [4H, H]` with the gates reordered
 * by Slice + Concat and a batch axis added by Unsqueeze (H 2, I 4); a Gemm pair reading the halves of one
 * `proj.weight [6, 4]` through Split (transB=1); a MatMul with its own `fc.weight [4, 8]`; and a `gain [6]`
 * sliced into an elementwise Mul (a fixed constant, not a weight). Seeded values.
 */
export function slicedWeightsModel(): Uint8Array {
  let seed = 12;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 0.8;
  const node = (
    opType: string,
    input: string[],
    output: string[],
    attribute: onnx.IAttributeProto[] = [],
  ) => ({
    opType,
    input,
    output,
    name: output[0],
    attribute,
  });
  const halves = (w: string) => [
    node('Slice', [w, 'zero', 'four', 'axis0'], [`${w}.ifgo0`]),
    node('Slice', [w, 'four', 'eight', 'axis0'], [`${w}.ifgo1`]),
    node('Concat', [`${w}.ifgo1`, `${w}.ifgo0`], [`${w}.gates`], [{ name: 'axis', type: 2, i: 0 }]),
    node('Unsqueeze', [`${w}.gates`, 'axis0'], [`${w}.batched`]),
  ];
  const graph: onnx.IGraphProto = {
    name: 'sliced',
    initializer: [
      floatTensor('decoder.rnn.weight_ih', [8, 4], seq(32, rand)),
      floatTensor('decoder.rnn.weight_hh', [8, 2], seq(16, rand)),
      floatTensor('proj.weight', [6, 4], seq(24, rand)),
      floatTensor('fc.weight', [4, 8], seq(32, rand)),
      floatTensor(
        'gain',
        [6],
        seq(6, (i) => 1 + i / 10),
      ),
      int64Tensor('zero', [0]),
      int64Tensor('three', [3]),
      int64Tensor('four', [4]),
      int64Tensor('eight', [8]),
      int64Tensor('axis0', [0]),
      int64Tensor('split', [3, 3]),
    ],
    node: [
      ...halves('decoder.rnn.weight_ih'),
      ...halves('decoder.rnn.weight_hh'),
      node(
        'LSTM',
        ['x', 'decoder.rnn.weight_ih.batched', 'decoder.rnn.weight_hh.batched'],
        ['lstm_y'],
        [{ name: 'hidden_size', type: 2, i: 2 }],
      ),
      node('Split', ['proj.weight', 'split'], ['proj.a', 'proj.b'], [{ name: 'axis', type: 2, i: 0 }]),
      node('Gemm', ['v', 'proj.a'], ['ya'], [{ name: 'transB', type: 2, i: 1 }]),
      node('Gemm', ['v', 'proj.b'], ['yb'], [{ name: 'transB', type: 2, i: 1 }]),
      node('Slice', ['gain', 'zero', 'three', 'axis0'], ['gain3']),
      node('Mul', ['ya', 'gain3'], ['y_gain']),
      node('MatMul', ['v', 'fc.weight'], ['y_fc']),
    ],
    input: [valueInfo('x', [1, 2, 4]), valueInfo('v', [2, 4])],
    output: [
      valueInfo('lstm_y', [1, 1, 2, 2]),
      valueInfo('y_gain', [2, 3]),
      valueInfo('yb', [2, 3]),
      valueInfo('y_fc', [2, 8]),
    ],
  };
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'fixture',
    opsetImport: [{ domain: '', version: 13 }],
    graph,
  }).finish();
}
