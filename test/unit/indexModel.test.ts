import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { FormatError } from '../../src/core/errors';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import { indexModel } from '../../src/core/onnx/indexModel';
import { nestedModel, richModel } from './modelFixtures';

const index = (bytes: Uint8Array) => indexModel(new MemoryByteSource(bytes));

describe('indexModel', () => {
  const model = index(richModel());
  const tensor = (name: string) => {
    const t = model.tensors.find((x) => x.name === name);
    assert.ok(t, `tensor ${name} indexed`);
    return t;
  };

  it('reads the model header', () => {
    assert.equal(model.irVersion, 8);
    assert.equal(model.producerName, 'fixture');
    assert.deepEqual(
      model.opsets.map((o) => [o.domain, o.version]),
      [['', 17]],
    );
    assert.deepEqual(model.metadata, [{ key: 'author', value: 'tests' }]);
    const main = model.graphs.find((g) => g.path === 'main');
    assert.deepEqual(
      main?.inputs.map((i) => [i.name, i.dtype, i.shape]),
      [
        ['x', 1, ['batch', 4]],
        ['cond', 9, []],
      ],
    );
  });

  it('finds weights in initializers, typed fields, Constant nodes, sparse initializers and subgraphs', () => {
    assert.deepEqual(
      model.tensors.map((t) => [t.name, t.where, t.graph, t.storage]).sort(),
      [
        ['C', 'constant', 'main', 'raw'],
        ['CF', 'constant', 'main', 'typed'],
        ['S', 'sparse_initializer', 'main', 'raw'],
        ['W', 'initializer', 'main', 'raw'],
        ['bias', 'initializer', 'main', 'typed'],
        ['else_w', 'initializer', 'main/branch/else_branch', 'raw'],
        ['shape', 'initializer', 'main', 'raw'],
        ['then_w', 'initializer', 'main/branch/then_branch', 'raw'],
      ].sort(),
    );
    assert.deepEqual(tensor('W').dims, [4, 4]);
    assert.equal(tensor('W').payload.kind, 'raw');
    assert.equal(tensor('W').storedBytes, 64);
    assert.deepEqual(tensor('CF').payload, { kind: 'values', values: [1, 2, 3] });
    assert.deepEqual(tensor('S').dims, [2, 4]);
    assert.ok(tensor('S').sparse);
    const bias = tensor('bias').payload;
    assert.equal(bias.kind, 'typed');
    if (bias.kind === 'typed') assert.equal(bias.field, 4);
  });

  it('records where payload bytes are without copying them', () => {
    const bytes = richModel();
    const w = tensor('W');
    assert.equal(w.payload.kind, 'raw');
    if (w.payload.kind !== 'raw') return;
    // A copy into a fresh buffer: protobufjs hands back a pooled Node Buffer whose slice() is a view.
    const floats = new Float32Array(
      new Uint8Array(bytes.subarray(w.payload.offset, w.payload.offset + w.payload.length)).buffer,
    );
    assert.deepEqual([...floats.slice(0, 6)], [-2, -1, 0, 1, 2, -2]);
  });

  it('resolves consumers through enclosing graphs and assigns roles', () => {
    const names = (t: string) =>
      tensor(t)
        .consumers.map((c) => model.nodes[c.nodeId].name)
        .sort();
    assert.deepEqual(names('W'), ['mm']);
    // `bias` is read by the outer Add and by both branches' Mul (outer-scope name).
    assert.deepEqual(names('bias'), ['add', 'else_mul', 'then_mul']);
    assert.equal(tensor('W').role, 'weight');
    assert.equal(tensor('C').role, 'weight');
    assert.equal(tensor('shape').role, 'shape');
    assert.equal(tensor('CF').role, 'constant');
    // Four elements, but added to a MatMul output: a layer's bias.
    assert.equal(tensor('bias').role, 'weight');
  });

  it('names subgraphs after their node and attribute', () => {
    assert.deepEqual(
      model.graphs.map((g) => g.path),
      ['main', 'main/branch/then_branch', 'main/branch/else_branch'],
    );
  });

  it('names a Constant tensor after the node output', () => {
    assert.equal(tensor('C').nodeId, model.nodes.find((n) => n.name === 'const_value')?.id);
  });

  it('keeps unknown fields out of its way', () => {
    const bytes = richModel();
    // Field 99 (varint) appended to the ModelProto: unknown to every reader, still a valid model.
    const extended = new Uint8Array([...bytes, 0x98, 0x06, 0x2a]);
    assert.equal(index(extended).tensors.length, model.tensors.length);
  });
});

describe('indexModel refuses bad input with a FormatError', () => {
  const refuses = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(
      () => index(bytes),
      (e: unknown) => e instanceof FormatError && pattern.test(e.message),
    );

  it('empty and non-ONNX files', () => {
    refuses(new Uint8Array(0), /empty/);
    refuses(new TextEncoder().encode('hello, this is not a model'), /./);
    refuses(onnx.ModelProto.encode({ irVersion: 8 }).finish(), /no graph/);
  });

  it('truncated files', () => {
    const bytes = richModel();
    for (const cut of [1, 7, 100, bytes.length - 1]) {
      assert.throws(() => index(bytes.subarray(0, cut)), FormatError, `cut at ${cut}`);
    }
  });

  it('negative and absurd dims', () => {
    const withDims = (dims: number[]) =>
      onnx.ModelProto.encode({
        irVersion: 8,
        graph: { initializer: [{ name: 't', dims, dataType: 1 }] },
      }).finish();
    refuses(withDims([-3, 4]), /invalid dimension -3/);
    refuses(withDims([2 ** 30, 2 ** 30]), /absurd size/);
  });

  it('nesting deeper than the limit', () => {
    assert.equal(index(nestedModel(10)).graphs.length, 11);
    refuses(nestedModel(100), /nest deeper than 64/);
  });

  it('external data locations that leave the folder', () => {
    for (const location of ['/etc/passwd', '../secret.bin', 'a/../../b', 'C:\\x.bin', '']) {
      const bytes = onnx.ModelProto.encode({
        irVersion: 8,
        graph: {
          initializer: [
            {
              name: 't',
              dims: [1],
              dataType: 1,
              dataLocation: 1,
              externalData: [{ key: 'location', value: location }],
            },
          ],
        },
      }).finish();
      refuses(bytes, /external data location .* is refused/);
    }
  });
});
