#!/usr/bin/env node
// make-sample-model.js — writes the sample model that `npm start` opens and the e2e workspace holds,
// so users need no downloaded model (and the repository carries no binary).
//
// usage: node scripts/make-sample-model.js OUT.onnx [--check]
//        node scripts/make-sample-model.js OUT.onnx --megabytes N [--external] [--check]
//
// Default: "sample-mlp", a small image classifier built like real exports (IR 8, opset 17, ~75k
// parameters, ~300 KB), with the weight layouts Big Shrink must handle:
//   image [N,1,16,16] -> Conv 3x3/2 (+bias) -> Relu -> Flatten -> MatMul W1 [512,128] + Add b1
//   -> LayerNormalization (scale, bias) -> Relu -> Gemm transB=1 W2 [64,128] + bias (2:4 pruned)
//   -> Relu -> MatMul W3 [64,10] held by a Constant node + Add b3 -> logits -> Softmax -> probs
// Weights are seeded and heavy-tailed (Student-t, 3 degrees of freedom, scaled by 1/sqrt(fan_in)) with
// a few outlier output channels, like trained networks; the output is the same on every run.
//
// --megabytes N: a larger model for timings instead: a chain of [1024,1024] float32 layers (MatMul and
// Gemm transB=1, Laplace weights) totalling about N MB. --external puts every weight in OUT.data
// (external data, 4096-byte aligned offsets). --check loads the model in onnxruntime-node and runs it.
'use strict';
const fs = require('fs');
const path = require('path');
const { onnx } = require('onnx-proto');

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const ATTR = onnx.AttributeProto.AttributeType;

/** Seeded PRNG (mulberry32): the same model bytes on every machine. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  // Student-t with 3 degrees of freedom: normal / sqrt(chi2(3) / 3).
  const studentT = () => normal() / Math.sqrt((normal() ** 2 + normal() ** 2 + normal() ** 2) / 3);
  const laplace = () => (next() < 0.5 ? 1 : -1) * -Math.log(1 - next());
  return { next, normal, studentT, laplace };
}

/** Heavy-tailed weights of shape `dims`; `outAxis` channels listed in `outliers` are scaled up. */
function weights(r, dims, fanIn, { outAxis = 0, outliers = [], gain = 1 } = {}) {
  const n = dims.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  const scale = gain / Math.sqrt(fanIn);
  const inner = dims.slice(outAxis + 1).reduce((x, y) => x * y, 1);
  for (let i = 0; i < n; i++) {
    const ch = Math.floor(i / inner) % dims[outAxis];
    a[i] = r.studentT() * scale * (outliers.includes(ch) ? 6 : 1);
  }
  return a;
}

function tensor(name, dims, data, dataType = FLOAT) {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return onnx.TensorProto.create({ name, dims, dataType, rawData: bytes });
}

function valueInfo(name, dims) {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: FLOAT, shape: { dim } } } });
}

function node(opType, inputs, outputs, name, attrs = {}) {
  const attribute = Object.entries(attrs).map(([k, v]) => {
    if (v instanceof onnx.TensorProto) return { name: k, type: ATTR.TENSOR, t: v };
    if (Array.isArray(v)) return { name: k, type: ATTR.INTS, ints: v };
    if (Number.isInteger(v)) return { name: k, type: ATTR.INT, i: v };
    return { name: k, type: ATTR.FLOAT, f: v };
  });
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, name, attribute });
}

function model(graph, docString) {
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'big-shrink-sample',
    producerVersion: '1',
    docString,
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  });
}

/** The small classifier described at the top of this file. */
function sampleMlp() {
  const r = rng(20240611);
  const convW = weights(r, [8, 1, 3, 3], 9, { outliers: [5] });
  const convB = weights(r, [8], 8, { gain: 0.1 });
  const w1 = weights(r, [512, 128], 512, { outAxis: 1, outliers: [7, 93] });
  const b1 = weights(r, [128], 128, { gain: 0.1 });
  const lnScale = Float32Array.from({ length: 128 }, () => 1 + 0.1 * r.normal());
  const lnBias = Float32Array.from({ length: 128 }, () => 0.02 * r.normal());
  const w2 = weights(r, [64, 128], 128, { outliers: [11] });
  // 2:4 structured sparsity along the reduction axis (K = last axis of a transB=1 weight): in each
  // group of four, keep the two largest magnitudes.
  for (let g = 0; g < w2.length; g += 4) {
    const order = [0, 1, 2, 3].sort((x, y) => Math.abs(w2[g + x]) - Math.abs(w2[g + y]));
    w2[g + order[0]] = 0;
    w2[g + order[1]] = 0;
  }
  const b2 = weights(r, [64], 64, { gain: 0.1 });
  const w3 = weights(r, [64, 10], 64, { outAxis: 1 });
  const b3 = weights(r, [10], 10, { gain: 0.1 });

  const graph = onnx.GraphProto.create({
    name: 'sample_mlp',
    input: [valueInfo('image', ['N', 1, 16, 16])],
    output: [valueInfo('logits', ['N', 10]), valueInfo('probs', ['N', 10])],
    initializer: [
      tensor('conv.weight', [8, 1, 3, 3], convW),
      tensor('conv.bias', [8], convB),
      tensor('fc1.weight', [512, 128], w1),
      tensor('fc1.bias', [128], b1),
      tensor('norm.weight', [128], lnScale),
      tensor('norm.bias', [128], lnBias),
      tensor('fc2.weight', [64, 128], w2),
      tensor('fc2.bias', [64], b2),
      tensor('head.bias', [10], b3),
    ],
    node: [
      node('Conv', ['image', 'conv.weight', 'conv.bias'], ['conv_out'], 'conv', {
        kernel_shape: [3, 3],
        strides: [2, 2],
        pads: [1, 1, 1, 1],
      }),
      node('Relu', ['conv_out'], ['conv_act'], 'conv_relu'),
      node('Flatten', ['conv_act'], ['flat'], 'flatten', { axis: 1 }),
      node('MatMul', ['flat', 'fc1.weight'], ['fc1_mm'], 'fc1/MatMul'),
      node('Add', ['fc1_mm', 'fc1.bias'], ['fc1_out'], 'fc1/Add'),
      node('LayerNormalization', ['fc1_out', 'norm.weight', 'norm.bias'], ['norm_out'], 'norm', {
        axis: -1,
        epsilon: 1e-5,
      }),
      node('Relu', ['norm_out'], ['fc1_act'], 'fc1_relu'),
      node('Gemm', ['fc1_act', 'fc2.weight', 'fc2.bias'], ['fc2_out'], 'fc2/Gemm', { transB: 1 }),
      node('Relu', ['fc2_out'], ['fc2_act'], 'fc2_relu'),
      // Some exporters keep weights in Constant nodes instead of initializers.
      node('Constant', [], ['head.weight'], 'head.weight', { value: tensor('', [64, 10], w3) }),
      node('MatMul', ['fc2_act', 'head.weight'], ['head_mm'], 'head/MatMul'),
      node('Add', ['head_mm', 'head.bias'], ['logits'], 'head/Add'),
      node('Softmax', ['logits'], ['probs'], 'softmax', { axis: -1 }),
    ],
  });
  return model(
    graph,
    'Big Shrink sample: a small seeded image classifier (Conv, MatMul+Add, LayerNorm, Gemm transB=1, Constant weight).',
  );
}

/** A chain of square layers totalling about `megabytes` MB of float32 weights. */
function largeModel(megabytes, dataFile) {
  const r = rng(7);
  const D = 1024;
  const layerBytes = D * D * 4;
  const layers = Math.max(1, Math.round((megabytes * 1e6) / layerBytes));
  const initializer = [];
  const nodes = [];
  let x = 'input';
  let offset = 0;
  const chunks = [];
  for (let i = 0; i < layers; i++) {
    const w = new Float32Array(D * D);
    const s = 1 / Math.sqrt(D);
    for (let j = 0; j < w.length; j++) w[j] = r.laplace() * s;
    const name = `layers.${i}.weight`;
    const t = tensor(name, [D, D], w);
    if (dataFile) {
      const pad = (4096 - (offset % 4096)) % 4096;
      if (pad) chunks.push(Buffer.alloc(pad));
      offset += pad;
      chunks.push(Buffer.from(t.rawData));
      t.rawData = Buffer.alloc(0);
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [
        { key: 'location', value: path.basename(dataFile) },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(layerBytes) },
      ];
      offset += layerBytes;
    }
    initializer.push(t);
    const y = `h${i}`;
    if (i % 2 === 0) nodes.push(node('MatMul', [x, name], [y], `layers.${i}/MatMul`));
    else nodes.push(node('Gemm', [x, name], [y], `layers.${i}/Gemm`, { transB: 1 }));
    x = y;
  }
  nodes.push(node('Identity', [x], ['output'], 'output'));
  if (dataFile) fs.writeFileSync(dataFile, Buffer.concat(chunks));
  const graph = onnx.GraphProto.create({
    name: 'large_chain',
    input: [valueInfo('input', [1, D])],
    output: [valueInfo('output', [1, D])],
    initializer,
    node: nodes,
  });
  return model(graph, `Big Shrink timing model: ${layers} layers of [${D},${D}] float32.`);
}

async function check(file) {
  process.env.ORT_DISABLE_TELEMETRY ??= '1'; // else ORT writes .ses and mat-debug-*.log into the temp folder
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(file);
  const meta = session.inputNames.map((n) => n);
  const feeds = {};
  const r = rng(1);
  if (meta[0] === 'image') {
    feeds.image = new ort.Tensor(
      'float32',
      Float32Array.from({ length: 2 * 256 }, () => r.next()),
      [2, 1, 16, 16],
    );
  } else {
    feeds.input = new ort.Tensor(
      'float32',
      Float32Array.from({ length: 1024 }, () => r.normal()),
      [1, 1024],
    );
  }
  const out = await session.run(feeds);
  const first = out[session.outputNames[session.outputNames.length - 1]];
  const finite = Array.from(first.data).every(Number.isFinite);
  if (!finite) throw new Error(`${file}: onnxruntime-node produced non-finite outputs`);
  if (meta[0] === 'image') {
    const sum = Array.from(first.data.slice(0, 10)).reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-4) throw new Error(`${file}: probabilities sum to ${sum}`);
  }
  await session.release();
  return `onnxruntime-node ran it: ${session.outputNames.map((n) => `${n} [${out[n].dims}]`).join(', ')}`;
}

async function main() {
  const args = process.argv.slice(2);
  const out = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--megabytes');
  if (!out) {
    console.error('usage: make-sample-model.js OUT.onnx [--megabytes N [--external]] [--check]');
    process.exit(2);
  }
  const mbArg = args.indexOf('--megabytes');
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const m =
    mbArg >= 0
      ? largeModel(Number(args[mbArg + 1]), args.includes('--external') ? `${out}.data` : null)
      : sampleMlp();
  const bytes = onnx.ModelProto.encode(m).finish();
  // Write to a temporary name and rename: a killed run leaves no half-written model.
  fs.writeFileSync(`${out}.tmp`, bytes);
  fs.renameSync(`${out}.tmp`, out);
  let line = `wrote ${out} (${bytes.length} bytes)`;
  if (args.includes('--check')) line += `; ${await check(out)}`;
  console.log(line);
}

main().catch((e) => {
  console.error(`make-sample-model: ${e.message}`);
  process.exit(1);
});
