import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { FormatError } from '../../src/core/errors';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import { indexModel } from '../../src/core/onnx/indexModel';
import type { ModelIndex } from '../../src/core/onnx/modelIndex';
import { tensorValues } from '../../src/core/tensor/tensorValues';
import { collectValues } from '../../src/core/tensor/valueStream';
import { type Edit, planWrite, type TensorData, type WriteOptions } from '../../src/core/write/planWrite';
import { FLOAT, INT64, floatTensor, materialize, sparseFloatTensor, valueInfo } from './modelFixtures';
import { loadOrt } from '../../src/runtime/loadOrt';

const ort = loadOrt();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-sparsewrite-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const W = [0, 1.5, 0, 0, -2, 0, 0, 0, 3, 0, 0, 0.25, 0, 0, 0, 0, 0, -1, 0, 0, 0, 7, 0, 0];
const B = [0.5, 0, -0.5, 0, 0, 1];

/**
 * y = (x · W + B) * C + S: W raw [4, 6] (with a doc string to keep), B typed float_data [6], C a Constant
 * node, S already a sparse_initializer.
 */
function model(): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      input: [valueInfo('x', [2, 4])],
      output: [valueInfo('y', [2, 6])],
      initializer: [{ ...floatTensor('W', [4, 6], W), docString: 'keep me' }, floatTensor('B', [6], B, true)],
      sparseInitializer: [sparseFloatTensor('S', [2, 6], [3, 4], [1n, 10n])],
      node: [
        {
          opType: 'Constant',
          output: ['C'],
          name: 'const',
          attribute: [{ name: 'value', type: 4, t: floatTensor('', [6], [1, 2, 0, 0, 3, 1]) }],
        },
        { opType: 'MatMul', input: ['x', 'W'], output: ['xw'], name: 'mm' },
        { opType: 'Add', input: ['xw', 'B'], output: ['xwb'], name: 'add' },
        { opType: 'Mul', input: ['xwb', 'C'], output: ['xwbc'], name: 'mul' },
        { opType: 'Add', input: ['xwbc', 'S'], output: ['y'], name: 'add2' },
      ],
    },
  }).finish();
}

const input = model();
const index = indexModel(new MemoryByteSource(input));
const tensor = (m: ModelIndex, name: string) => {
  const t = m.tensors.find((x) => x.name === name);
  assert.ok(t, name);
  return t;
};

/** A dense float32 array as sparse parts: non-zero values and their ascending linear int64 indices. */
function sparse(values: number[]): { values: TensorData; indices: TensorData } {
  const at = values.flatMap((v, i) => (v !== 0 ? [i] : []));
  return {
    values: {
      dtype: FLOAT,
      dims: [at.length],
      data: new Uint8Array(new Float32Array(at.map((i) => values[i])).buffer),
    },
    indices: {
      dtype: INT64,
      dims: [at.length],
      data: new Uint8Array(new BigInt64Array(at.map(BigInt)).buffer),
    },
  };
}

function write(edits: Edit[], options?: WriteOptions, external: Record<string, Uint8Array> = {}) {
  const plan = planWrite(index, new MemoryByteSource(input), edits, options);
  const out = materialize(plan.model, input, external);
  return { out, plan, proto: onnx.ModelProto.decode(out), index: indexModel(new MemoryByteSource(out)) };
}

const dense = (m: ModelIndex, bytes: Uint8Array, name: string, ext?: Uint8Array) =>
  Array.from(
    collectValues(
      tensorValues(
        tensor(m, name),
        new MemoryByteSource(bytes),
        () => new MemoryByteSource(ext ?? new Uint8Array()),
      ),
    ),
  );

async function run(bytes: Uint8Array): Promise<Float32Array> {
  const file = path.join(tmp, `m-${Math.random().toString(36).slice(2)}.onnx`);
  fs.writeFileSync(file, bytes);
  const s = await ort.InferenceSession.create(file);
  try {
    const x = new ort.Tensor(
      'float32',
      Float32Array.from({ length: 8 }, (_, i) => i - 3.5),
      [2, 4],
    );
    return (await s.run({ x })).y.data as Float32Array;
  } finally {
    await s.release();
  }
}

describe('planWrite replaceWithSparse', () => {
  it('stores an initializer as a sparse_initializer with the same name, dims and values', async () => {
    const {
      out,
      proto,
      index: outIndex,
    } = write([{ kind: 'replaceWithSparse', tensorId: tensor(index, 'W').id, ...sparse(W) }]);
    const g = proto.graph!;
    assert.deepEqual(
      g.initializer!.map((t) => t.name),
      ['B'],
      'the dense W is gone',
    );
    const s = g.sparseInitializer!.find((x) => x.values!.name === 'W')!;
    assert.ok(s, 'a sparse W');
    assert.deepEqual(s.dims!.map(Number), [4, 6]);
    assert.equal(s.values!.docString, 'keep me', 'fields of the original TensorProto are kept');
    assert.deepEqual(s.values!.dims!.map(Number), [6]);
    assert.deepEqual(
      [...new Float32Array(new Uint8Array(s.values!.rawData!).buffer)],
      [1.5, -2, 3, 0.25, -1, 7],
    );
    assert.deepEqual(
      [...new BigInt64Array(new Uint8Array(s.indices!.rawData!).buffer)].map(Number),
      [1, 4, 8, 11, 17, 21],
    );
    assert.equal(s.indices!.name ?? '', '', 'the indices tensor has no name');
    // Our index reads it back densified; the other tensors are untouched.
    const w = tensor(outIndex, 'W');
    assert.equal(w.where, 'sparse_initializer');
    assert.deepEqual(dense(outIndex, out, 'W'), W);
    assert.deepEqual(dense(outIndex, out, 'B'), B);
    assert.deepEqual(dense(outIndex, out, 'S'), dense(index, input, 'S'));
    assert.equal(outIndex.tensors.length, index.tensors.length);
    // ONNX Runtime densifies it: the same outputs as the dense model.
    assert.deepEqual(await run(out), await run(input));
  });

  it('converts a typed (float_data) initializer and replaces an existing sparse one', async () => {
    const S = [0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, -6];
    const {
      out,
      proto,
      index: outIndex,
    } = write([
      { kind: 'replaceWithSparse', tensorId: tensor(index, 'B').id, ...sparse(B) },
      { kind: 'replaceWithSparse', tensorId: tensor(index, 'S').id, ...sparse(S) },
    ]);
    const g = proto.graph!;
    assert.deepEqual(
      g.initializer!.map((t) => t.name),
      ['W'],
    );
    assert.deepEqual(g.sparseInitializer!.map((x) => x.values!.name).sort(), ['B', 'S']);
    const b = g.sparseInitializer!.find((x) => x.values!.name === 'B')!;
    assert.equal(b.values!.floatData?.length ?? 0, 0, 'no float_data left behind');
    assert.deepEqual(dense(outIndex, out, 'B'), B);
    assert.deepEqual(dense(outIndex, out, 'S'), S);
    const sparseModel = await run(out);
    const expected = await run(
      write([
        {
          kind: 'replaceTensor',
          tensorId: tensor(index, 'S').id,
          tensor: { dtype: FLOAT, dims: [2, 6], data: new Uint8Array(new Float32Array(S).buffer) },
        },
      ]).out,
    );
    assert.deepEqual(sparseModel, expected);
  });

  it('passes the onnx checker (which validates sparse tensors: sorted, in range, typed)', () => {
    const { out } = write([{ kind: 'replaceWithSparse', tensorId: tensor(index, 'W').id, ...sparse(W) }]);
    const file = path.join(tmp, 'checked.onnx');
    fs.writeFileSync(file, out);
    const result = execFileSync('/usr/bin/python3', [
      '-c',
      'import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m); print(len(m.graph.sparse_initializer))',
      file,
    ]).toString();
    assert.equal(result.trim(), '2');
  });

  it('puts large sparse parts in the external data file when asked', async () => {
    const options: WriteOptions = { externalData: { location: 'm.data', threshold: 16 } };
    const first = planWrite(
      index,
      new MemoryByteSource(input),
      [{ kind: 'replaceWithSparse', tensorId: tensor(index, 'W').id, ...sparse(W) }],
      options,
    );
    assert.ok(first.external, 'values (24 bytes) and indices (48 bytes) went out');
    const ext = materialize(first.external.pieces, input);
    const out = materialize(first.model, input, { 'm.data': ext });
    const outIndex = indexModel(new MemoryByteSource(out));
    assert.equal(tensor(outIndex, 'W').sparse!.values.payload.kind, 'external');
    assert.deepEqual(dense(outIndex, out, 'W', ext), W);
    fs.writeFileSync(path.join(tmp, 'm.data'), ext);
    const file = path.join(tmp, 'ext.onnx');
    fs.writeFileSync(file, out);
    const s = await ort.InferenceSession.create(file);
    const x = new ort.Tensor(
      'float32',
      Float32Array.from({ length: 8 }, (_, i) => i - 3.5),
      [2, 4],
    );
    const y = (await s.run({ x })).y.data as Float32Array;
    await s.release();
    assert.deepEqual(y, await run(input));
  });

  it('refuses Constants, wrong types and shapes, unordered indices, and a second edit', () => {
    const id = tensor(index, 'W').id;
    const parts = sparse(W);
    const throws = (edits: Edit[], re: RegExp) =>
      assert.throws(
        () => planWrite(index, new MemoryByteSource(input), edits),
        (e: Error) => e instanceof FormatError && re.test(e.message),
      );
    throws(
      [{ kind: 'replaceWithSparse', tensorId: tensor(index, 'C').id, ...sparse([1, 2, 0, 0, 3, 1]) }],
      /not a graph initializer/,
    );
    throws(
      [
        {
          kind: 'replaceWithSparse',
          tensorId: id,
          values: { ...parts.values, dtype: 10 },
          indices: parts.indices,
        },
      ],
      /sparse values of W/,
    );
    throws(
      [
        {
          kind: 'replaceWithSparse',
          tensorId: id,
          values: parts.values,
          indices: { ...parts.indices, dtype: 6 },
        },
      ],
      /int64/,
    );
    throws(
      [
        {
          kind: 'replaceWithSparse',
          tensorId: id,
          values: parts.values,
          indices: { ...parts.indices, dims: [5] },
        },
      ],
      /int64 \[6\]/,
    );
    const backwards = new Uint8Array(new BigInt64Array([1n, 4n, 8n, 11n, 21n, 17n]).buffer);
    throws(
      [
        {
          kind: 'replaceWithSparse',
          tensorId: id,
          values: parts.values,
          indices: { ...parts.indices, data: backwards },
        },
      ],
      /out of order/,
    );
    const past = new Uint8Array(new BigInt64Array([1n, 4n, 8n, 11n, 17n, 24n]).buffer);
    throws(
      [
        {
          kind: 'replaceWithSparse',
          tensorId: id,
          values: parts.values,
          indices: { ...parts.indices, data: past },
        },
      ],
      /past its 24/,
    );
    throws(
      [
        { kind: 'replaceWithSparse', tensorId: id, ...parts },
        {
          kind: 'replaceTensor',
          tensorId: id,
          tensor: { dtype: FLOAT, dims: [4, 6], data: new Uint8Array(96) },
        },
      ],
      /edited twice/,
    );
  });
});
