// compact --heads: attention heads removed for real must equal the same heads zeroed in the original (their V
// columns, or equivalently their output-projection rows), with shapes ONNX shape inference accepts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import type { CompactReport } from '../../src/core/compact/compactReport';
import { loadOrt } from '../../src/runtime/loadOrt';
import { testModel } from '../testModels';
import { attentionFixture, SILENT_HEAD, type UnitTensor, zeroUnits } from './compactFixtures';
import { floatTensor, INT64, valueInfo } from './modelFixtures';
import { cli, python, tempDir } from './dataTestKit';
import { normal, rng } from './tensorFixtures';
import { relativeError } from './relativeError';

const CHECK = `
import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
print("ok")
`;

type Feeds = Record<string, { type: 'float32' | 'int64'; dims: number[]; values: number[] }>;

/** Runs a model on the given feeds; the outputs in order. */
async function run(bytes: Uint8Array, feeds: Feeds): Promise<Float32Array[]> {
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 4 });
  const tensors = Object.fromEntries(
    Object.entries(feeds).map(([name, f]) => [
      name,
      f.type === 'float32'
        ? new ort.Tensor('float32', Float32Array.from(f.values), f.dims)
        : new ort.Tensor('int64', BigInt64Array.from(f.values.map(BigInt)), f.dims),
    ]),
  );
  const out = await session.run(tensors);
  const result = session.outputNames.map((n) => out[n].data as Float32Array);
  await session.release();
  return result;
}

/** The channels of the removed heads (head h holds channels h·D … h·D + D − 1). */
const channelsOf = (heads: number[], d: number) =>
  heads.flatMap((h) => Array.from({ length: d }, (_, k) => h * d + k));

interface HeadTensors {
  headDim: number;
  /** V's weight and bias (output channels) and the output projection's weight (input rows). */
  value: UnitTensor[];
  out: UnitTensor[];
}

/**
 * Compacts with --heads (and the extra flags), then checks: the output runs and equals the original with the
 * removed heads' V columns zeroed, and with their output-projection rows zeroed; shape inference passes.
 */
async function compactAndCompare(
  dir: string,
  name: string,
  original: Uint8Array,
  blocks: Record<string, HeadTensors>,
  feeds: Feeds[],
  flags: string[],
  suffix: string,
  extraUnits: Record<string, UnitTensor[]> = {},
): Promise<CompactReport> {
  const model = path.join(dir, `${name}.onnx`);
  fs.writeFileSync(model, original);
  const r = cli(['compact', model, ...flags, '--json']);
  assert.ok(r.status === 0 || r.status === 3, r.stderr);
  const report = JSON.parse(r.stdout) as CompactReport;
  const out = path.join(dir, `${name}.${suffix}.onnx`);
  assert.equal(report.output.files[0].path, out);
  const heads = report.tensors.filter((l) => l.kind === 'heads');
  assert.deepEqual(heads.map((l) => l.name).sort(), Object.keys(blocks).sort());
  const removed: Record<string, number[]> = {};
  for (const l of report.tensors)
    removed[l.name] = l.kind === 'heads' ? channelsOf(l.removed, blocks[l.name].headDim) : l.removed;
  for (const l of heads) assert.equal(l.unitsAfter, l.unitsBefore - l.removed.length);
  const zeroed = (pick: 'value' | 'out') =>
    zeroUnits(
      original,
      { ...extraUnits, ...Object.fromEntries(Object.entries(blocks).map(([k, v]) => [k, v[pick]])) },
      removed,
    );
  const compacted = new Uint8Array(fs.readFileSync(out));
  for (const f of feeds) {
    const a = await run(compacted, f);
    for (const reference of [zeroed('value'), zeroed('out')]) {
      const b = await run(reference, f);
      for (let i = 0; i < a.length; i++)
        assert.ok(relativeError(a[i], b[i]) <= 1e-5, `${name} output ${i}: ${relativeError(a[i], b[i])}`);
    }
  }
  assert.equal(python(['-c', CHECK, out]).trim(), 'ok');
  // The bytes the report counts are gone from the file (the few new shape constants aside).
  const saved = original.length - compacted.length;
  const counted = report.tensors.reduce((s, l) => s + l.bytesBefore - l.bytesAfter, 0);
  assert.ok(counted > 0 && Math.abs(saved - counted) <= 256, `saved ${saved}, counted ${counted}`);
  return report;
}

const floatFeeds = (seed: number): Feeds => {
  const r = rng(seed);
  return { x: { type: 'float32', dims: [1, 4, 16], values: Array.from({ length: 64 }, () => normal(r)) } };
};

const bertFeeds = (seed: number): Feeds => {
  const r = rng(seed);
  const n = 2 * 7;
  return {
    input_ids: {
      type: 'int64',
      dims: [2, 7],
      values: Array.from({ length: n }, () => Math.floor(r() * 2000)),
    },
    // The second row's last tokens are padding: the mask Add must broadcast over the heads.
    attention_mask: {
      type: 'int64',
      dims: [2, 7],
      values: Array.from({ length: n }, (_, i) => (i >= 11 ? 0 : 1)),
    },
    token_type_ids: {
      type: 'int64',
      dims: [2, 7],
      values: Array.from({ length: n }, (_, i) => (i % 7 >= 4 ? 1 : 0)),
    },
  };
};

const FIXTURE_BLOCK: Record<string, HeadTensors> = {
  out_mm: { headDim: 4, value: [{ name: 'wv', axis: 1 }], out: [{ name: 'wo', axis: 0 }] },
};

const bertBlock = (layer: number, v: string, o: string): [string, HeadTensors] => [
  `/layers.${layer}/attn_out/MatMul`,
  {
    headDim: 16,
    value: [
      { name: v, axis: 1 },
      { name: `layers.${layer}.value.bias`, axis: 0 },
    ],
    out: [{ name: o, axis: 0 }],
  },
];

describe('compact --heads', () => {
  const dir = tempDir('heads-compact');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('removes the silent head of the attention fixture on synthesized inputs, exactly as zeroing it', async () => {
    const report = await compactAndCompare(
      dir,
      'attention',
      attentionFixture(),
      FIXTURE_BLOCK,
      [floatFeeds(3), floatFeeds(4)],
      ['--heads', '0.25', '--force'],
      'heads25',
    );
    const [l] = report.tensors;
    assert.deepEqual([l.kind, l.unitsBefore, l.unitsAfter, l.removed], ['heads', 4, 3, [SILENT_HEAD]]);
    assert.equal(report.summary.headsBefore, 4);
    assert.equal(report.summary.headsAfter, 3);
    assert.ok(report.calibration);
    // Q, K, V lose 4 columns, the output projection 4 rows; the shared split constant holds 3 heads now.
    const dims = Object.fromEntries(l.tensors.map((t) => [t.name, t.dimsAfter]));
    assert.deepEqual(dims, {
      wq: [16, 12],
      wk: [16, 12],
      wv: [16, 12],
      wo: [12, 16],
      split: [4],
      merge: [3],
    });
  });

  it('removes other heads (by magnitude) exactly as zeroing their V columns or output rows', async () => {
    const report = await compactAndCompare(
      dir,
      'attention2',
      attentionFixture(),
      FIXTURE_BLOCK,
      [floatFeeds(5)],
      ['--heads', '0.5', '--method', 'magnitude', '--no-verify'],
      'heads50',
    );
    const [l] = report.tensors;
    assert.equal(l.removed.length, 2);
    assert.ok(l.removed.includes(SILENT_HEAD));
    // A live head went: the output differs from the original.
    const compacted = new Uint8Array(fs.readFileSync(path.join(dir, 'attention2.heads50.onnx')));
    const [a] = await run(compacted, floatFeeds(5));
    const [b] = await run(attentionFixture(), floatFeeds(5));
    assert.ok(relativeError(a, b) > 1e-3);
  });

  it("removes tiny_bert's heads (Concat split shapes, a runtime merge width) and, with --units, MLP units", async () => {
    const original = new Uint8Array(fs.readFileSync(testModel('tiny_bert_random_inline.onnx')));
    const blocks = Object.fromEntries([
      bertBlock(0, 'onnx::MatMul_257', 'onnx::MatMul_258'),
      bertBlock(1, 'onnx::MatMul_269', 'onnx::MatMul_270'),
    ]);
    const heads = await compactAndCompare(
      dir,
      'bert',
      original,
      blocks,
      [bertFeeds(7), bertFeeds(8)],
      ['--heads', '0.25', '--no-verify'],
      'heads25',
    );
    assert.deepEqual(
      heads.tensors.map((l) => [l.unitsBefore, l.unitsAfter]),
      [
        [4, 3],
        [4, 3],
      ],
    );
    const mlp = (layer: number, up: string, down: string): [string, UnitTensor[]] => [
      `/layers.${layer}/output/MatMul`,
      [
        { name: up, axis: 1 },
        { name: `layers.${layer}.intermediate.bias`, axis: 0 },
        { name: down, axis: 0 },
      ],
    ];
    const both = await compactAndCompare(
      dir,
      'bert2',
      original,
      blocks,
      [bertFeeds(9)],
      ['--heads', '0.5', '--units', '0.25', '--method', 'magnitude', '--no-verify'],
      'compact25.heads50',
      Object.fromEntries([
        mlp(0, 'onnx::MatMul_259', 'onnx::MatMul_260'),
        mlp(1, 'onnx::MatMul_271', 'onnx::MatMul_272'),
        // The pooler (Gemm, transB) → Tanh → classifier is an MLP block too.
        [
          '/classifier/Gemm',
          [
            { name: 'pooler.weight', axis: 0 },
            { name: 'pooler.bias', axis: 0 },
            { name: 'classifier.weight', axis: 1 },
          ],
        ],
      ]),
    );
    assert.deepEqual(both.tensors.map((l) => [l.kind, l.unitsAfter]).sort(), [
      ['heads', 2],
      ['heads', 2],
      ['mlp', 192],
      ['mlp', 192],
      ['mlp', 48],
    ]);
  });

  it('leaves a block whole with the reason: no heads shown, or a per-head tensor read outside the pattern', () => {
    const other = path.join(dir, 'other.onnx');
    fs.writeFileSync(other, attentionFixture([0, 1, 2, 3]));
    const r = cli(['compact', other, '--heads', '0.25', '--no-verify']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /nothing to compact.*left whole: out_mm \(the graph does not show heads here/);
    // V split to heads is also a graph output (as a key/value cache would be).
    const model = onnx.ModelProto.decode(attentionFixture());
    model.graph!.output!.push(valueInfo('vr', [1, 4, 4, 4]));
    const cache = path.join(dir, 'cache.onnx');
    fs.writeFileSync(cache, onnx.ModelProto.encode(model).finish());
    const c = cli(['compact', cache, '--heads', '0.25', '--no-verify', '--json']);
    assert.equal(c.status, 1);
    assert.match(
      c.stderr,
      /left whole: out_mm \(4 attention heads × 4 left whole: vr is read outside the attention pattern/,
    );
  });

  it('gives the block its own copy of a split shape other nodes read too', async () => {
    const model = onnx.ModelProto.decode(attentionFixture());
    model.graph!.node!.push({ opType: 'Reshape', input: ['x', 'split'], output: ['xs'], name: 'other' });
    model.graph!.output!.push(valueInfo('xs', [1, 4, 4, 4]));
    // Declared shapes of per-head values: they must go, or ONNX Runtime refuses the narrower model.
    model.graph!.valueInfo = [valueInfo('vr', [1, 4, 4, 4]), valueInfo('cm', [1, 4, 16])];
    const bytes = onnx.ModelProto.encode(model).finish();
    await compactAndCompare(
      dir,
      'shared',
      bytes,
      FIXTURE_BLOCK,
      [floatFeeds(6)],
      ['--heads', '0.25', '--no-verify'],
      'heads25',
    );
    const names = python([
      '-c',
      'import sys, onnx; m = onnx.load(sys.argv[1]); print(" ".join(sorted(t.name for t in m.graph.initializer)))',
      path.join(dir, 'shared.heads25.onnx'),
    ]);
    assert.equal(names.trim(), 'merge split split_heads wk wo wq wv');
  });

  it('leaves whole a block with fewer K heads (GQA) or a per-head score bias', () => {
    const variant = (name: string, edit: (g: onnx.IGraphProto) => void) => {
      const model = onnx.ModelProto.decode(attentionFixture());
      edit(model.graph!);
      const file = path.join(dir, `${name}.onnx`);
      fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
      const r = cli(['compact', file, '--heads', '0.25', '--method', 'magnitude', '--no-verify']);
      assert.equal(r.status, 1, r.stderr);
      return r.stderr;
    };
    const gqa = variant('gqa', (g) => {
      g.initializer!.push({
        name: 'split_k',
        dims: [4],
        dataType: INT64,
        rawData: new Uint8Array(new BigInt64Array([1n, 4n, 2n, 8n]).buffer),
      });
      g.node!.find((n) => n.name === 'k_split')!.input![1] = 'split_k';
    });
    assert.match(
      gqa,
      /left whole: out_mm \(4 attention heads × 4 left whole: the split shape split_k \[1,4,2,8\] does not hold 4 heads × 4/,
    );
    const alibi = variant('alibi', (g) => {
      g.initializer!.push(
        floatTensor(
          'bias',
          [1, 4, 4, 4],
          Array.from({ length: 64 }, (_, i) => i / 64),
        ),
      );
      const softmax = g.node!.findIndex((n) => n.name === 'softmax');
      g.node![softmax].input![0] = 'sb';
      g.node!.splice(softmax, 0, { opType: 'Add', input: ['s', 'bias'], output: ['sb'], name: 'alibi' });
    });
    assert.match(
      alibi,
      /Add alibi between the scores and the Softmax reads a tensor that may differ per head/,
    );
  });

  it('refuses bad --heads usage', () => {
    const model = path.join(dir, 'usage.onnx');
    fs.writeFileSync(model, attentionFixture());
    for (const args of [
      ['--heads', '1.5'],
      ['--heads', '0'],
      ['--heads', '0.25', '--rank', '0.5'],
      ['--heads', 'many'],
    ])
      assert.equal(cli(['compact', model, ...args]).status, 2, args.join(' '));
  });
});
