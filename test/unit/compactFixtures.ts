// Deterministic models for structural compaction, built with onnx-proto: MLP blocks and Conv pairs.
import { onnx } from 'onnx-proto';
import { floatTensor, INT64, valueInfo } from './modelFixtures';
import { normal, rng } from './tensorFixtures';

/** A tensor the test zeroes along `axis` at the removed units, to build the "zeroed instead" model. */
export interface UnitTensor {
  name: string;
  axis: number;
}

/** A fixture: the model bytes and, per compactable layer (its node name), the tensors that carry its units. */
export interface CompactFixture {
  bytes: Uint8Array;
  units: Record<string, UnitTensor[]>;
  /** Layers the finder must leave whole. */
  whole: string[];
}

const random = (seed: number) => {
  const r = rng(seed);
  return (n: number, scale: number, shift = 0) => Array.from({ length: n }, () => normal(r) * scale + shift);
};

const scalar = (name: string, v: number) => floatTensor(name, [], [v]);

/**
 * x[2,3,16] → four blocks with residuals: (1) MatMul+Add bias → Relu → MatMul+Add; (2) MatMul+Add → GELU
 * written out (0.5·x·(1+erf(x/√2))) → MatMul; (3) SwiGLU: gate and up MatMuls, x·sigmoid(x) · up → MatMul;
 * (4) MatMul → Relu → Reshape (constant [2,3,32]) → MatMul → y[2,3,8], which must be left whole. In block 1
 * a few units get a bias of -50: they never fire. Some intermediate shapes are declared (value_info).
 */
export function mlpFixture(): CompactFixture {
  const w = random(7);
  const bias1 = w(32, 0.1);
  for (const u of [3, 11, 20]) bias1[u] = -50;
  const nodes: onnx.INodeProto[] = [
    { opType: 'MatMul', input: ['x', 'up1'], output: ['u1'], name: 'up1_mm' },
    { opType: 'Add', input: ['u1', 'up1_b'], output: ['u1b'], name: 'up1_add' },
    { opType: 'Relu', input: ['u1b'], output: ['a1'], name: 'relu1' },
    { opType: 'MatMul', input: ['a1', 'down1'], output: ['d1'], name: 'down1_mm' },
    { opType: 'Add', input: ['d1', 'down1_b'], output: ['d1b'], name: 'down1_add' },
    { opType: 'Add', input: ['x', 'd1b'], output: ['h1'], name: 'res1' },

    { opType: 'MatMul', input: ['h1', 'up2'], output: ['u2'], name: 'up2_mm' },
    { opType: 'Add', input: ['u2', 'up2_b'], output: ['u2b'], name: 'up2_add' },
    { opType: 'Div', input: ['u2b', 'sqrt2'], output: ['g_div'], name: 'gelu_div' },
    { opType: 'Erf', input: ['g_div'], output: ['g_erf'], name: 'gelu_erf' },
    { opType: 'Add', input: ['g_erf', 'one'], output: ['g_add'], name: 'gelu_add' },
    { opType: 'Mul', input: ['u2b', 'g_add'], output: ['g_mul'], name: 'gelu_mul' },
    { opType: 'Mul', input: ['g_mul', 'half'], output: ['a2'], name: 'gelu_half' },
    { opType: 'MatMul', input: ['a2', 'down2'], output: ['d2'], name: 'down2_mm' },
    { opType: 'Add', input: ['h1', 'd2'], output: ['h2'], name: 'res2' },

    { opType: 'MatMul', input: ['h2', 'gate3'], output: ['g3'], name: 'gate3_mm' },
    { opType: 'MatMul', input: ['h2', 'up3'], output: ['u3'], name: 'up3_mm' },
    { opType: 'Sigmoid', input: ['g3'], output: ['s3'], name: 'sig3' },
    { opType: 'Mul', input: ['g3', 's3'], output: ['silu3'], name: 'silu3' },
    { opType: 'Mul', input: ['silu3', 'u3'], output: ['a3'], name: 'glu3' },
    { opType: 'MatMul', input: ['a3', 'down3'], output: ['d3'], name: 'down3_mm' },
    { opType: 'Add', input: ['h2', 'd3'], output: ['h3'], name: 'res3' },

    { opType: 'MatMul', input: ['h3', 'up4'], output: ['u4'], name: 'up4_mm' },
    { opType: 'Relu', input: ['u4'], output: ['a4'], name: 'relu4' },
    { opType: 'Reshape', input: ['a4', 'shape4'], output: ['r4'], name: 'reshape4' },
    { opType: 'MatMul', input: ['r4', 'down4'], output: ['y'], name: 'down4_mm' },
  ];
  const initializer = [
    floatTensor('up1', [16, 32], w(16 * 32, 0.25)),
    floatTensor('up1_b', [32], bias1),
    floatTensor('down1', [32, 16], w(32 * 16, 0.18)),
    floatTensor('down1_b', [16], w(16, 0.1)),
    floatTensor('up2', [16, 40], w(16 * 40, 0.25)),
    floatTensor('up2_b', [40], w(40, 0.1)),
    scalar('sqrt2', Math.SQRT2),
    scalar('one', 1),
    scalar('half', 0.5),
    floatTensor('down2', [40, 16], w(40 * 16, 0.16)),
    floatTensor('gate3', [16, 24], w(16 * 24, 0.25)),
    floatTensor('up3', [16, 24], w(16 * 24, 0.25)),
    floatTensor('down3', [24, 16], w(24 * 16, 0.2)),
    floatTensor('up4', [16, 32], w(16 * 32, 0.25)),
    {
      name: 'shape4',
      dims: [3],
      dataType: INT64,
      rawData: new Uint8Array(new BigInt64Array([2n, 3n, 32n]).buffer),
    },
    floatTensor('down4', [32, 8], w(32 * 8, 0.18)),
  ];
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'big-shrink tests',
    opsetImport: [{ version: 17 }],
    graph: {
      name: 'mlp_blocks',
      node: nodes,
      initializer,
      input: [valueInfo('x', [2, 3, 16])],
      output: [valueInfo('y', [2, 3, 8])],
      // Declared intermediate shapes, as shape inference leaves them: the hidden ones must go, d1 stays.
      valueInfo: [
        valueInfo('u1b', [2, 3, 32]),
        valueInfo('a1', [2, 3, 32]),
        valueInfo('a3', [2, 3, 24]),
        valueInfo('d1', [2, 3, 16]),
      ],
    },
  }).finish();
  return {
    bytes,
    units: {
      down1_mm: [
        { name: 'up1', axis: 1 },
        { name: 'up1_b', axis: 0 },
      ],
      down2_mm: [
        { name: 'up2', axis: 1 },
        { name: 'up2_b', axis: 0 },
      ],
      down3_mm: [
        { name: 'gate3', axis: 1 },
        { name: 'up3', axis: 1 },
      ],
    },
    whole: ['down4_mm'],
  };
}

/**
 * x[4,16] → Gemm (transB, bias) → Tanh → Gemm (bias) → y[4,8]; and x2[1,3,8,8] → Conv+bias →
 * BatchNormalization → Relu → Conv+bias → Relu → Conv 1×1 → y2[1,4,8,8].
 */
export function convGemmFixture(): CompactFixture {
  const w = random(11);
  const attr = (name: string, v: number | number[]): onnx.IAttributeProto =>
    Array.isArray(v) ? { name, type: 7, ints: v } : { name, type: 2, i: v };
  const nodes: onnx.INodeProto[] = [
    {
      opType: 'Gemm',
      input: ['x', 'g1', 'g1_c'],
      output: ['t1'],
      name: 'gemm1',
      attribute: [attr('transB', 1)],
    },
    { opType: 'Tanh', input: ['t1'], output: ['t1a'], name: 'tanh1' },
    { opType: 'Gemm', input: ['t1a', 'g2', 'g2_c'], output: ['y'], name: 'gemm2' },

    {
      opType: 'Conv',
      input: ['x2', 'c1', 'c1_b'],
      output: ['k1'],
      name: 'conv1',
      attribute: [attr('pads', [1, 1, 1, 1])],
    },
    {
      opType: 'BatchNormalization',
      input: ['k1', 'bn_s', 'bn_b', 'bn_m', 'bn_v'],
      output: ['k1n'],
      name: 'bn1',
    },
    { opType: 'Relu', input: ['k1n'], output: ['k1a'], name: 'crelu1' },
    {
      opType: 'Conv',
      input: ['k1a', 'c2', 'c2_b'],
      output: ['k2'],
      name: 'conv2',
      attribute: [attr('pads', [1, 1, 1, 1])],
    },
    { opType: 'Relu', input: ['k2'], output: ['k2a'], name: 'crelu2' },
    { opType: 'Conv', input: ['k2a', 'c3'], output: ['y2'], name: 'conv3' },
  ];
  const initializer = [
    floatTensor('g1', [24, 16], w(24 * 16, 0.25)),
    floatTensor('g1_c', [24], w(24, 0.1)),
    floatTensor('g2', [24, 8], w(24 * 8, 0.2)),
    floatTensor('g2_c', [8], w(8, 0.1)),
    floatTensor('c1', [8, 3, 3, 3], w(8 * 27, 0.2)),
    floatTensor('c1_b', [8], w(8, 0.1)),
    floatTensor('bn_s', [8], w(8, 0.2, 1)),
    floatTensor('bn_b', [8], w(8, 0.1)),
    floatTensor('bn_m', [8], w(8, 0.1)),
    floatTensor('bn_v', [8], w(8, 0.1, 1).map(Math.abs)),
    floatTensor('c2', [6, 8, 3, 3], w(6 * 72, 0.12)),
    floatTensor('c2_b', [6], w(6, 0.1)),
    floatTensor('c3', [4, 6, 1, 1], w(24, 0.4)),
  ];
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'big-shrink tests',
    opsetImport: [{ version: 17 }],
    graph: {
      name: 'conv_gemm',
      node: nodes,
      initializer,
      input: [valueInfo('x', [4, 16]), valueInfo('x2', [1, 3, 8, 8])],
      output: [valueInfo('y', [4, 8]), valueInfo('y2', [1, 4, 8, 8])],
    },
  }).finish();
  return {
    bytes,
    units: {
      gemm2: [
        { name: 'g1', axis: 0 },
        { name: 'g1_c', axis: 0 },
      ],
      conv2: [
        { name: 'c1', axis: 0 },
        { name: 'c1_b', axis: 0 },
        { name: 'bn_s', axis: 0 },
        { name: 'bn_b', axis: 0 },
        { name: 'bn_m', axis: 0 },
        { name: 'bn_v', axis: 0 },
      ],
      conv3: [
        { name: 'c2', axis: 0 },
        { name: 'c2_b', axis: 0 },
      ],
    },
    whole: [],
  };
}

/**
 * The model with the given units zeroed instead of removed: every tensor that carries a layer's units
 * gets zeros at the removed indices along its unit axis.
 */
export function zeroUnits(
  bytes: Uint8Array,
  units: Record<string, UnitTensor[]>,
  removed: Record<string, number[]>,
): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  for (const [layer, tensors] of Object.entries(units)) {
    const gone = removed[layer] ?? [];
    for (const u of tensors) {
      const t = model.graph!.initializer!.find((i) => i.name === u.name)!;
      const dims = t.dims!.map(Number);
      const raw = t.rawData!;
      const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const outer = dims.slice(0, u.axis).reduce((a, b) => a * b, 1);
      const inner = dims.slice(u.axis + 1).reduce((a, b) => a * b, 1);
      for (let o = 0; o < outer; o++)
        for (const k of gone)
          values.fill(0, (o * dims[u.axis] + k) * inner, (o * dims[u.axis] + k + 1) * inner);
      t.rawData = new Uint8Array(values.buffer);
    }
  }
  return onnx.ModelProto.encode(model).finish();
}

/**
 * x[2,8] → two blocks MatMul → Add bias → Relu → MatMul, whose biases are one deduplicated initializer
 * `bias` when `shared` (as optimizers leave equal tensors), or two equal ones `biasA`, `biasB` otherwise.
 */
export function sharedBiasFixture(shared: boolean): CompactFixture {
  const w = random(23);
  const bias = w(12, 0.1);
  const [a, b] = shared ? ['bias', 'bias'] : ['biasA', 'biasB'];
  const nodes: onnx.INodeProto[] = [
    { opType: 'MatMul', input: ['x', 'upA'], output: ['uA'], name: 'upA_mm' },
    { opType: 'Add', input: ['uA', a], output: ['ubA'], name: 'addA' },
    { opType: 'Relu', input: ['ubA'], output: ['rA'], name: 'reluA' },
    { opType: 'MatMul', input: ['rA', 'downA'], output: ['h'], name: 'downA_mm' },
    { opType: 'MatMul', input: ['h', 'upB'], output: ['uB'], name: 'upB_mm' },
    { opType: 'Add', input: ['uB', b], output: ['ubB'], name: 'addB' },
    { opType: 'Relu', input: ['ubB'], output: ['rB'], name: 'reluB' },
    { opType: 'MatMul', input: ['rB', 'downB'], output: ['y'], name: 'downB_mm' },
  ];
  const initializer = [
    floatTensor('upA', [8, 12], w(96, 0.3)),
    floatTensor('downA', [12, 8], w(96, 0.3)),
    floatTensor('upB', [8, 12], w(96, 0.3)),
    floatTensor('downB', [12, 8], w(96, 0.3)),
    ...(shared
      ? [floatTensor('bias', [12], bias)]
      : [floatTensor('biasA', [12], bias), floatTensor('biasB', [12], bias)]),
  ];
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ version: 17 }],
    graph: {
      name: 'shared_bias',
      node: nodes,
      initializer,
      input: [valueInfo('x', [2, 8])],
      output: [valueInfo('y', [2, 8])],
    },
  }).finish();
  return {
    bytes,
    units: {
      downA_mm: [
        { name: 'upA', axis: 1 },
        { name: 'biasA', axis: 0 },
      ],
      // The 8 values between downA and upB are units too (a linear pair: a zero unit passes on zero).
      upB_mm: [{ name: 'downA', axis: 1 }],
      downB_mm: [
        { name: 'upB', axis: 1 },
        { name: 'biasB', axis: 0 },
      ],
    },
    whole: [],
  };
}

/**
 * A wide MLP as the shrink choices need it: x[1,tokens,d] → `blocks` residual blocks x + down(relu(up(x) +
 * b_up)) + b_down → y. Units have a spread of strengths (up column and down row both scaled by 0.05 +
 * 0.95·z², as trained MLPs have many weak units and a few strong ones), so cutting the weakest costs little.
 */
export function wideMlpFixture(d = 32, h = 128, blocks = 2, tokens = 8): Uint8Array {
  const r = rng(15);
  const n = () => normal(r);
  const nodes: onnx.INodeProto[] = [];
  const initializer: onnx.ITensorProto[] = [];
  let x = 'x';
  for (let b = 0; b < blocks; b++) {
    const strength = Array.from({ length: h }, () => 0.05 + 0.95 * n() ** 2);
    const up: number[] = [];
    for (let i = 0; i < d; i++) for (let j = 0; j < h; j++) up.push((n() / Math.sqrt(d)) * strength[j]);
    const down: number[] = [];
    for (let j = 0; j < h; j++) for (let i = 0; i < d; i++) down.push((n() / Math.sqrt(h)) * strength[j]);
    initializer.push(
      floatTensor(`up${b}`, [d, h], up),
      floatTensor(
        `up${b}_b`,
        [h],
        Array.from({ length: h }, () => 0.02 * n()),
      ),
      floatTensor(`down${b}`, [h, d], down),
      floatTensor(
        `down${b}_b`,
        [d],
        Array.from({ length: d }, () => 0.02 * n()),
      ),
    );
    const out = b === blocks - 1 ? 'y' : `h${b}`;
    nodes.push(
      { opType: 'MatMul', input: [x, `up${b}`], output: [`u${b}`], name: `up${b}_mm` },
      { opType: 'Add', input: [`u${b}`, `up${b}_b`], output: [`ub${b}`], name: `up${b}_add` },
      { opType: 'Relu', input: [`ub${b}`], output: [`a${b}`], name: `act${b}` },
      { opType: 'MatMul', input: [`a${b}`, `down${b}`], output: [`d${b}`], name: `down${b}_mm` },
      { opType: 'Add', input: [`d${b}`, `down${b}_b`], output: [`db${b}`], name: `down${b}_add` },
      { opType: 'Add', input: [x, `db${b}`], output: [out], name: `res${b}` },
    );
    x = out;
  }
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'big-shrink tests',
    opsetImport: [{ version: 17 }],
    graph: {
      name: 'wide_mlp',
      node: nodes,
      initializer,
      input: [valueInfo('x', [1, tokens, d])],
      output: [valueInfo('y', [1, tokens, d])],
    },
  }).finish();
}

/** The hidden unit of dataOnlyUnitFixture that fires only when x[..., 0] passes DATA_ONLY_THRESHOLD. */
export const DATA_ONLY_UNIT = 5;
export const DATA_ONLY_THRESHOLD = 10;

/**
 * x[batch,8] → MatMul up [8,16] → Add bias → Relu → MatMul down [16,8] → y. Hidden unit DATA_ONLY_UNIT reads
 * only channel 0 (weight 1) with a bias of −DATA_ONLY_THRESHOLD: synthesized inputs (uniform in [−1, 1])
 * never make it fire, real inputs with x[..., 0] above the threshold do, and then its activation is
 * x[..., 0] − DATA_ONLY_THRESHOLD exactly.
 */
export function dataOnlyUnitFixture(): Uint8Array {
  const w = random(31);
  const up = w(8 * 16, 0.3);
  for (let k = 0; k < 8; k++) up[k * 16 + DATA_ONLY_UNIT] = k === 0 ? 1 : 0;
  const bias = w(16, 0.05, 0.2);
  bias[DATA_ONLY_UNIT] = -DATA_ONLY_THRESHOLD;
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'big-shrink tests',
    opsetImport: [{ version: 17 }],
    graph: {
      name: 'data_only_unit',
      node: [
        { opType: 'MatMul', input: ['x', 'up'], output: ['u'], name: 'up_mm' },
        { opType: 'Add', input: ['u', 'up_b'], output: ['ub'], name: 'up_add' },
        { opType: 'Relu', input: ['ub'], output: ['a'], name: 'relu' },
        { opType: 'MatMul', input: ['a', 'down'], output: ['y'], name: 'down_mm' },
      ],
      initializer: [
        floatTensor('up', [8, 16], up),
        floatTensor('up_b', [16], bias),
        floatTensor('down', [16, 8], w(16 * 8, 0.3)),
      ],
      input: [valueInfo('x', ['batch', 8])],
      output: [valueInfo('y', ['batch', 8])],
    },
  }).finish();
}

/** The attention head of attentionFixture whose value weights are zero: it adds nothing. */
export const SILENT_HEAD = 2;

/**
 * Self-attention with 4 heads of 4: x[1,4,16] → Q, K, V MatMuls → Reshape [1,4,4,4] (constant) →
 * Transpose (Q, V: [0,2,1,3]; K: [0,2,3,1]) → MatMul → Softmax → MatMul V → Transpose [0,2,1,3] →
 * Reshape [1,4,16] → MatMul out → y. `perm` replaces the merge Transpose's permutation (a graph that does
 * not show heads). The value columns of head SILENT_HEAD are zero.
 */
export function attentionFixture(perm = [0, 2, 1, 3]): Uint8Array {
  const w = random(41);
  const wv = w(16 * 16, 0.3);
  for (let k = 0; k < 16; k++) for (let d = 0; d < 4; d++) wv[k * 16 + SILENT_HEAD * 4 + d] = 0;
  const ints = (name: string, v: number[]): onnx.ITensorProto => ({
    name,
    dims: [v.length],
    dataType: INT64,
    rawData: new Uint8Array(new BigInt64Array(v.map(BigInt)).buffer),
  });
  const transpose = (input: string, output: string, p: number[]): onnx.INodeProto => ({
    opType: 'Transpose',
    input: [input],
    output: [output],
    name: `${output}_t`,
    attribute: [{ name: 'perm', type: 7, ints: p }],
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'big-shrink tests',
    opsetImport: [{ version: 17 }],
    graph: {
      name: 'attention',
      node: [
        { opType: 'MatMul', input: ['x', 'wq'], output: ['q'], name: 'q_mm' },
        { opType: 'MatMul', input: ['x', 'wk'], output: ['k'], name: 'k_mm' },
        { opType: 'MatMul', input: ['x', 'wv'], output: ['v'], name: 'v_mm' },
        { opType: 'Reshape', input: ['q', 'split'], output: ['qr'], name: 'q_split' },
        { opType: 'Reshape', input: ['k', 'split'], output: ['kr'], name: 'k_split' },
        { opType: 'Reshape', input: ['v', 'split'], output: ['vr'], name: 'v_split' },
        transpose('qr', 'qt', [0, 2, 1, 3]),
        transpose('kr', 'kt', [0, 2, 3, 1]),
        transpose('vr', 'vt', [0, 2, 1, 3]),
        { opType: 'MatMul', input: ['qt', 'kt'], output: ['s'], name: 'scores' },
        { opType: 'Softmax', input: ['s'], output: ['p'], name: 'softmax' },
        { opType: 'MatMul', input: ['p', 'vt'], output: ['c'], name: 'context' },
        transpose('c', 'ct', perm),
        { opType: 'Reshape', input: ['ct', 'merge'], output: ['cm'], name: 'merge_heads' },
        { opType: 'MatMul', input: ['cm', 'wo'], output: ['y'], name: 'out_mm' },
      ],
      initializer: [
        floatTensor('wq', [16, 16], w(256, 0.3)),
        floatTensor('wk', [16, 16], w(256, 0.3)),
        floatTensor('wv', [16, 16], wv),
        floatTensor('wo', [16, 16], w(256, 0.3)),
        ints('split', [1, 4, 4, 4]),
        ints('merge', [1, 4, 16]),
      ],
      input: [valueInfo('x', [1, 4, 16])],
      output: [valueInfo('y', [1, 4, 16])],
    },
  }).finish();
}
