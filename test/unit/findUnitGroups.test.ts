import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { findUnitGroups } from '../../src/core/compact/findUnitGroups';
import { weightCache } from '../../src/core/compact/readWeight';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import { indexModel } from '../../src/core/onnx/indexModel';
import { floatTensor, valueInfo } from './modelFixtures';
import { noExternal } from './tensorFixtures';

/** x[1,8] → MatMul up[8,6] → the given ops (their first input the previous value) → MatMul down[6,4] → y. */
function block(ops: { op: string; extra?: string[] }[], outputs: string[] = ['y']) {
  const nodes: onnx.INodeProto[] = [{ opType: 'MatMul', input: ['x', 'up'], output: ['h0'], name: 'up_mm' }];
  ops.forEach((o, i) =>
    nodes.push({ opType: o.op, input: [`h${i}`, ...(o.extra ?? [])], output: [`h${i + 1}`], name: `op${i}` }),
  );
  nodes.push({ opType: 'MatMul', input: [`h${ops.length}`, 'down'], output: ['y'], name: 'down_mm' });
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ version: 17 }],
    graph: {
      name: 'block',
      node: nodes,
      initializer: [
        floatTensor(
          'up',
          [8, 6],
          Array.from({ length: 48 }, (_, i) => Math.sin(i)),
        ),
        floatTensor(
          'down',
          [6, 4],
          Array.from({ length: 24 }, (_, i) => Math.cos(i)),
        ),
        floatTensor('one', [], [1]),
        floatTensor('two', [], [2]),
        floatTensor('bias', [6], [1, 2, 3, 4, 5, 6]),
        floatTensor(
          'wide',
          [2, 6],
          Array.from({ length: 12 }, () => 1),
        ),
      ],
      input: [valueInfo('x', [1, 8])],
      output: outputs.map((o) => valueInfo(o, [1, o === 'y' ? 4 : 6])),
    },
  }).finish();
  const source = new MemoryByteSource(bytes);
  const index = indexModel(source);
  const read = weightCache(source, noExternal);
  return findUnitGroups(index, (t) => (t.count === 1 ? read(t)[0] : undefined));
}

describe('findUnitGroups', () => {
  it('takes blocks where a unit with zero weights passes on exactly zero', () => {
    for (const ops of [
      [{ op: 'Relu' }],
      [{ op: 'Add', extra: ['bias'] }, { op: 'Tanh' }],
      [{ op: 'Mul', extra: ['two'] }, { op: 'LeakyRelu' }],
      [{ op: 'Sigmoid' }, { op: 'Sub', extra: ['one'] }, { op: 'Relu' }],
    ]) {
      const { groups, leftWhole } = block(ops);
      assert.deepEqual(leftWhole, [], JSON.stringify(ops));
      assert.equal(groups.length, 1);
      assert.equal(groups[0].units, 6);
      assert.deepEqual(groups[0].perUnit.length, ops.some((o) => o.extra?.[0] === 'bias') ? 1 : 0);
    }
  });

  it('leaves whole, with the reason, what removing would change or cannot reshape', () => {
    const reason = (ops: { op: string; extra?: string[] }[], outputs?: string[]) => {
      const { groups, leftWhole } = block(ops, outputs);
      assert.equal(groups.length, 0);
      assert.equal(leftWhole.length, 1, JSON.stringify(ops));
      return leftWhole[0].reason;
    };
    assert.match(reason([{ op: 'Sigmoid' }]), /still passes on 0\.5/);
    assert.match(reason([{ op: 'Relu' }, { op: 'Add', extra: ['one'] }]), /still passes on 1/);
    assert.match(reason([{ op: 'Add', extra: ['wide'] }]), /neither one value nor one per unit/);
    assert.match(reason([{ op: 'Relu' }], ['y', 'h1']), /h1 is a graph output/);
    assert.match(reason([{ op: 'Relu' }, { op: 'Mul', extra: ['x'] }]), /mix with x/);
  });
});
