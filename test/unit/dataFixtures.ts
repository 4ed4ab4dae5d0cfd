// Small ONNX models for the data and task-metric tests, built with onnx-proto (deterministic).
import { onnx } from 'onnx-proto';
import { FLOAT, floatTensor, INT64 } from './modelFixtures';

function io(name: string, elemType: number, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function encode(graph: onnx.IGraphProto, opset = 13): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'big-shrink-test',
    graph,
  }).finish();
}

/** The token after `t` a bigram LM strongly prefers. */
export const bigramNext = (t: number, vocab: number) => (t * 7 + 3) % vocab;

/**
 * A causal "language model" of one Gather: logits[b, s, :] = E[ids[b, s]], E[t] peaked (+8) on
 * bigramNext(t). Sequences sampled from it follow the bigram; uniform random ids do not.
 */
export function bigramLm(vocab = 64): Uint8Array {
  const E: number[] = [];
  for (let t = 0; t < vocab; t++)
    for (let j = 0; j < vocab; j++) E.push(j === bigramNext(t, vocab) ? 8 : ((t * 31 + j * 17) % 11) / 10);
  return encode({
    name: 'bigram',
    input: [io('input_ids', INT64, ['batch', 'seq_len'])],
    output: [io('logits', FLOAT, ['batch', 'seq_len', vocab])],
    initializer: [floatTensor('E', [vocab, vocab], E)],
    node: [{ opType: 'Gather', input: ['E', 'input_ids'], output: ['logits'], name: 'embed' }],
  });
}

/**
 * A byte-level classifier: bytes int64 [1, L] → OneHot(257) → mean over L → Gemm(W [257, classes]) + b.
 * Each input channel of the Gemm is one byte value: bytes never seen leave theirs without energy.
 */
export function byteClassifier(length: number | string = 'length', classes = 4): Uint8Array {
  const W: number[] = [];
  for (let k = 0; k < 257; k++)
    for (let c = 0; c < classes; c++) W.push(Math.sin(k * 0.37 + c * 1.3) * (1 + (k % 5) * 0.3));
  return encode(
    {
      name: 'bytes',
      input: [io('bytes', INT64, [1, length])],
      output: [io('scores', FLOAT, [1, classes])],
      initializer: [
        floatTensor('W', [257, classes], W),
        floatTensor(
          'b',
          [classes],
          Array.from({ length: classes }, (_, c) => c * 0.01),
        ),
        {
          name: 'depth',
          dims: [],
          dataType: INT64,
          rawData: new Uint8Array(new BigInt64Array([257n]).buffer),
        },
        floatTensor('onoff', [2], [0, 1]),
      ],
      node: [
        { opType: 'OneHot', input: ['bytes', 'depth', 'onoff'], output: ['hot'], name: 'onehot' },
        {
          opType: 'ReduceMean',
          input: ['hot'],
          output: ['mean'],
          name: 'pool',
          attribute: [
            { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] },
            { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
          ],
        },
        { opType: 'Gemm', input: ['mean', 'W', 'b'], output: ['scores'], name: 'classify' },
      ],
    },
    13,
  );
}

/** A model that needs exactly 10 values along its open axis: it runs on no size synthesis tries. */
export function fixedLengthModel(): Uint8Array {
  return encode({
    name: 'fixed',
    input: [io('x', FLOAT, [1, 'n'])],
    output: [io('y', FLOAT, [2, 5])],
    initializer: [
      {
        name: 'shape',
        dims: [2],
        dataType: INT64,
        rawData: new Uint8Array(new BigInt64Array([2n, 5n]).buffer),
      },
    ],
    node: [{ opType: 'Reshape', input: ['x', 'shape'], output: ['y'], name: 'reshape' }],
  });
}
