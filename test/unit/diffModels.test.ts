import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { onnx } from 'onnx-proto';
import { diffModels } from '../../src/core/diff/diffModels';
import type { ModelDiff, TensorDiff } from '../../src/core/diff/modelDiff';
import { DEFAULT_PRUNE_OPTIONS, planPrune } from '../../src/core/prune/planPrune';
import { planFp16 } from '../../src/core/quant/planFp16';
import { openModel } from '../../src/runtime/openModel';
import { testModel } from '../testModels';
import { floatTensor, valueInfo } from './modelFixtures';
import { planAndWrite, quantizeFile } from './quantizeFiles';

const BERT = testModel('tiny_bert_random_inline.onnx');

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-diff-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `diffModels` on two files, as the CLI runs it. */
function diffFiles(fileA: string, fileB: string, bins = 0): ModelDiff {
  const a = openModel(fileA);
  const b = openModel(fileB);
  try {
    return diffModels(a, b, { bins });
  } finally {
    a.close();
    b.close();
  }
}

const rowOf = (d: ModelDiff, name: string): TensorDiff => {
  const row = d.tensors.find((t) => t.name === name);
  assert.ok(row, `no row for ${name}`);
  return row;
};

const closeRel = (x: number, y: number, rel: number, what: string) =>
  assert.ok(Math.abs(x - y) <= rel * Math.abs(y), `${what}: ${x} vs ${y}`);

test('a model compared with itself is identical', () => {
  const d = diffFiles(BERT, BERT);
  assert.equal(d.identical, true);
  assert.ok(d.tensors.length > 50);
  for (const t of d.tensors) {
    assert.equal(t.status, 'same', t.name);
    assert.equal(t.maxAbsError, 0, t.name);
    assert.equal(t.weightSqnrDb, null, t.name);
    assert.equal(t.sparsityA, t.sparsityB);
  }
  assert.deepEqual(d.nodes, { added: [], removed: [], rewritten: [], changed: [] });
  assert.deepEqual(d.opsets.changed, []);
  assert.equal(d.irVersion.changed, false);
  assert.deepEqual(d.metadata.changed, []);
});

test('a 4-bit MatMulNBits pair: each weight SQNR equals the quantize report, nodes rewritten', (t) => {
  const out = path.join(tempDir(t), 'bert.int4.onnx');
  const plan = quantizeFile(BERT, out, 'nbits');
  assert.ok(plan.tensors.length >= 10);
  const d = diffFiles(BERT, out);
  assert.equal(d.identical, false);
  for (const q of plan.tensors) {
    const row = rowOf(d, q.name);
    assert.equal(row.status, 'changed');
    assert.equal(row.matchedBy, 'position');
    assert.equal(row.nameB, `${q.name}_Q4`);
    assert.equal(row.dequantizedB, true);
    assert.deepEqual(row.dimsA, q.dims);
    assert.ok(row.weightSqnrDb !== null && row.maxAbsError! > 0);
    closeRel(row.weightSqnrDb!, q.weightSqnrDb, 1e-6, q.name);
  }
  // Changed tensors come first, worst first.
  const changed = d.tensors.filter((x) => x.status === 'changed');
  assert.deepEqual(
    changed.map((x) => x.weightSqnrDb),
    [...changed.map((x) => x.weightSqnrDb!)].sort((x, y) => x - y),
  );
  assert.equal(d.nodes.rewritten.length, plan.nodes.length);
  for (const n of d.nodes.rewritten) {
    assert.ok(n.from === 'MatMul' || n.from === 'Gemm', n.from);
    assert.equal(n.to, 'com.microsoft::MatMulNBits');
  }
  assert.equal(d.nodes.added.length, 0);
  assert.equal(d.nodes.removed.length, 0);
  // The scales and zero points are new tensors.
  assert.equal(d.summary.added, 2 * plan.tensors.length);
  assert.deepEqual(d.opsets.changed, [{ domain: 'com.microsoft', a: null, b: 1 }]);
});

test('an independent numpy dequantization gives the same SQNR for one weight', (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'bert.int4.onnx');
  const plan = quantizeFile(BERT, out, 'nbits');
  // A MatMul weight [K, N]: MatMulNBits holds it transposed, the diff compares it in the original's layout.
  const name = plan.tensors.find((x) => x.op === 'MatMul')!.name;
  const script = `
import sys, numpy as np, onnx
from onnx import numpy_helper
a = onnx.load(sys.argv[1]); b = onnx.load(sys.argv[2]); name = sys.argv[3]
w = numpy_helper.to_array(next(t for t in a.graph.initializer if t.name == name)).astype(np.float32)
node = next(n for n in b.graph.node if n.op_type == 'MatMulNBits' and n.input[1] == name + '_Q4')
at = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
K, N, bs = at['K'], at['N'], at['block_size']
init = {t.name: numpy_helper.to_array(t) for t in b.graph.initializer}
codes = init[node.input[1]].reshape(N, -1)
q = np.stack([codes & 15, codes >> 4], axis=-1).reshape(N, -1).astype(np.float32)
kb = q.shape[1] // bs
scales = init[node.input[2]].reshape(N, kb).astype(np.float32)
zpb = init[node.input[3]].reshape(N, -1)
zp = np.stack([zpb & 15, zpb >> 4], axis=-1).reshape(N, -1)[:, :kb].astype(np.float32)
deq = ((q.reshape(N, kb, bs) - zp[:, :, None]) * scales[:, :, None]).astype(np.float32).reshape(N, -1)[:, :K]
w64 = w.astype(np.float64); d = w64 - deq.T.astype(np.float64)
print(10 * np.log10((w64 ** 2).sum() / (d ** 2).sum()))
`;
  const py = execFileSync('/usr/bin/python3', ['-c', script, BERT, out, name], { encoding: 'utf8' });
  const d = diffFiles(BERT, out);
  closeRel(rowOf(d, name).weightSqnrDb!, Number(py), 1e-4, `${name} vs numpy`);
});

/** A copy of `input` with the initializers in `renames` renamed (and every node input that reads them). */
function renamed(input: string, output: string, renames: Map<string, string>): void {
  const model = onnx.ModelProto.decode(fs.readFileSync(input));
  for (const init of model.graph!.initializer!) init.name = renames.get(init.name!) ?? init.name;
  for (const node of model.graph!.node!) node.input = node.input!.map((n) => renames.get(n) ?? n);
  for (const i of model.graph!.input!) i.name = renames.get(i.name!) ?? i.name;
  fs.writeFileSync(output, onnx.ModelProto.encode(model).finish());
}

test('renamed tensors are matched by consumer position and shape', (t) => {
  const dir = tempDir(t);
  const a = openModel(BERT);
  const weights = a.index.tensors.filter((x) => x.role === 'weight' && x.dims.length === 2).slice(0, 4);
  a.close();
  const renames = new Map(weights.map((w, i) => [w.name, `renamed_${i}`]));
  const out = path.join(dir, 'renamed.onnx');
  renamed(BERT, out, renames);
  const d = diffFiles(BERT, out);
  assert.equal(d.identical, false);
  for (const [from, to] of renames) {
    const row = rowOf(d, from);
    assert.equal(row.nameB, to);
    assert.equal(row.matchedBy, 'position');
    assert.equal(row.status, 'same');
    assert.equal(row.maxAbsError, 0);
  }
  assert.equal(d.summary.added, 0);
  assert.equal(d.summary.removed, 0);
  assert.deepEqual(d.nodes.rewritten, []);
});

/** x -> MatMul(W) -> <tail> -> y, with `extra` initializers read by an Add when given. */
function smallModel(tail: 'Relu' | 'Sigmoid', extra: boolean): Uint8Array {
  const w = Array.from({ length: 16 }, (_, i) => Math.sin(i + 1));
  const nodes: onnx.INodeProto[] = [
    { opType: 'MatMul', input: ['x', 'W'], output: ['h'], name: 'mm' },
    { opType: tail, input: ['h'], output: [extra ? 'h2' : 'y'], name: tail.toLowerCase() },
  ];
  const init = [floatTensor('W', [4, 4], w)];
  if (extra) {
    nodes.push({ opType: 'Add', input: ['h2', 'bias'], output: ['y'], name: 'add' });
    init.push(floatTensor('bias', [4], [1, 0, -1, 0]));
  }
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    metadataProps: [{ key: 'tail', value: tail }],
    graph: {
      name: 'g',
      input: [valueInfo('x', [1, 4])],
      output: [valueInfo('y', [1, 4])],
      initializer: init,
      node: nodes,
    },
  }).finish();
}

test('added and removed nodes and tensors, metadata changes', (t) => {
  const dir = tempDir(t);
  const fa = path.join(dir, 'a.onnx');
  const fb = path.join(dir, 'b.onnx');
  fs.writeFileSync(fa, smallModel('Relu', false));
  fs.writeFileSync(fb, smallModel('Sigmoid', true));
  const d = diffFiles(fa, fb);
  assert.equal(d.identical, false);
  assert.deepEqual(
    d.nodes.added.map((n) => [n.name, n.op]),
    [
      ['sigmoid', 'Sigmoid'],
      ['add', 'Add'],
    ],
  );
  assert.deepEqual(
    d.nodes.removed.map((n) => [n.name, n.op]),
    [['relu', 'Relu']],
  );
  assert.equal(rowOf(d, 'W').status, 'same');
  const bias = rowOf(d, 'bias');
  assert.equal(bias.status, 'added');
  assert.equal(bias.dtypeA, null);
  assert.deepEqual(bias.dimsB, [4]);
  assert.equal(bias.sparsityB, 0.5);
  assert.deepEqual(d.metadata.changed, [{ key: 'tail', a: 'Relu', b: 'Sigmoid' }]);
  // And the other way round.
  const back = diffFiles(fb, fa);
  assert.equal(rowOf(back, 'bias').status, 'removed');
  assert.deepEqual(
    back.nodes.removed.map((n) => n.name),
    ['sigmoid', 'add'],
  );
});

test('an fp16 conversion pair: weights matched through their Cast, SQNR as the convert report', (t) => {
  const out = path.join(tempDir(t), 'bert.fp16.onnx');
  const plan = planAndWrite(
    BERT,
    out,
    (m) => planFp16(m.index, m.source, m.resolveExternal),
    (p) => p.tensors.length > 0,
  );
  assert.ok(plan.tensors.length > 10);
  const d = diffFiles(BERT, out);
  for (const q of plan.tensors) {
    const row = rowOf(d, q.name);
    assert.equal(row.matchedBy, 'value');
    assert.equal(row.nameB, `${q.name}_fp16`);
    assert.deepEqual([row.dtypeA, row.dtypeB], ['float32', 'float16']);
    assert.equal(row.bytesB! * 2, row.bytesA);
    assert.equal(row.status, 'changed');
    if (Number.isFinite(q.weightSqnrDb)) closeRel(row.weightSqnrDb!, q.weightSqnrDb, 1e-6, q.name);
  }
  assert.equal(d.nodes.added.length, plan.tensors.length);
  assert.ok(d.nodes.added.every((n) => n.op === 'Cast'));
});

test('a pruned pair: sparsity before and after, SQNR as the prune report, histograms over one range', (t) => {
  const out = path.join(tempDir(t), 'bert.sparse50.onnx');
  const plan = planAndWrite(
    BERT,
    out,
    (m) => planPrune(m.index, m.source, m.resolveExternal, { ...DEFAULT_PRUNE_OPTIONS, sparsity: 0.5 }),
    (p) => p.tensors.length > 0,
  );
  const d = diffFiles(BERT, out, 16);
  assert.ok(plan.tensors.length > 0);
  for (const p of plan.tensors) {
    const row = rowOf(d, p.name);
    assert.equal(row.status, 'changed');
    assert.equal(row.matchedBy, 'name');
    closeRel(row.sparsityA!, p.sparsityBefore, 1e-12, `${p.name} before`);
    closeRel(row.sparsityB!, p.sparsityAfter, 1e-12, `${p.name} after`);
    assert.ok(row.sparsityB! >= 0.49);
    closeRel(row.weightSqnrDb!, p.weightSqnrDb, 1e-6, p.name);
    const [ha, hb] = [row.histogramA!, row.histogramB!];
    assert.deepEqual([ha.min, ha.max], [hb.min, hb.max]);
    const count = row.dimsA!.reduce((x, y) => x * y, 1);
    assert.equal(
      ha.counts.reduce((x, y) => x + y, 0),
      count,
    );
    assert.equal(
      hb.counts.reduce((x, y) => x + y, 0),
      count,
    );
  }
});
