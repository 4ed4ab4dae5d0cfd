import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { FormatError } from '../../src/core/errors';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import { indexModel } from '../../src/core/onnx/indexModel';
import type { ModelIndex } from '../../src/core/onnx/modelIndex';
import { applySplices } from '../../src/core/write/pieces';
import { type Edit, planWrite, type WriteOptions } from '../../src/core/write/planWrite';
import { materialize, richModel } from './modelFixtures';

const input = richModel();
const model = indexModel(new MemoryByteSource(input));
const id = (m: ModelIndex, name: string) => {
  const t = m.tensors.find((x) => x.name === name);
  assert.ok(t, name);
  return t.id;
};
const nodeId = (m: ModelIndex, name: string) => {
  const n = m.nodes.find((x) => x.name === name);
  assert.ok(n, name);
  return n.id;
};

/** Plans, materializes, and re-reads the result with onnx-proto (an independent decoder) and our index. */
function write(edits: Edit[], options?: WriteOptions, bytes = input) {
  const index = indexModel(new MemoryByteSource(bytes));
  const plan = planWrite(index, new MemoryByteSource(bytes), edits, options);
  const out = materialize(plan.model, bytes);
  assert.equal(out.length, plan.modelBytes);
  return { out, plan, proto: onnx.ModelProto.decode(out), index: indexModel(new MemoryByteSource(out)) };
}

const floatsOf = (t: onnx.ITensorProto) => [
  ...new Float32Array(new Uint8Array(t.rawData as Uint8Array).buffer),
];

describe('planWrite', () => {
  it('with no edits copies the input byte for byte', () => {
    const { out, plan } = write([]);
    assert.deepEqual(plan.model, [{ kind: 'source', offset: 0, length: input.length }]);
    assert.deepEqual(Buffer.from(out), Buffer.from(input));
  });

  it('replaces a tensor and keeps its name', () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
    const { proto, index } = write([
      { kind: 'replaceTensor', tensorId: id(model, 'W'), tensor: { dtype: 1, dims: [2, 3], data } },
    ]);
    const w = proto.graph!.initializer!.find((t) => t.name === 'W')!;
    assert.deepEqual(w.dims!.map(Number), [2, 3]);
    assert.deepEqual(floatsOf(w), [1, 2, 3, 4, 5, 6]);
    // Everything else is intact.
    assert.equal(index.tensors.length, model.tensors.length);
    assert.deepEqual(
      proto.graph!.node!.map((n) => n.name),
      ['const_value', 'const_floats', 'mm', 'mm2', 'add', 'reshape', 'branch'],
    );
  });

  it('replaces a typed tensor, a Constant value and a value_floats attribute', () => {
    const four = new Uint8Array(new Float32Array([9, 8, 7, 6]).buffer);
    const { proto } = write([
      { kind: 'replaceTensor', tensorId: id(model, 'bias'), tensor: { dtype: 1, dims: [4], data: four } },
      { kind: 'replaceTensor', tensorId: id(model, 'C'), tensor: { dtype: 1, dims: [4], data: four } },
      { kind: 'replaceTensor', tensorId: id(model, 'CF'), tensor: { dtype: 1, dims: [4], data: four } },
    ]);
    const bias = proto.graph!.initializer!.find((t) => t.name === 'bias')!;
    assert.deepEqual(floatsOf(bias), [9, 8, 7, 6]);
    assert.equal(bias.floatData!.length, 0);
    for (const name of ['const_value', 'const_floats']) {
      const attrs = proto.graph!.node!.find((n) => n.name === name)!.attribute!;
      assert.deepEqual(
        attrs.map((a) => a.name),
        ['value'],
        name,
      );
      assert.deepEqual(floatsOf(attrs[0].t!), [9, 8, 7, 6], name);
    }
  });

  it('re-encodes every enclosing length, also when a length varint changes size', () => {
    // The subgraph initializer sits in If > attribute > graph: shrinking it from 16 to 1 element and
    // growing its sibling past 127 bytes changes length-varint sizes at several depths.
    const big = new Uint8Array(new Float32Array(100).fill(0.25).buffer);
    const small = new Uint8Array(new Float32Array([5]).buffer);
    const { proto } = write([
      { kind: 'replaceTensor', tensorId: id(model, 'then_w'), tensor: { dtype: 1, dims: [100], data: big } },
      { kind: 'replaceTensor', tensorId: id(model, 'else_w'), tensor: { dtype: 1, dims: [1], data: small } },
    ]);
    const iff = proto.graph!.node!.find((n) => n.opType === 'If')!;
    const [thenG, elseG] = iff.attribute!.map((a) => a.g!);
    assert.equal(floatsOf(thenG.initializer![0]).length, 100);
    assert.deepEqual(floatsOf(elseG.initializer![0]), [5]);
    assert.equal(thenG.node![0].name, 'then_mul');
  });

  it('removes and inserts nodes and tensors, in the graph that holds them', () => {
    const { proto, index } = write([
      { kind: 'removeNode', nodeId: nodeId(model, 'reshape') },
      { kind: 'removeTensor', tensorId: id(model, 'shape') },
      {
        kind: 'insertNodes',
        graph: 'main',
        beforeNodeId: nodeId(model, 'branch'),
        nodes: [
          {
            opType: 'Identity',
            name: 'id',
            inputs: ['y0'],
            outputs: ['y'],
            attributes: [{ name: 'note', s: 'new' }],
          },
        ],
      },
      {
        kind: 'addTensor',
        graph: 'main/branch/then_branch',
        name: 'extra',
        tensor: { dtype: 1, dims: [1], data: new Uint8Array(4) },
      },
    ]);
    assert.deepEqual(
      proto.graph!.node!.map((n) => n.name),
      ['const_value', 'const_floats', 'mm', 'mm2', 'add', 'id', 'branch'],
    );
    assert.equal(new TextDecoder().decode(proto.graph!.node![5].attribute![0].s!), 'new');
    assert.ok(!proto.graph!.initializer!.some((t) => t.name === 'shape'));
    assert.deepEqual(
      index.tensors.filter((t) => t.graph === 'main/branch/then_branch').map((t) => t.name),
      ['then_w', 'extra'],
    );
  });

  it('replaces a node with several and removes a Constant by its tensor', () => {
    const { proto } = write([
      {
        kind: 'replaceNode',
        nodeId: nodeId(model, 'mm'),
        nodes: [
          { opType: 'MatMul', name: 'mm_a', inputs: ['x', 'W'], outputs: ['t'] },
          { opType: 'Relu', name: 'mm_b', inputs: ['t'], outputs: ['xw'], domain: 'custom.domain' },
        ],
      },
      { kind: 'removeTensor', tensorId: id(model, 'CF') },
    ]);
    assert.deepEqual(
      proto.graph!.node!.map((n) => n.name),
      ['const_value', 'mm_a', 'mm_b', 'mm2', 'add', 'reshape', 'branch'],
    );
    assert.equal(proto.graph!.node![2].domain, 'custom.domain');
  });

  it('sets opset imports: a new domain is added, an existing one changed', () => {
    const { proto } = write([
      { kind: 'setOpset', domain: 'com.microsoft', version: 1 },
      { kind: 'setOpset', domain: '', version: 21 },
    ]);
    assert.deepEqual(
      proto.opsetImport!.map((o) => [o.domain ?? '', Number(o.version)]),
      [
        ['', 21],
        ['com.microsoft', 1],
      ],
    );
  });

  it('sets ir_version in place (the index records its span) and keeps every other byte', () => {
    const field = model.irVersionField;
    assert.ok(field, 'the index records where ir_version sits');
    assert.deepEqual([...input.subarray(field.start, field.end)], [0x08, 8]);
    const { out, proto, index } = write([{ kind: 'setIrVersion', version: 10 }]);
    assert.equal(Number(proto.irVersion), 10);
    assert.equal(index.irVersion, 10);
    assert.equal(out.length, input.length, 'a one-byte varint replaced by a one-byte varint');
    const changed = [...out].flatMap((b, i) => (b === input[i] ? [] : [i]));
    assert.deepEqual(changed, [field.start + 1]);
    // A value that needs a longer varint, together with an opset change: lengths stay consistent.
    const wide = write([
      { kind: 'setIrVersion', version: 300 },
      { kind: 'setOpset', domain: '', version: 21 },
    ]);
    assert.equal(Number(wide.proto.irVersion), 300);
    const opsetOnly = write([{ kind: 'setOpset', domain: '', version: 21 }]);
    assert.equal(wide.out.length, opsetOnly.out.length + 1, 'only the varint grew');
    assert.equal(Number(wide.proto.opsetImport![0].version), 21);
    assert.deepEqual(
      wide.proto.graph!.node!.map((n) => n.name),
      onnx.ModelProto.decode(input).graph!.node!.map((n) => n.name),
    );
    assert.throws(() => write([{ kind: 'setIrVersion', version: 0 }]), /invalid IR version/);
    assert.throws(
      () =>
        write([
          { kind: 'setIrVersion', version: 9 },
          { kind: 'setIrVersion', version: 10 },
        ]),
      FormatError,
    );
  });

  it('carries unknown fields of an edited tensor through', () => {
    // TensorProto field 16 (metadata_props, IR 10) is unknown to onnx-proto's schema: splice it in by hand.
    const w = model.tensors[id(model, 'W')];
    const extra = new Uint8Array([0x82, 0x01, 0x02, 0x0a, 0x00]); // field 16, LEN 2: {key: ""}
    const bytes = applyInsert(input, w.field.end, extra, [...w.ancestors, w.field]);
    const data = new Uint8Array(new Float32Array(16).fill(1).buffer);
    const { out, index } = write(
      [{ kind: 'replaceTensor', tensorId: id(index0(bytes), 'W'), tensor: { dtype: 1, dims: [4, 4], data } }],
      undefined,
      bytes,
    );
    const t = index.tensors.find((x) => x.name === 'W')!;
    const tensorBytes = out.subarray(t.field.valueStart, t.field.end);
    assert.ok(containsRun(tensorBytes, extra), 'the unknown field is still in the tensor');
  });

  it('moves tensors to a new external data file with aligned offsets, and back', () => {
    const { plan, proto } = write([], { externalData: { location: 'w.data', threshold: 64 } });
    assert.ok(plan.external);
    const w = proto.graph!.initializer!.find((t) => t.name === 'W')!;
    const entries = Object.fromEntries(w.externalData!.map((e) => [e.key, e.value]));
    assert.equal(entries.location, 'w.data');
    assert.equal(Number(entries.offset) % 4096, 0);
    assert.equal(Number(entries.length), 64);
    assert.equal(w.dataLocation, 1);
    // Small tensors stay inline.
    assert.ok(proto.graph!.initializer!.find((t) => t.name === 'bias')!.floatData!.length === 4);
    const data = materialize(plan.external!.pieces, input);
    const ext = write([], { externalData: { location: 'w.data', threshold: 64 } }).out;
    const back = planWrite(indexModel(new MemoryByteSource(ext)), new MemoryByteSource(ext), [], {
      inline: true,
    });
    const inlined = onnx.ModelProto.decode(materialize(back.model, ext, { 'w.data': data }));
    assert.deepEqual(
      floatsOf(inlined.graph!.initializer!.find((t) => t.name === 'W')!),
      floatsOf(onnx.ModelProto.decode(input).graph!.initializer!.find((t) => t.name === 'W')!),
    );
  });

  it('refuses conflicting edits', () => {
    assert.throws(
      () =>
        write([
          { kind: 'removeTensor', tensorId: id(model, 'W') },
          { kind: 'removeTensor', tensorId: id(model, 'W') },
        ]),
      FormatError,
    );
    assert.throws(
      () =>
        write([
          {
            kind: 'replaceTensor',
            tensorId: id(model, 'W'),
            tensor: { dtype: 1, dims: [4], data: new Uint8Array(3) },
          },
        ]),
      /has 3 bytes, 16 expected/,
    );
  });
});

function index0(bytes: Uint8Array) {
  return indexModel(new MemoryByteSource(bytes));
}

/** Inserts bytes at `at`, fixing the lengths of the enclosing fields (the writer's own splicer). */
function applyInsert(
  bytes: Uint8Array,
  at: number,
  extra: Uint8Array,
  ancestors: ModelIndex['tensors'][number]['ancestors'],
) {
  return materialize(
    applySplices(bytes.length, [
      { start: at, end: at, pieces: [{ kind: 'bytes', bytes: extra }], ancestors },
    ]),
    bytes,
  );
}

function containsRun(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
