import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as OrtTypes from 'onnxruntime-node';
import { type QdqOptions, quantizeQdq, roundHalfEven } from '../../src/core/quant/quantizeQdq';
import { DataType } from '../../src/core/tensor/dataType';
import { decodeFloat16 } from '../../src/core/tensor/float16';
import { tensorValues } from '../../src/core/tensor/tensorValues';
import { collectValues } from '../../src/core/tensor/valueStream';
import { openModel } from '../../src/runtime/openModel';
import { quantizeQdqFile } from './quantizeFiles';
import { normal, rng } from './tensorFixtures';
import { loadOrt } from '../../src/runtime/loadOrt';

const ort = loadOrt();
const REPO = path.resolve(__dirname, '..', '..', '..');
const ORACLE = path.join(REPO, 'test', 'oracle', 'qdq_oracle.py');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-qdq-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Job {
  name: string;
  w: Float32Array;
  dims: number[];
  o: QdqOptions;
}

/** Runs the numpy oracle once for many weights. */
function oracleBatch(jobs: Job[]): { codes: Uint8Array; scales: Uint8Array; zp?: Uint8Array }[] {
  const lines = jobs.map((j, i) => {
    const input = path.join(tmp, `w${i}.f32`);
    fs.writeFileSync(input, new Uint8Array(j.w.buffer, j.w.byteOffset, j.w.byteLength));
    const o = j.o;
    return [
      input,
      j.dims.join(','),
      o.bits,
      o.symmetric ? 1 : 0,
      o.axis,
      o.blockSize,
      o.scaleType,
      path.join(tmp, `q${i}`),
    ].join(' ');
  });
  fs.writeFileSync(path.join(tmp, 'jobs.txt'), lines.join('\n'));
  execFileSync('/usr/bin/python3', [ORACLE, '--jobs', path.join(tmp, 'jobs.txt')]);
  return jobs.map((j, i) => {
    const read = (ext: string) => new Uint8Array(fs.readFileSync(path.join(tmp, `q${i}${ext}`)));
    return { codes: read('.codes'), scales: read('.scales'), zp: j.o.symmetric ? undefined : read('.zp') };
  });
}

function diff(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  const at: number[] = [];
  for (let i = 0; i < a.length && at.length < 5; i++) if (a[i] !== b[i]) at.push(i);
  return at.map((i) => `[${i}] ${a[i]} vs ${b[i]}`).join(', ');
}

/** Gaussian weights plus the groups implementations get wrong: all zero, one-signed, exact halves. */
function weights(count: number, seed: number, scale = 0.05): Float32Array {
  const random = rng(seed);
  const w = Float32Array.from({ length: count }, () => normal(random) * scale);
  for (let i = 0; i < Math.min(count, 40); i++) w[i] = 0;
  // Multiples of 0.5 with max 7: symmetric int4 scale 1, so w / scale hits exact halves (ties to even).
  for (let i = 40; i < Math.min(count, 200); i++) w[i] = ((i % 29) - 14) / 2;
  return w;
}

describe('quantizeQdq vs the numpy oracle (QuantizeLinear formulas, round half to even)', () => {
  const shapes: { dims: number[]; axis4: number; axis8: number; what: string }[] = [
    { dims: [100, 24], axis4: 0, axis8: 1, what: 'MatMul B [K, N], K not a multiple of the block' },
    { dims: [24, 100], axis4: 1, axis8: 0, what: 'Gemm transB=1 B [N, K]' },
    { dims: [8, 40, 3, 3], axis4: 1, axis8: 0, what: 'Conv W [O, I, 3, 3]' },
    { dims: [6, 20, 5], axis4: 1, axis8: 0, what: 'Conv1d W [O, I, 5]' },
  ];
  const jobs: Job[] = [];
  shapes.forEach((s, si) => {
    const count = s.dims.reduce((a, b) => a * b, 1);
    for (const bits of [4, 8] as const) {
      for (const symmetric of [false, true]) {
        for (const scaleType of ['float32', 'float16'] as const) {
          for (const blockSize of bits === 4 ? [16, 32, 64] : [0]) {
            const o: QdqOptions = {
              bits,
              symmetric,
              axis: bits === 4 ? s.axis4 : s.axis8,
              blockSize,
              scaleType,
            };
            const name = `${s.what}: ${bits}-bit ${symmetric ? 'sym' : 'asym'} ${scaleType} block ${blockSize}`;
            jobs.push({ name, dims: s.dims, o, w: weights(count, si * 100 + bits * 10 + blockSize) });
          }
        }
      }
    }
  });
  let refs: ReturnType<typeof oracleBatch> = [];
  before(() => {
    refs = oracleBatch(jobs);
  });
  let compared = 0;
  jobs.forEach((j, i) => {
    it(j.name, () => {
      const ours = quantizeQdq(j.w, j.dims, j.o);
      const ref = refs[i];
      assert.deepEqual(
        Uint8Array.from(ours.scaleBytes),
        ref.scales,
        `scales: ${diff(ours.scaleBytes, ref.scales)}`,
      );
      assert.deepEqual(ours.codes, ref.codes, `codes: ${diff(ours.codes, ref.codes)}`);
      if (j.o.symmetric) assert.equal(ours.zeroPoints, undefined);
      else assert.deepEqual(ours.zeroPoints, ref.zp, `zero points: ${diff(ours.zeroPoints!, ref.zp!)}`);
      assert.equal(
        ours.codeType,
        j.o.bits === 8 ? DataType.INT8 : j.o.symmetric ? DataType.INT4 : DataType.UINT4,
      );
      compared += ours.codes.length;
    });
  });
  it('compared a meaningful number of codes', () => assert.ok(compared > 50_000, String(compared)));
});

describe('quantizeQdq details', () => {
  it('roundHalfEven rounds ties to even', () => {
    assert.deepEqual(
      [2.5, 3.5, -2.5, -3.5, 0.5, -0.5, 1.4999999, 7.5].map(roundHalfEven),
      [2, 4, -2, -4, 0, -0, 1, 8],
    );
  });
  it('symmetric int4: scale = max|w| / 7, ties go to even codes, -8 is never used', () => {
    const w = Float32Array.from([7, -7, 2.5, 3.5, -2.5, -3.5, 0, 0.5, ...new Array(8).fill(0)]);
    const q = quantizeQdq(w, [16], {
      bits: 4,
      symmetric: true,
      axis: 0,
      blockSize: 16,
      scaleType: 'float32',
    });
    assert.deepEqual([...q.scales], [1]);
    const codes = Array.from({ length: 8 }, (_, i) => {
      const c = (q.codes[i >> 1] >> ((i & 1) * 4)) & 15;
      return c >= 8 ? c - 16 : c;
    });
    assert.deepEqual(codes, [7, -7, 2, 4, -2, -4, 0, 0]);
  });
  it('an all-zero group stores scale 1 and codes equal to the zero point', () => {
    const q = quantizeQdq(new Float32Array(32), [32], {
      bits: 4,
      symmetric: false,
      axis: 0,
      blockSize: 32,
      scaleType: 'float32',
    });
    assert.deepEqual([...q.scales], [1]);
    assert.deepEqual([...q.zeroPointValues], [0]);
    assert.ok(q.codes.every((b) => b === 0));
    assert.equal(q.errorEnergy, 0);
  });
  it('scale dims: blocked axis divided (rounded up), per-channel one per index', () => {
    const w = new Float32Array(8 * 40 * 9);
    assert.deepEqual(
      quantizeQdq(w, [8, 40, 3, 3], {
        bits: 4,
        symmetric: true,
        axis: 1,
        blockSize: 16,
        scaleType: 'float32',
      }).scaleDims,
      [8, 3, 3, 3],
    );
    assert.deepEqual(
      quantizeQdq(w, [8, 40, 3, 3], { bits: 8, symmetric: true, axis: 0, blockSize: 0, scaleType: 'float32' })
        .scaleDims,
      [8],
    );
  });
});

describe("onnxruntime's own QuantizeLinear agrees with our codes", () => {
  // QuantizeLinear -> DequantizeLinear in ORT with our scales and zero points: equal floats mean equal codes.
  const cases: { name: string; dims: number[]; o: QdqOptions }[] = [
    {
      name: 'uint4 blocked axis 0',
      dims: [100, 24],
      o: { bits: 4, symmetric: false, axis: 0, blockSize: 32, scaleType: 'float32' },
    },
    {
      name: 'int4 blocked axis 1 (Conv)',
      dims: [8, 40, 3, 3],
      o: { bits: 4, symmetric: true, axis: 1, blockSize: 16, scaleType: 'float32' },
    },
    {
      name: 'int8 per channel with zero point',
      dims: [24, 100],
      o: { bits: 8, symmetric: false, axis: 0, blockSize: 0, scaleType: 'float32' },
    },
    {
      name: 'int8 per channel symmetric',
      dims: [100, 24],
      o: { bits: 8, symmetric: true, axis: 1, blockSize: 0, scaleType: 'float32' },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const count = c.dims.reduce((a, b) => a * b, 1);
      const w = weights(count, 99);
      const q = quantizeQdq(w, c.dims, c.o);
      const file = path.join(tmp, `ql_${c.name.replace(/\W+/g, '_')}.onnx`);
      const dir = path.join(tmp, 'ql');
      fs.mkdirSync(dir, { recursive: true });
      const put = (n: string, b: Uint8Array) => fs.writeFileSync(path.join(dir, n), b);
      put('scale', q.scaleBytes);
      if (q.zeroPoints) put('zp', q.zeroPoints);
      execFileSync('/usr/bin/python3', [
        '-c',
        `
import sys, numpy as np, onnx
from onnx import helper as h, TensorProto as T
d, dims, sdims, ctype, axis, block, out = sys.argv[1], [int(x) for x in sys.argv[2].split(',')], [int(x) for x in sys.argv[3].split(',')], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
def t(name, dtype, dims, raw):
    x = onnx.TensorProto(); x.name = name; x.data_type = dtype; x.dims.extend(dims); x.raw_data = raw; return x
inits = [t('s', T.FLOAT, sdims, open(d + '/scale', 'rb').read())]
ins = ['x', 's']
import os
if os.path.exists(d + '/zp'):
    inits.append(t('z', ctype, sdims, open(d + '/zp', 'rb').read())); ins.append('z')
else:
    # No zero point: QuantizeLinear needs one to pick the output type; a zero one of the codes' type.
    n = int(np.prod(sdims)); raw = bytes((n + 1) // 2) if ctype in (21, 22) else bytes(n)
    inits.append(t('z', ctype, sdims, raw)); ins.append('z')
attrs = dict(axis=axis)
if block: attrs['block_size'] = block
nodes = [h.make_node('QuantizeLinear', ins, ['q'], **attrs), h.make_node('DequantizeLinear', ['q'] + ins[1:], ['y'], **attrs)]
g = h.make_graph(nodes, 'g', [h.make_tensor_value_info('x', T.FLOAT, dims)], [h.make_tensor_value_info('y', T.FLOAT, dims)], inits)
m = h.make_model(g, opset_imports=[h.make_opsetid('', 21)]); m.ir_version = 10
onnx.save(m, out)
`,
        dir,
        c.dims.join(','),
        (c.o.blockSize ? q.scaleDims : [c.dims[c.o.axis]]).join(','),
        String(q.codeType),
        String(c.o.axis),
        String(c.o.blockSize),
        file,
      ]);
      fs.rmSync(path.join(dir, 'zp'), { force: true });
      const s = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'disabled' });
      const y = (await s.run({ x: new ort.Tensor('float32', w, c.dims) })).y.data as Float32Array;
      await s.release();
      const groups = q.scales.length;
      // Our dequantized values, element by element (group index as in quantizeQdq).
      const size = c.dims[c.o.axis];
      const outer = c.dims.slice(0, c.o.axis).reduce((a, b) => a * b, 1);
      const inner = count / (outer * size);
      const nb = c.o.blockSize ? Math.ceil(size / c.o.blockSize) : size;
      let mismatches = 0;
      for (let i = 0; i < count; i++) {
        const o = Math.floor(i / (size * inner));
        const j = Math.floor(i / inner) % size;
        const r = i % inner;
        const g = c.o.blockSize ? (o * nb + Math.floor(j / c.o.blockSize)) * inner + r : j;
        assert.ok(g < groups);
        let code = c.o.bits === 4 ? (q.codes[i >> 1] >> ((i & 1) * 4)) & 15 : q.codes[i];
        if (q.codeType === DataType.INT4 && code >= 8) code -= 16;
        if (q.codeType === DataType.INT8 && code >= 128) code -= 256;
        const ours = Math.fround((code - q.zeroPointValues[g]) * q.scales[g]);
        if (ours !== y[i]) mismatches++;
      }
      assert.equal(mismatches, 0, `${mismatches} of ${count} codes differ from ORT's QuantizeLinear`);
    });
  }
});

const K = 100;
const N = 24;
const M = 3;

/**
 * A model with every target of the portable format: MatMul (weight shared by two MatMuls and an If branch),
 * a MatMul weight also read by a ReduceSum (the float weight must stay), Gemm transB=1 with alpha/beta and a
 * bias, Gemm transB=0 with a [M, N] C, Gemm transA=1, a weight in a Constant node, a branch-local weight,
 * an fp16 MatMul, and Conv 2-D (3x3, pads), grouped, 1-D and depthwise.
 */
const BUILD = `
import numpy as np, onnx, sys
from onnx import helper as h, TensorProto as T, numpy_helper as nh
K, N, M = ${K}, ${N}, ${M}
r = np.random.default_rng(11)
w = lambda *s: (r.standard_normal(s) * 0.1).astype(np.float32)
W1, W2, W3, W5, W6, W7, Wt = w(K, N), w(N, K), w(K, N), w(K, N), w(K, N), w(K, N), w(K, N)
W4 = w(K, N).astype(np.float16)
C2, C3 = w(N), w(M, N)
Wc, Wg, W1d, Wd = w(8, 40, 3, 3), w(8, 20, 3, 3), w(6, 40, 5), w(40, 1, 3, 3)
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
  h.make_node('MatMul', ['X', 'W6'], ['Y7'], name='mm_shared'),
  h.make_node('ReduceSum', ['W6'], ['Y8'], name='w6_sum', keepdims=0),
  h.make_node('Transpose', ['X'], ['XT'], perm=[1, 0]),
  h.make_node('Gemm', ['XT', 'W7'], ['Y9'], name='gemm_ta', transA=1),
  h.make_node('Conv', ['I', 'Wc'], ['Z1'], name='conv', pads=[1, 1, 1, 1]),
  h.make_node('Conv', ['I', 'Wg'], ['Z2'], name='conv_grouped', group=2),
  h.make_node('Conv', ['I1', 'W1d'], ['Z3'], name='conv1d', strides=[2]),
  h.make_node('Conv', ['I', 'Wd'], ['Z4'], name='conv_depthwise', group=40),
]
outs = [h.make_tensor_value_info(n, T.FLOAT16 if n == 'Y4' else T.FLOAT, None) for n in ['Y1', 'Y1b', 'Y2', 'Y3', 'Y4', 'Y5', 'Y6', 'Y7', 'Y8', 'Y9', 'Z1', 'Z2', 'Z3', 'Z4']]
g = h.make_graph(nodes, 'g', [h.make_tensor_value_info('X', T.FLOAT, [M, K]), h.make_tensor_value_info('cond', T.BOOL, []),
  h.make_tensor_value_info('I', T.FLOAT, [1, 40, 9, 9]), h.make_tensor_value_info('I1', T.FLOAT, [1, 40, 16])], outs,
  [nh.from_array(a, n) for a, n in [(W1, 'W1'), (W2, 'W2'), (W3, 'W3'), (W4, 'W4'), (W6, 'W6'), (W7, 'W7'), (C2, 'C2'), (C3, 'C3'), (Wc, 'Wc'), (Wg, 'Wg'), (W1d, 'W1d'), (Wd, 'Wd')]])
m = h.make_model(g, opset_imports=[h.make_opsetid('', 17)], ir_version=8)
onnx.save(m, sys.argv[1])
`;

function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < expected.length; i++) {
    e += (actual[i] - expected[i]) ** 2;
    s += expected[i] ** 2;
  }
  return Math.sqrt(e / s);
}

function numbers(t: OrtTypes.Tensor): Float64Array {
  return t.type === 'float16'
    ? Float64Array.from(decodeFloat16(t.data as Uint16Array))
    : Float64Array.from(t.data as Float32Array);
}

for (const variant of [
  { bits: 4 as const, symmetric: false, label: '4-bit uint4 + zero points, block 32' },
  { bits: 4 as const, symmetric: true, label: '4-bit int4 symmetric, block 16', blockSize: 16 },
  { bits: 8 as const, symmetric: false, label: '8-bit int8 per channel + zero points' },
  { bits: 8 as const, symmetric: true, label: '8-bit int8 per channel symmetric' },
]) {
  describe(`DequantizeLinear layout proof, ${variant.label} (onnxruntime-node)`, () => {
    const tag = `${variant.bits}${variant.symmetric ? 's' : 'a'}`;
    const original = path.join(tmp, `tiny_${tag}.onnx`);
    const quantized = path.join(tmp, `tiny_${tag}.qdq.onnx`);
    const dequantized = path.join(tmp, `tiny_${tag}.deq.onnx`);
    let plan: ReturnType<typeof quantizeQdqFile>;
    const feeds = () => ({
      X: new ort.Tensor(
        'float32',
        Float32Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37)),
        [M, K],
      ),
      cond: new ort.Tensor('bool', Uint8Array.from([1]), []),
      I: new ort.Tensor(
        'float32',
        Float32Array.from({ length: 40 * 81 }, (_, i) => Math.cos(i * 0.11)),
        [1, 40, 9, 9],
      ),
      I1: new ort.Tensor(
        'float32',
        Float32Array.from({ length: 40 * 16 }, (_, i) => Math.sin(i * 0.7)),
        [1, 40, 16],
      ),
    });
    const run = async (file: string, options: OrtTypes.InferenceSession.SessionOptions) => {
      const s = await ort.InferenceSession.create(file, options);
      try {
        return await s.run(feeds());
      } finally {
        await s.release();
      }
    };
    before(() => {
      execFileSync('/usr/bin/python3', ['-c', BUILD, original]);
      plan = quantizeQdqFile(original, quantized, {
        bits: variant.bits,
        symmetric: variant.symmetric,
        blockSize: variant.blockSize ?? 32,
      });
      // The float model with the weights dequantized by the numpy oracle from the codes in our file.
      execFileSync('/usr/bin/python3', [ORACLE, 'dequantize', quantized, dequantized]);
    });

    it('quantizes every target once, keeps a float weight another op still reads, raises the opset as needed', () => {
      const names = plan.tensors.map((t) => t.name).sort();
      const expected = ['W1', 'W1d', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'Wc', 'Wg', 'Wt'];
      // Depthwise [40, 1, 3, 3]: 4-bit blocks along its single input channel would not shrink it.
      if (variant.bits === 8) expected.push('Wd');
      assert.deepEqual(names, expected.sort());
      assert.equal(plan.tensors.find((t) => t.name === 'W6')?.removed, false);
      const model = openModel(quantized);
      try {
        const dq = model.index.nodes.filter((n) => n.opType === 'DequantizeLinear');
        assert.equal(dq.length, expected.length);
        assert.ok(
          model.index.tensors.some((t) => t.name === 'W6'),
          'W6 stays for the ReduceSum',
        );
        const shared = model.index.nodes.find((n) => n.name === 'mm_shared')!;
        assert.equal(shared.inputs[1], 'W6_dequantized');
        assert.ok(
          !model.index.tensors.some((t) => t.name === 'W1' || t.name === 'W5'),
          'float weights removed',
        );
        const opset = model.index.opsets.find((o) => o.domain === '')!.version;
        assert.equal(opset, variant.bits === 4 ? 21 : 19, 'int4 needs 21; fp16 scales of int8 need 19');
        assert.equal(model.index.irVersion, variant.bits === 4 ? 10 : 9);
        // Blocks run along the reduction axis (4-bit), scales along the output channels (8-bit).
        const axes = Object.fromEntries(
          dq.map((n) => [n.outputs[0], n.attributes.find((a) => a.name === 'axis')?.i]),
        );
        const four = variant.bits === 4;
        assert.deepEqual(
          [axes.W1, axes.W2, axes.W3, axes.W7, axes.Wc, axes.Wg, axes.W1d],
          four ? [0, 1, 0, 0, 1, 1, 1] : [1, 0, 1, 1, 0, 0, 0],
        );
        for (const n of dq) {
          const block = n.attributes.find((a) => a.name === 'block_size')?.i;
          assert.equal(block, four ? (variant.blockSize ?? 32) : undefined, n.name);
        }
        const scaleDims = (name: string) => model.index.tensors.find((t) => t.name === `${name}_scale`)!.dims;
        const b = variant.blockSize ?? 32;
        assert.deepEqual(scaleDims('Wc'), four ? [8, Math.ceil(40 / b), 3, 3] : [8]);
        assert.deepEqual(scaleDims('W2'), four ? [N, Math.ceil(K / b)] : [N]);
        const codes = model.index.tensors.find((t) => t.name === 'Wc_quantized')!;
        assert.equal(
          codes.dtype,
          variant.bits === 8 ? DataType.INT8 : variant.symmetric ? DataType.INT4 : DataType.UINT4,
        );
      } finally {
        model.close();
      }
    });

    it('codes, scales and zero points in the file are bit-identical to the numpy oracle', () => {
      const src = openModel(original);
      const out = openModel(quantized);
      try {
        const jobs: Job[] = [];
        const stored: { codes: Uint8Array; scales: Uint8Array; zp?: Uint8Array }[] = [];
        const raw = (name: string) => {
          const t = out.index.tensors.find((x) => x.name === name);
          assert.ok(t && t.payload.kind === 'raw', name);
          // A copy: the source may hand out a view of a reused (Buffer) scratch, where slice() is a view too.
          return Uint8Array.from(out.source.read(t.payload.offset, t.payload.length));
        };
        for (const row of plan.tensors) {
          const t = src.index.tensors.find((x) => x.name === row.name)!;
          const w = Float32Array.from(collectValues(tensorValues(t, src.source, src.resolveExternal)));
          const dq = out.index.nodes.find(
            (n) => n.opType === 'DequantizeLinear' && n.inputs[0] === `${row.name}_quantized`,
          )!;
          const attr = (k: string) => dq.attributes.find((a) => a.name === k)?.i ?? 0;
          jobs.push({
            name: row.name,
            w,
            dims: t.dims,
            o: {
              bits: variant.bits,
              symmetric: variant.symmetric,
              axis: attr('axis'),
              blockSize: attr('block_size'),
              scaleType: t.dtype === DataType.FLOAT16 ? 'float16' : 'float32',
            },
          });
          stored.push({
            codes: raw(dq.inputs[0]),
            scales: raw(dq.inputs[1]),
            zp: dq.inputs[2] ? raw(dq.inputs[2]) : undefined,
          });
        }
        const refs = oracleBatch(jobs);
        jobs.forEach((j, i) => {
          assert.deepEqual(
            stored[i].codes,
            refs[i].codes,
            `${j.name} codes: ${diff(stored[i].codes, refs[i].codes)}`,
          );
          assert.deepEqual(stored[i].scales, refs[i].scales, `${j.name} scales`);
          assert.deepEqual(stored[i].zp, refs[i].zp, `${j.name} zero points`);
        });
      } finally {
        src.close();
        out.close();
      }
    });

    for (const [label, options] of [
      ['no graph optimizations (DequantizeLinear as written)', { graphOptimizationLevel: 'disabled' }],
      [
        'all optimizations, DQ→MatMul fused to MatMulNBits with float activations',
        { graphOptimizationLevel: 'all', extra: { session: { qdq_matmulnbits_accuracy_level: '0' } } },
      ],
    ] as const) {
      it(`ORT output = the float model with oracle-dequantized weights, rel err ≤ 1e-4: ${label}`, async () => {
        const ours = await run(quantized, options as OrtTypes.InferenceSession.SessionOptions);
        const ref = await run(dequantized, options as OrtTypes.InferenceSession.SessionOptions);
        for (const name of Object.keys(ref)) {
          const e = relErr(numbers(ours[name]), numbers(ref[name]));
          // fp16 outputs round to 2^-11 relative: the two models may sum in different orders.
          assert.ok(e <= (name === 'Y4' ? 2e-3 : 1e-4), `${name}: rel err ${e}`);
        }
      });
    }

    it('every output stays close to the original float model', async () => {
      const ours = await run(quantized, {});
      const ref = await run(original, {});
      for (const name of Object.keys(ref)) {
        const a = numbers(ref[name]);
        const b = numbers(ours[name]);
        let dot = 0;
        let na = 0;
        let nb = 0;
        for (let i = 0; i < a.length; i++) {
          dot += a[i] * b[i];
          na += a[i] ** 2;
          nb += b[i] ** 2;
        }
        const cos = dot / Math.sqrt(na * nb);
        // σ=0.1 Gaussian weights: 4-bit ≈ 0.995, 8-bit ≈ 0.99998; a wrong axis or layout drops below 0.9.
        assert.ok(cos > (variant.bits === 4 ? 0.99 : 0.9999), `${name} cosine ${cos}`);
      }
    });
  });
}
