import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_FP16_OPTIONS, planFp16 } from '../../src/core/quant/planFp16';
import { openModel } from '../../src/runtime/openModel';
import { verifyModels, type VerifyOptions } from '../../src/runtime/verifyModels';
import { planAndWrite } from './quantizeFiles';
import { loadOrt } from '../../src/runtime/loadOrt';

const ort = loadOrt();
const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = TEST_MODELS;
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-fp16-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function convert(input: string, output: string) {
  return planAndWrite(
    input,
    output,
    (model) => planFp16(model.index, model.source, model.resolveExternal, DEFAULT_FP16_OPTIONS),
    (plan) => plan.tensors.length > 0,
  );
}

/**
 * Weights in an initializer (MatMul), a Constant node (Conv), an If branch, one beyond float16's range, a
 * small bias, an int64 shape table, and an initializer that is also a graph input. Also writes the
 * reference: the same model with every convertible weight rounded by numpy's astype(float16) and back.
 */
const BUILD = `
import sys, numpy as np, onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
r = np.random.default_rng(3)
W = (r.standard_normal((16, 12)) * 0.1).astype(np.float32)
W[0, :4] = [1e-9, -3e-8, 65504, 0.1 + 2**-14]   # 1e-9 underflows to 0, -3e-8 to the smallest subnormal; largest finite; a tie
C = (r.standard_normal((4, 3, 3, 3)) * 0.2).astype(np.float32)
Wt = (r.standard_normal((16, 12)) * 0.1).astype(np.float32)
Big = (r.standard_normal((16, 12))).astype(np.float32); Big[3, 3] = 1e5
b = np.arange(12, dtype=np.float32) / 10
G = (r.standard_normal((12, 12)) * 0.1).astype(np.float32)
S = (r.standard_normal((12, 4)) * 0.1).astype(np.float32)
def model(cast):
    c = (lambda a: a.astype(np.float16).astype(np.float32)) if cast else (lambda a: a)
    then_g = h.make_graph([h.make_node('MatMul', ['X', 'Wt'], ['yt'])], 'then', [], [h.make_tensor_value_info('yt', T.FLOAT, [2, 12])], [nh.from_array(c(Wt), 'Wt')])
    else_g = h.make_graph([h.make_node('MatMul', ['X', 'W'], ['ye'])], 'else', [], [h.make_tensor_value_info('ye', T.FLOAT, [2, 12])])
    nodes = [
        h.make_node('MatMul', ['X', 'W'], ['m']),
        h.make_node('Add', ['m', 'b'], ['y1']),
        h.make_node('Constant', [], ['C'], value=nh.from_array(c(C), 'C')),
        h.make_node('Conv', ['I', 'C'], ['y2']),
        h.make_node('If', ['cond'], ['y3'], then_branch=then_g, else_branch=else_g),
        h.make_node('MatMul', ['X', 'Big'], ['y4']),
        h.make_node('Reshape', ['y1', 'shape'], ['y5']),
        h.make_node('MatMul', ['y1', 'G'], ['y6']),
        h.make_node('MatMul', ['y1', 'S'], ['y7']),
    ]
    inits = [nh.from_array(c(W), 'W'), nh.from_array(b, 'b'), nh.from_array(Big, 'Big'), nh.from_array(np.array([3, 8], np.int64), 'shape'), nh.from_array(G, 'G'), nh.from_array(S, 'S')]
    g = h.make_graph(nodes, 'g', [h.make_tensor_value_info('X', T.FLOAT, [2, 16]), h.make_tensor_value_info('I', T.FLOAT, [1, 3, 5, 5]),
        h.make_tensor_value_info('cond', T.BOOL, []), h.make_tensor_value_info('G', T.FLOAT, [12, 12])],
        [h.make_tensor_value_info(n, T.FLOAT, None) for n in ['y1', 'y2', 'y3', 'y4', 'y5', 'y6', 'y7']], inits)
    return h.make_model(g, opset_imports=[h.make_opsetid('', 13)], ir_version=7)
onnx.save(model(False), sys.argv[1])
onnx.save(model(True), sys.argv[2])
np.save(sys.argv[3], W.astype(np.float16))
`;
import { TEST_MODELS } from '../testModels';

describe('planFp16 (onnxruntime-node)', () => {
  const original = path.join(tmp, 'm.onnx');
  const reference = path.join(tmp, 'm.rounded.onnx');
  const converted = path.join(tmp, 'm.fp16.onnx');
  const wHalf = path.join(tmp, 'W.npy');
  let plan: ReturnType<typeof convert>;
  const feeds = () => ({
    X: new ort.Tensor(
      'float32',
      Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)),
      [2, 16],
    ),
    I: new ort.Tensor(
      'float32',
      Float32Array.from({ length: 75 }, (_, i) => Math.cos(i * 0.3)),
      [1, 3, 5, 5],
    ),
    cond: new ort.Tensor('bool', Uint8Array.from([1]), []),
    G: new ort.Tensor(
      'float32',
      Float32Array.from({ length: 144 }, (_, i) => (i % 13) / 13),
      [12, 12],
    ),
  });
  before(() => {
    execFileSync('/usr/bin/python3', ['-c', BUILD, original, reference, wHalf]);
    plan = convert(original, converted);
  });

  it('converts the learned float32 weights wherever they live and leaves the rest as it was', () => {
    assert.deepEqual(plan.tensors.map((t) => t.name).sort(), ['C', 'W', 'Wt']);
    const reasons = Object.fromEntries(plan.skipped.map((s) => [s.name, s.reason]));
    assert.match(reasons.Big, /beyond float16/);
    assert.match(reasons.S, /48 elements \(< 64\)/);
    assert.match(reasons.G, /graph input/);
    assert.ok(
      plan.warnings.some((w) => /^1 nonzero weight values .* became 0/.test(w)),
      plan.warnings.join(),
    );
    const a = openModel(original);
    const b = openModel(converted);
    try {
      // Model I/O, opsets and IR unchanged.
      assert.deepEqual(b.index.graphs[0].inputs, a.index.graphs[0].inputs);
      assert.deepEqual(b.index.graphs[0].outputs, a.index.graphs[0].outputs);
      assert.deepEqual(
        b.index.opsets.map((o) => [o.domain, o.version]),
        a.index.opsets.map((o) => [o.domain, o.version]),
      );
      assert.equal(b.index.irVersion, a.index.irVersion);
      const dtype = (name: string) => b.index.tensors.find((t) => t.name === name)?.dtype;
      assert.deepEqual([dtype('W_fp16'), dtype('C_fp16'), dtype('Wt_fp16')], [10, 10, 10]);
      // The small bias is not a learned weight by the index's rules; the shape table is int64.
      assert.deepEqual(
        [dtype('W'), dtype('C'), dtype('Big'), dtype('S'), dtype('b'), dtype('shape')],
        [undefined, undefined, 1, 1, 1, 7],
      );
      const casts = b.index.nodes.filter((n) => n.opType === 'Cast');
      assert.deepEqual(casts.map((n) => `${n.graph}:${n.inputs[0]}->${n.outputs[0]}`).sort(), [
        'main/If#5/then_branch:Wt_fp16->Wt', // two Casts now precede the If
        'main:C_fp16->C',
        'main:W_fp16->W',
      ]);
      // float16 bits equal numpy's astype(float16) (round to nearest even, subnormals, 65504).
      const npy = fs.readFileSync(wHalf);
      const headerLength = npy.readUInt16LE(8);
      const expected = npy.subarray(10 + headerLength);
      const t = b.index.tensors.find((x) => x.name === 'W_fp16')!;
      assert.ok(t.payload.kind === 'raw');
      assert.deepEqual(Buffer.from(b.source.read(t.payload.offset, t.payload.length)), expected);
    } finally {
      a.close();
      b.close();
    }
  });

  it('ORT output equals the float model with numpy-rounded weights, and ORT folds the Casts at load', async () => {
    const optimized = path.join(tmp, 'm.fp16.optimized.onnx');
    const s = await ort.InferenceSession.create(converted, {
      graphOptimizationLevel: 'basic',
      optimizedModelFilePath: optimized,
    });
    const r = await ort.InferenceSession.create(reference, { graphOptimizationLevel: 'basic' });
    try {
      const ours = await s.run(feeds());
      const ref = await r.run(feeds());
      for (const name of Object.keys(ref)) {
        assert.deepEqual(
          Array.from(ours[name].data as Float32Array),
          Array.from(ref[name].data as Float32Array),
          name,
        );
      }
    } finally {
      await s.release();
      await r.release();
    }
    const folded = openModel(optimized);
    try {
      assert.ok(
        !folded.index.nodes.some((n) => n.opType === 'Cast' && n.graph === 'main'),
        'the Casts of the main graph were constant-folded',
      );
    } finally {
      folded.close();
    }
  });
});

/** Floors: float16 weights keep ~11 bits, so outputs agree to ≥ 50 dB (measured 55–72 dB on these models). */
const CASES: { file: string; verify?: VerifyOptions }[] = [
  { file: 'tiny_bert_random_inline.onnx' },
  { file: 'tiny_bert_random_extdata.onnx' },
  { file: 'oww_embedding_model.onnx' },
  { file: 'basic_pitch_nmp.onnx' },
  { file: 'dtln_model_2.onnx' },
  { file: 'openwakeword_hello_deepa.onnx' },
  { file: 'ortgenai_tiny_random_gpt2_fp32_past.onnx' },
  {
    file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
    verify: { dims: { 'p2o.DynamicDimension.1': 48, 'p2o.DynamicDimension.2': 192 } },
  },
  { file: 'silero_vad_legacy.onnx', verify: { dims: { sequence: 512 }, fill: { sr: 16000, h: 0, c: 0 } } },
];

describe('test models: convert --fp16, load and run in onnxruntime-node', () => {
  for (const c of CASES) {
    it(c.file, async () => {
      const input = path.join(MODELS, c.file);
      const output = path.join(tmp, c.file.replace(/\.onnx$/, '.fp16.onnx'));
      const plan = convert(input, output);
      assert.ok(plan.tensors.length > 0);
      // The bounds were set on the seed-1 batch; the worst of more samples is checked elsewhere.
      const v = await verifyModels(input, output, { ...c.verify, runs: 1, evaluationSamples: 1 });
      assert.ok(v.ok, v.error);
      assert.ok(v.minCosine >= 0.99999, `min cosine ${v.minCosine}`);
      // Outputs that are all zeros in both models have SQNR NaN or Infinity: only finite ones count.
      const worst = Math.min(...v.outputs.map((o) => (Number.isNaN(o.sqnrDb) ? Infinity : o.sqnrDb)));
      assert.ok(worst >= 45, `SQNR ${worst} dB`);
      assert.ok(
        v.candidate.bytes < 0.75 * v.original.bytes,
        `${v.candidate.bytes} of ${v.original.bytes} bytes`,
      );
    });
  }
});

describe('big-shrink convert (CLI)', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  it('writes MODEL.fp16.onnx and its reports; needs --fp16; a float16 model has nothing to convert', () => {
    const input = path.join(tmp, 'bert.onnx');
    fs.copyFileSync(path.join(MODELS, 'tiny_bert_random_inline.onnx'), input);
    const r = cli('convert', input, '--fp16', '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.transform, 'convert');
    assert.equal(report.summary.status, 'pass');
    assert.ok(report.summary.ratio < 0.55);
    for (const f of ['bert.fp16.onnx', 'bert.fp16.report.json', 'bert.fp16.report.md']) {
      assert.ok(fs.existsSync(path.join(tmp, f)), f);
    }
    assert.match(
      fs.readFileSync(path.join(tmp, 'bert.fp16.report.md'), 'utf8'),
      /^# Big Shrink: convert report/,
    );
    assert.equal(cli('convert', input, '--fp16').status, 1, 'exists: needs --force');
    assert.equal(cli('convert', input).status, 2);
    const half = cli(
      'convert',
      path.join(MODELS, 'ortgenai_tiny_random_gpt2_fp16_past.onnx'),
      '--fp16',
      '-o',
      path.join(tmp, 'x.onnx'),
    );
    assert.equal(half.status, 1);
    assert.match(half.stderr, /nothing to convert/);
    assert.ok(!fs.existsSync(path.join(tmp, 'x.onnx')));
  });
});
