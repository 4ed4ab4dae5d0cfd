import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as OrtTypes from 'onnxruntime-node';
import { matMulNBitsValues } from '../../src/core/quant/matMulNBitsValues';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  planQuantize,
  type QuantizeOptions,
} from '../../src/core/quant/planQuantize';
import { tensorValues } from '../../src/core/tensor/tensorValues';
import { collectValues, valuesOf } from '../../src/core/tensor/valueStream';
import { decodeFloat16 } from '../../src/core/tensor/float16';
import { openModel, type OpenedModel } from '../../src/runtime/openModel';
import { verifyModels, type VerifyOptions } from '../../src/runtime/verifyModels';
import { planAndWrite, quantizeFile } from './quantizeFiles';
import { TEST_MODELS } from '../testModels';
import { loadOrt } from '../../src/runtime/loadOrt';

const ort = loadOrt();
const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = TEST_MODELS;
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-qmodels-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const K = 100; // not a multiple of the block size: the last block is padded
const N = 24;
const M = 3;

/**
 * A small model with every shape of target: MatMul (weight shared by two MatMuls and by an If branch),
 * Gemm transB=1 with alpha/beta and a [N] bias, Gemm transB=0 with a [M, N] C (Add kept after), a weight
 * in a Constant node, a branch-local weight inside an If, and an fp16 MatMul.
 */
const BUILD = `
import numpy as np, onnx, sys
from onnx import helper as h, TensorProto as T, numpy_helper as nh
K, N, M = ${K}, ${N}, ${M}
r = np.random.default_rng(7)
w = lambda *s: (r.standard_normal(s) * 0.1).astype(np.float32)
W1, W2, W3, W5, Wt = w(K, N), w(N, K), w(K, N), w(K, N), w(K, N)
W4 = w(K, N).astype(np.float16)
C2, C3 = w(N), w(M, N)
then_g = h.make_graph([h.make_node('MatMul', ['X', 'Wt'], ['yt'])], 'then', [], [h.make_tensor_value_info('yt', T.FLOAT, [M, N])], [nh.from_array(Wt, 'Wt')])
else_g = h.make_graph([h.make_node('MatMul', ['X', 'W1'], ['ye'])], 'else', [], [h.make_tensor_value_info('ye', T.FLOAT, [M, N])])
nodes = [
  h.make_node('MatMul', ['X', 'W1'], ['Y1'], name='mm1'),
  h.make_node('MatMul', ['X', 'W1'], ['Y1b'], name='mm1b'),
  h.make_node('Gemm', ['X', 'W2', 'C2'], ['Y2'], name='gemm_t1', transB=1, alpha=0.5, beta=2.0),
  h.make_node('Gemm', ['X', 'W3', 'C3'], ['Y3'], name='gemm_t0'),
  h.make_node('Cast', ['X'], ['X16'], to=T.FLOAT16),
  h.make_node('MatMul', ['X16', 'W4'], ['Y4'], name='mm_fp16'),
  h.make_node('Constant', [], ['W5'], value=nh.from_array(W5, 'W5')),
  h.make_node('MatMul', ['X', 'W5'], ['Y5'], name='mm_const'),
  h.make_node('If', ['cond'], ['Y6'], name='branch', then_branch=then_g, else_branch=else_g),
]
g = h.make_graph(nodes, 'g', [h.make_tensor_value_info('X', T.FLOAT, [M, K]), h.make_tensor_value_info('cond', T.BOOL, [])],
  [h.make_tensor_value_info(n, T.FLOAT16 if n == 'Y4' else T.FLOAT, [M, N]) for n in ['Y1', 'Y1b', 'Y2', 'Y3', 'Y4', 'Y5', 'Y6']],
  [nh.from_array(a, n) for a, n in [(W1, 'W1'), (W2, 'W2'), (W3, 'W3'), (W4, 'W4'), (C2, 'C2'), (C3, 'C3')]])
m = h.make_model(g, opset_imports=[h.make_opsetid('', 17)], ir_version=8)
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
`;

/** Quantizes through the core and the writer, as the CLI does. */
function quantize(input: string, output: string, options: Partial<QuantizeOptions> = {}) {
  return planAndWrite(
    input,
    output,
    (model) =>
      planQuantize(model.index, model.source, model.resolveExternal, {
        ...DEFAULT_QUANTIZE_OPTIONS,
        ...options,
      }),
    (plan) => plan.nodes.length > 0,
  );
}

/** Initializer values of a model by name (float32/float16 as numbers, uint8 as bytes). */
function initializer(model: OpenedModel, name: string): Float64Array {
  const t = model.index.tensors.find((x) => x.name === name);
  assert.ok(t, `no tensor ${name}`);
  return collectValues(tensorValues(t, model.source, model.resolveExternal));
}

async function run(file: string, feeds: Record<string, OrtTypes.Tensor>) {
  const s = await ort.InferenceSession.create(file, { executionProviders: ['cpu'] });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

function numbers(t: OrtTypes.Tensor): Float64Array {
  return t.type === 'float16'
    ? Float64Array.from(decodeFloat16(t.data as Uint16Array))
    : Float64Array.from(t.data as Float32Array);
}

function relErr(actual: Float64Array, expected: Float64Array): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < expected.length; i++) {
    e += (actual[i] - expected[i]) ** 2;
    s += expected[i] ** 2;
  }
  return Math.sqrt(e / s);
}

for (const bits of [4, 2, 8] as const) {
  describe(`MatMulNBits layout proof, ${bits}-bit (onnxruntime-node)`, () => {
    const original = path.join(tmp, `tiny${bits}.onnx`);
    const quantized = path.join(tmp, `tiny.int${bits}.onnx`);
    let x: Float32Array;
    let out: Record<string, OrtTypes.Tensor>;
    let outOriginal: Record<string, OrtTypes.Tensor>;
    let model: OpenedModel;
    before(async () => {
      execFileSync('/usr/bin/python3', ['-c', BUILD, original]);
      // accuracy_level 0: float activations, so the only difference from a float MatMul is summation order.
      const plan = quantize(original, quantized, { accuracyLevel: 0, bits });
      assert.equal(plan.nodes.length, 8, JSON.stringify(plan.nodes));
      x = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37));
      const feeds = {
        X: new ort.Tensor('float32', x, [M, K]),
        cond: new ort.Tensor('bool', Uint8Array.from([1]), []),
      };
      out = await run(quantized, feeds);
      outOriginal = await run(original, feeds);
      model = openModel(quantized);
    });
    after(() => model?.close());

    /** X · W + bias in float64, with W read back from the file and dequantized by the independent decoder. */
    function reference(weight: string, bias?: string, fp16 = false): Float64Array {
      const node = model.index.nodes.find((n) => n.opType === 'MatMulNBits' && n.inputs[1] === weight);
      assert.ok(node, `no MatMulNBits reads ${weight}`);
      const attr = (k: string) => node.attributes.find((a) => a.name === k)!.i!;
      assert.equal(attr('K'), K);
      assert.equal(attr('N'), N);
      const zp = node.inputs[3] ? Uint8Array.from(initializer(model, node.inputs[3])) : undefined;
      const w = collectValues(
        matMulNBitsValues(
          valuesOf(initializer(model, weight)),
          initializer(model, node.inputs[2]),
          zp ? { kind: 'packed', bytes: zp } : undefined,
          { K, N, bits: attr('bits'), blockSize: attr('block_size') },
        ),
      );
      const b = bias ? initializer(model, bias) : undefined;
      const xs = fp16 ? decodeFloat16(Uint16Array.from(x, (v) => numberToHalfBits(v))) : x;
      const y = new Float64Array(M * N);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let acc = b ? b[n] : 0;
          for (let k = 0; k < K; k++) acc += xs[m * K + k] * w[n * K + k];
          y[m * N + n] = acc;
        }
      }
      return y;
    }

    it('MatMul, shared weight, Constant-node weight and If branch: ORT output = X·dequant(W), rel err ≤ 1e-4', () => {
      const shared = model.index.nodes.filter(
        (n) => n.opType === 'MatMulNBits' && n.inputs[1] === `W1_Q${bits}`,
      );
      assert.equal(shared.length, 3, 'mm1, mm1b and the else branch read the same quantized W1');
      assert.ok(
        !model.index.tensors.some((t) => t.name === 'W1' || t.name === 'W5'),
        'float weights removed',
      );
      for (const [y, w] of [
        ['Y1', `W1_Q${bits}`],
        ['Y1b', `W1_Q${bits}`],
        ['Y5', `W5_Q${bits}`],
        ['Y6', `Wt_Q${bits}`],
      ]) {
        const e = relErr(numbers(out[y]), reference(w));
        assert.ok(e <= 1e-4, `${y}: rel err ${e}`);
      }
    });

    it('Gemm transB=1 (alpha/beta folded, C as bias) and transB=0 (Add kept after): rel err ≤ 1e-4', () => {
      const e2 = relErr(numbers(out.Y2), reference(`W2_Q${bits}`, 'C2_bias'));
      assert.ok(e2 <= 1e-4, `Y2 rel err ${e2}`);
      const c3 = initializer(model, 'C3');
      const y3 = reference(`W3_Q${bits}`).map((v, i) => v + c3[i]);
      const e3 = relErr(numbers(out.Y3), y3);
      assert.ok(e3 <= 1e-4, `Y3 rel err ${e3}`);
      assert.ok(model.index.nodes.some((n) => n.opType === 'Add' && n.inputs[1] === 'C3'));
    });

    it('fp16 MatMul: fp16 scales, rel err ≤ 2e-3 (fp16 output rounding is 4.9e-4 per value)', () => {
      const scales = model.index.tensors.find((t) => t.name === 'W4_scales');
      assert.equal(scales?.dtype, 10);
      const e = relErr(numbers(out.Y4), reference(`W4_Q${bits}`, undefined, true));
      assert.ok(e <= 2e-3, `Y4 rel err ${e}`);
    });

    // σ=0.1 Gaussian weights, lowest output cosine measured: 8-bit 0.99999, 4-bit 0.9951, 2-bit 0.898;
    // a broken layout gives < 0.5.
    const floor = { 2: 0.85, 4: 0.99, 8: 0.9999 }[bits];
    it(`every output stays close to the float original (cosine > ${floor})`, () => {
      for (const name of ['Y1', 'Y1b', 'Y2', 'Y3', 'Y4', 'Y5', 'Y6']) {
        const a = numbers(outOriginal[name]);
        const b = numbers(out[name]);
        let dot = 0;
        let na = 0;
        let nb = 0;
        for (let i = 0; i < a.length; i++) {
          dot += a[i] * b[i];
          na += a[i] ** 2;
          nb += b[i] ** 2;
        }
        const cos = dot / Math.sqrt(na * nb);
        assert.ok(cos > floor, `${name} cosine ${cos}`);
      }
    });
  });
}

/** Rounds to the nearest fp16 bit pattern (the Cast X → float16 in the test model). */
function numberToHalfBits(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = u & 0x7fffff;
  if (exp <= 0) return sign; // inputs here are |v| ≥ 2^-14 or 0
  let h = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return h;
}

/**
 * Every test model with a MatMul/Gemm weight: quantize to 4-bit (defaults: asymmetric, block 32,
 * accuracy_level 4), load and run both in ORT, and hold the lowest output cosine above a per-model floor.
 * Floors sit below the measured value (in the comment) by a margin for ORT build differences, but well
 * above what a broken layout gives (a transposed or mis-packed weight drives cosine under 0.5).
 */
const CASES: { file: string; minCosine: number; minSqnr?: number; verify?: VerifyOptions; why: string }[] = [
  {
    file: 'tiny_bert_random_inline.onnx',
    minCosine: 0.999,
    why: '14 weights (MatMul + Gemm transB=1) of a 2-layer encoder; measured 0.99985 (logits)',
  },
  {
    file: 'tiny_bert_random_extdata.onnx',
    minCosine: 0.999,
    why: 'same network with external data (kept external); measured 0.99985',
  },
  {
    file: 'ortgenai_tiny_random_gpt2_fp32_past.onnx',
    minCosine: 0.98,
    why: 'random-weight GPT-2, 16 MatMuls; errors of 5 layers accumulate into the logits; measured 0.9918',
  },
  {
    file: 'ortgenai_tiny_random_gpt2_fp16_past.onnx',
    minCosine: 0.98,
    why: 'fp16 weights and fp16 scales; measured 0.9918',
  },
  {
    file: 'dtln_model_2.onnx',
    minCosine: 0.98,
    why: 'unrolled LSTMs (5 MatMuls) feed back through sigmoid/tanh gates; measured 0.9935',
  },
  {
    file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
    minCosine: 0.999,
    why: 'the weight lives in a Constant node; one FC on a 2-way softmax; measured 0.99989',
    verify: { dims: { 'p2o.DynamicDimension.1': 48, 'p2o.DynamicDimension.2': 192 } },
  },
  {
    file: 'openwakeword_hello_deepa.onnx',
    minCosine: 0.999,
    minSqnr: 15,
    why: '3 Gemm transB=1; the single sigmoid output makes cosine trivially 1, so SQNR is the check (measured 21.3 dB)',
  },
];

describe('test models: quantize, load and run in onnxruntime-node', () => {
  for (const c of CASES) {
    it(`${c.file}: ${c.why}`, async () => {
      const input = path.join(MODELS, c.file);
      const output = path.join(tmp, c.file.replace(/\.onnx$/, '.int4.onnx'));
      const plan = quantize(input, output);
      assert.ok(plan.nodes.length > 0);
      // The bounds were measured on the seed-1 batch (the "measured" figures in the case names).
      const v = await verifyModels(input, output, { ...c.verify, runs: 1, evaluationSamples: 1 });
      assert.ok(v.ok, v.error);
      assert.ok(v.minCosine >= c.minCosine, `min cosine ${v.minCosine} < ${c.minCosine}`);
      if (c.minSqnr !== undefined) {
        const worst = Math.min(...v.outputs.map((o) => o.sqnrDb));
        assert.ok(worst >= c.minSqnr, `SQNR ${worst} dB`);
      }
      assert.ok(v.candidate.bytes < v.original.bytes, 'the model got smaller');
      if (c.file.includes('extdata'))
        assert.ok(fs.existsSync(`${output}.data`), 'external data kept external');
    });
  }
  for (const file of ['basic_pitch_nmp.onnx', 'oww_embedding_model.onnx', 'silero_vad_legacy.onnx']) {
    it(`${file}: nothing to quantize (Conv/LSTM only)`, () => {
      const plan = quantize(path.join(MODELS, file), path.join(tmp, `${file}.int4.onnx`));
      assert.equal(plan.nodes.length, 0);
      assert.ok(!fs.existsSync(path.join(tmp, `${file}.int4.onnx`)));
    });
  }
});

describe('big-shrink quantize / verify (CLI)', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  it('nothing to quantize: clear message, exit 1, no output', () => {
    const input = path.join(tmp, 'basic.onnx');
    fs.copyFileSync(path.join(MODELS, 'basic_pitch_nmp.onnx'), input);
    const r = cli('quantize', input, '--bits', '4');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /no MatMul\/Gemm weights to quantize/);
    assert.deepEqual(
      fs.readdirSync(tmp).filter((f) => f.startsWith('basic.')),
      ['basic.onnx'],
    );
  });
  it('writes model + reports beside the input, refuses to overwrite, verify exits 0', () => {
    const input = path.join(tmp, 'bert.onnx');
    fs.copyFileSync(path.join(MODELS, 'tiny_bert_random_inline.onnx'), input);
    const r = cli('quantize', input, '--bits', '8', '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.summary.status, 'pass');
    assert.equal(report.tensors.length, 14);
    assert.match(report.output.files[0].sha256, /^[0-9a-f]{64}$/);
    for (const f of ['bert.int8.onnx', 'bert.int8.report.json', 'bert.int8.report.md']) {
      assert.ok(fs.existsSync(path.join(tmp, f)), f);
    }
    assert.deepEqual(
      JSON.parse(fs.readFileSync(path.join(tmp, 'bert.int8.report.json'), 'utf8')).summary,
      report.summary,
    );
    const again = cli('quantize', input, '--bits', '8');
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already exists/);
    assert.equal(cli('quantize', input, '--bits', '3').status, 2);
    const v = cli('verify', input, path.join(tmp, 'bert.int8.onnx'), '--json');
    assert.equal(v.status, 0, v.stderr);
    assert.ok(JSON.parse(v.stdout).minCosine > 0.9999, '8-bit is near-lossless');
  });
  it('--format qdq: MODEL.int4.qdq.onnx, the opset and IR raise is in the report; 2-bit is bad usage', () => {
    const input = path.join(tmp, 'bertq.onnx');
    fs.copyFileSync(path.join(MODELS, 'tiny_bert_random_inline.onnx'), input);
    const r = cli('quantize', input, '--format', 'qdq', '--bits', '4', '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.options.format, 'qdq');
    assert.deepEqual(report.opsetChanges, ['ai.onnx opset 17 → 21', 'IR version 8 → 10']);
    assert.ok(report.warnings.some((w: string) => /opset was raised from 17 to 21/.test(w)));
    assert.match(report.tensors[0].afterDtype, /^uint4 \(DequantizeLinear, block 32 along axis [01]\)$/);
    assert.ok(fs.existsSync(path.join(tmp, 'bertq.int4.qdq.onnx')));
    assert.ok(fs.existsSync(path.join(tmp, 'bertq.int4.qdq.report.md')));
    assert.match(
      fs.readFileSync(path.join(tmp, 'bertq.int4.qdq.report.md'), 'utf8'),
      /ai\.onnx opset 17 → 21/,
    );
    assert.equal(cli('quantize', input, '--format', 'qdq', '--bits', '2').status, 2);
  });
  it('--format qdq refuses, and writes nothing, when raising the opset would change another node', () => {
    const input = path.join(tmp, 'groupnorm.onnx');
    execFileSync('/usr/bin/python3', [
      '-c',
      `
import sys, numpy as np, onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
W = (np.arange(64, dtype=np.float32).reshape(8, 8) - 32) / 64
g = h.make_graph([h.make_node('MatMul', ['X', 'W'], ['m']), h.make_node('GroupNormalization', ['m', 's', 'b'], ['y'], num_groups=2)],
  'g', [h.make_tensor_value_info('X', T.FLOAT, [1, 8, 8])], [h.make_tensor_value_info('y', T.FLOAT, None)],
  [nh.from_array(W, 'W'), nh.from_array(np.ones(2, np.float32), 's'), nh.from_array(np.zeros(2, np.float32), 'b')])
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 18)], ir_version=8), sys.argv[1])
`,
      input,
    ]);
    const r = cli('quantize', input, '--format', 'qdq', '--bits', '4');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot raise the opset to 21: GroupNormalization .*per-channel scale/);
    assert.ok(!fs.existsSync(path.join(tmp, 'groupnorm.int4.qdq.onnx')));
    // 8-bit needs only opset 13: the model qualifies as it is.
    assert.equal(cli('quantize', input, '--format', 'qdq', '--bits', '8', '--no-verify').status, 0);
  });
});

/**
 * The portable format on every test model with a MatMul/Gemm/Conv weight, 4-bit (uint4 + zero points,
 * block 32, opset raised to 21) and 8-bit (int8 per output channel): loads and runs in ORT, gets smaller,
 * and holds the lowest output cosine (or SQNR, where a sigmoid makes cosine trivially 1) above a floor set
 * below the measured value (in `why`) with a margin for ORT builds; a wrong axis or packing gives < 0.5.
 */
const QDQ_CASES: {
  file: string;
  bits: 4 | 8;
  symmetric?: boolean;
  minCosine: number;
  minSqnr?: number;
  verify?: VerifyOptions;
  why: string;
}[] = [
  {
    file: 'tiny_bert_random_inline.onnx',
    bits: 4,
    minCosine: 0.999,
    why: '14 MatMul/Gemm weights; measured 0.99984',
  },
  { file: 'tiny_bert_random_inline.onnx', bits: 8, minCosine: 0.9999, why: 'measured 0.999996' },
  {
    file: 'tiny_bert_random_extdata.onnx',
    bits: 4,
    minCosine: 0.999,
    why: 'external data stays external; measured 0.99984',
  },
  {
    file: 'ortgenai_tiny_random_gpt2_fp32_past.onnx',
    bits: 4,
    minCosine: 0.98,
    why: 'opset 11 → 21; measured 0.9918',
  },
  {
    file: 'ortgenai_tiny_random_gpt2_fp16_past.onnx',
    bits: 4,
    minCosine: 0.98,
    why: 'fp16 scales; measured 0.9917',
  },
  {
    file: 'ortgenai_tiny_random_gpt2_fp16_past.onnx',
    bits: 8,
    minCosine: 0.9995,
    why: 'fp16 scales need opset 19; measured 0.99993',
  },
  {
    file: 'dtln_model_2.onnx',
    bits: 4,
    minCosine: 0.98,
    why: 'opset 11 → 21 rewrites Split/Squeeze/Unsqueeze/ReduceMean; MatMul + Conv1d; measured 0.9921',
  },
  { file: 'dtln_model_2.onnx', bits: 8, minCosine: 0.9995, why: 'opset 11 → 13; measured 0.99991' },
  {
    file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
    bits: 4,
    minCosine: 0.9,
    why:
      'opset 9 → 21 (Clip, Slice, Softmax rewritten), Constant-node weights, 42 Convs + FC; its 2-way softmax ' +
      'after unfolded BatchNorms is sensitive: asymmetric measured 0.922 (the numpy-dequantized float model ' +
      'gives the same), symmetric 0.998 below',
    verify: { dims: { 'p2o.DynamicDimension.1': 48, 'p2o.DynamicDimension.2': 192 } },
  },
  {
    file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
    bits: 4,
    symmetric: true,
    minCosine: 0.99,
    why: 'int4 symmetric; measured 0.9985',
    verify: { dims: { 'p2o.DynamicDimension.1': 48, 'p2o.DynamicDimension.2': 192 } },
  },
  {
    file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
    bits: 8,
    minCosine: 0.9995,
    why: 'depthwise Convs too (per channel); measured 0.99998',
    verify: { dims: { 'p2o.DynamicDimension.1': 48, 'p2o.DynamicDimension.2': 192 } },
  },
  {
    file: 'openwakeword_hello_deepa.onnx',
    bits: 4,
    minCosine: 0.999,
    minSqnr: 18,
    why: '3 Gemm transB=1, opset 13 → 21 rewrites ReduceMean; sigmoid output: SQNR measured 23.5 dB',
  },
  { file: 'openwakeword_hello_deepa.onnx', bits: 8, minCosine: 0.999, minSqnr: 35, why: 'measured 42.6 dB' },
  {
    file: 'oww_embedding_model.onnx',
    bits: 4,
    minCosine: 0.98,
    minSqnr: 14,
    why: '19 Convs of 20 (the 1-channel first one would not shrink); measured 0.9906, 17.2 dB',
  },
  { file: 'oww_embedding_model.onnx', bits: 8, minCosine: 0.9995, why: 'all 20 Convs; measured 0.99994' },
  {
    file: 'basic_pitch_nmp.onnx',
    bits: 4,
    minCosine: 0.98,
    why: 'CQT + CNN Convs, opset 15 → 21 rewrites ReduceMin/ReduceMax; measured 0.9927',
  },
  { file: 'basic_pitch_nmp.onnx', bits: 8, minCosine: 0.998, why: 'measured 0.99915' },
  {
    file: 'silero_vad_legacy.onnx',
    bits: 4,
    minCosine: 0.98,
    why: 'Conv weights inside If branches; LSTM state outputs accumulate; measured 0.9888',
    verify: { dims: { sequence: 512 }, fill: { sr: 16000, h: 0, c: 0 } },
  },
  {
    file: 'silero_vad_legacy.onnx',
    bits: 8,
    minCosine: 0.999,
    why: 'measured 0.99977',
    verify: { dims: { sequence: 512 }, fill: { sr: 16000, h: 0, c: 0 } },
  },
];

describe('test models, portable DequantizeLinear format: quantize, load and run in onnxruntime-node', () => {
  for (const c of QDQ_CASES) {
    const label = `${c.bits}-bit${c.symmetric ? ' symmetric' : ''}`;
    it(`${c.file} ${label}: ${c.why}`, async () => {
      const input = path.join(MODELS, c.file);
      const output = path.join(
        tmp,
        c.file.replace(/\.onnx$/, `.q${c.bits}${c.symmetric ? 's' : ''}.qdq.onnx`),
      );
      const plan = quantizeFile(input, output, 'qdq', { bits: c.bits, symmetric: Boolean(c.symmetric) });
      assert.ok(plan.tensors.length > 0);
      assert.deepEqual(plan.blockers, []);
      // The bounds were measured on the seed-1 batch (the "measured" figures in the case names).
      const v = await verifyModels(input, output, { ...c.verify, runs: 1, evaluationSamples: 1 });
      assert.ok(v.ok, v.error);
      assert.ok(v.minCosine >= c.minCosine, `min cosine ${v.minCosine} < ${c.minCosine}`);
      if (c.minSqnr !== undefined) {
        const worst = Math.min(...v.outputs.map((o) => o.sqnrDb));
        assert.ok(worst >= c.minSqnr, `SQNR ${worst} dB`);
      }
      assert.ok(v.candidate.bytes < v.original.bytes, 'the model got smaller');
      const out = openModel(output);
      try {
        const opset = out.index.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')!.version;
        assert.ok(opset >= (c.bits === 4 ? 21 : 13), `opset ${opset}`);
        if (c.bits === 4) assert.ok(out.index.irVersion >= 10);
        assert.ok(out.index.nodes.some((n) => n.opType === 'DequantizeLinear'));
      } finally {
        out.close();
      }
      if (c.file.includes('extdata'))
        assert.ok(fs.existsSync(`${output}.data`), 'external data kept external');
    });
  }
});
