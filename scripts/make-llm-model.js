#!/usr/bin/env node
// make-llm-model.js — writes a llama-style decoder with seeded random weights, shaped like an export of the
// ONNX Runtime GenAI model builder, for benchmarks and tests of big models (no download, no network).
//
// usage: node scripts/make-llm-model.js OUT.onnx [--params 1.1e9] [--dtype fp16|fp32] [--layers L]
//          [--hidden H] [--intermediate I] [--heads N] [--kv-heads N] [--vocab V] [--context C]
//          [--tied] [--seed S] [--check] [--dry-run]
//
// Graph (opset 17 + com.microsoft 1, IR 8):
//   inputs  input_ids int64 [batch_size, sequence_length], attention_mask int64 [batch_size,
//           total_sequence_length], past_key_values.N.key/value [batch_size, kv_heads, past_sequence_length,
//           head_size] (N = 0..L-1)
//   outputs logits [batch_size, sequence_length, vocab], present.N.key/value [batch_size, kv_heads,
//           total_sequence_length, head_size]
//   Gather(model.embed_tokens.weight [V, H]) -> L x { SimplifiedLayerNormalization (RMSNorm) -> q/k/v MatMul
//   -> com.microsoft GroupQueryAttention (GQA: kv_heads <= heads, rotary inside: do_rotary=1 with cos/sin
//   caches) -> o MatMul -> residual Add -> RMSNorm -> SwiGLU MLP (gate/up MatMul, x*sigmoid(x), Mul, down
//   MatMul) -> residual Add } -> RMSNorm -> lm_head MatMul [H, V] -> logits. `--tied` stores the embedding once:
//   the LM head reads it through a Transpose node (as exporters of tied embeddings do).
//   seqlens_k = ReduceSum(attention_mask) - 1 and total_sequence_length = Shape(attention_mask)[1], as
//   GenAI's builder computes them.
//
// Size: --params picks the hidden size (multiple of 256, head size 64, kv heads = heads / 8 or the next divisor below, intermediate
// 2.75 x hidden rounded up to 256) and the layer count (TinyLlama's ratio of 22 layers at hidden 2048 unless
// --layers is given); --params 1.1e9 gives TinyLlama-1.1B's shape (H 2048, 22 layers, I 5632, 32/4 heads,
// vocab 32000). Every weight matrix goes to OUT.onnx.data (external data, 4096-byte aligned offsets); the
// norms and the rotary caches stay in the model file. Weights are written as they are generated, 4 MB at a
// time (the model is never in memory), from a seeded generator per tensor: the same arguments write the same
// bytes on every run. --dry-run prints the shape (JSON) and writes nothing. --check loads the model in onnxruntime-node and runs one window with an empty past.
'use strict';
const fs = require('fs');
const path = require('path');
const { onnx } = require('onnx-proto');

const DT = onnx.TensorProto.DataType;
const ATTR = onnx.AttributeProto.AttributeType;

function parseArgs(argv) {
  const o = {
    out: undefined,
    params: undefined,
    dtype: 'fp16',
    layers: undefined,
    hidden: undefined,
    intermediate: undefined,
    heads: undefined,
    kvHeads: undefined,
    vocab: 32000,
    context: 2048,
    tied: false,
    seed: 1,
    check: false,
    dryRun: false,
  };
  const num = (name, v) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x <= 0) usage(`${name} needs a positive number, got ${v}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    switch (a) {
      case '--params':
        o.params = num(a, next());
        break;
      case '--dtype':
        o.dtype = next();
        if (!['fp16', 'fp32'].includes(o.dtype)) usage('--dtype is fp16 or fp32');
        break;
      case '--layers':
        o.layers = Math.round(num(a, next()));
        break;
      case '--hidden':
        o.hidden = Math.round(num(a, next()));
        break;
      case '--intermediate':
        o.intermediate = Math.round(num(a, next()));
        break;
      case '--heads':
        o.heads = Math.round(num(a, next()));
        break;
      case '--kv-heads':
        o.kvHeads = Math.round(num(a, next()));
        break;
      case '--vocab':
        o.vocab = Math.round(num(a, next()));
        break;
      case '--context':
        o.context = Math.round(num(a, next()));
        break;
      case '--seed':
        o.seed = Math.round(Number(next()));
        break;
      case '--tied':
        o.tied = true;
        break;
      case '--check':
        o.check = true;
        break;
      case '--dry-run':
        o.dryRun = true;
        break;
      default:
        if (a.startsWith('--') || o.out) usage(`unknown argument ${a}`);
        o.out = a;
    }
  }
  if (!o.out) usage('no output file');
  return o;
}

function usage(message) {
  console.error(`make-llm-model: ${message}`);
  console.error(
    'usage: make-llm-model.js OUT.onnx [--params N] [--dtype fp16|fp32] [--layers L] [--hidden H] ' +
      '[--intermediate I] [--heads N] [--kv-heads N] [--vocab V] [--context C] [--tied] [--seed S] [--check] [--dry-run]',
  );
  process.exit(2);
}

const roundUp = (x, m) => Math.ceil(x / m) * m;

/** The shape: what was given, the rest derived from --params (or TinyLlama-1.1B's shape). */
function shapeOf(o) {
  const derive = (H) => {
    const heads = o.heads ?? Math.max(1, Math.round(H / 64));
    const headSize = H / heads;
    let kvHeads = o.kvHeads ?? Math.max(1, Math.floor(heads / 8));
    while (!o.kvHeads && heads % kvHeads) kvHeads--;
    const I = o.intermediate ?? roundUp(2.75 * H, 256);
    const perLayer = 2 * H * H + 2 * H * kvHeads * headSize + 3 * H * I + 2 * H;
    const embed = o.vocab * H * (o.tied ? 1 : 2) + H;
    return { H, heads, headSize, kvHeads, I, perLayer, embed };
  };
  const params = (s, L) => s.embed + L * s.perLayer;
  let s;
  let L = o.layers;
  if (o.hidden) {
    s = derive(o.hidden);
    if (!L) L = o.params ? Math.max(1, Math.round((o.params - s.embed) / s.perLayer)) : 2;
  } else if (!o.params) {
    s = derive(256);
    L = L ?? 2;
  } else {
    let best;
    for (let H = 256; H <= 16384; H += 256) {
      const c = derive(H);
      const layers = L ?? Math.max(1, Math.round((o.params - c.embed) / c.perLayer));
      const miss = Math.abs(params(c, layers) - o.params) / o.params;
      // With free layers, prefer TinyLlama's depth-to-width ratio among the shapes within 3% of --params.
      const ratio = L ? 0 : Math.abs(Math.log(layers / H / (22 / 2048)));
      const score = L ? miss : (miss > 0.03 ? 10 + miss : 0) + ratio;
      if (!best || score < best.score) best = { score, s: c, layers };
    }
    s = best.s;
    L = best.layers;
  }
  if (!Number.isInteger(s.headSize) || s.headSize % 2)
    usage(`hidden ${s.H} is not heads x an even head size`);
  if (s.heads % s.kvHeads) usage(`heads ${s.heads} is not a multiple of kv heads ${s.kvHeads}`);
  return { ...s, L, params: params(s, L) };
}

/** mulberry32: a fast seeded generator, the same numbers on every machine. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed from the model seed and a tensor name. */
function seedOf(seed, name) {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** float32 -> IEEE half (round to nearest even), for values of normal range. */
function toHalf(x) {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = ((b >>> 23) & 0xff) - 127 + 15;
  const mant = b & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >>> (1 - exp);
    return sign | ((m + 0x1000 + ((m >>> 13) & 1) - 1) >>> 13);
  }
  if (exp >= 31) return sign | 0x7c00;
  let h = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return h;
}

/**
 * Values of one weight: a triangular distribution (sum of two uniforms) scaled to standard deviation
 * `std`, with every 97th output channel (last axis) 4x larger, like the outlier channels of trained models.
 */
function* weightChunks(name, count, cols, std, dtype, seed) {
  const next = rng(seedOf(seed, name));
  const k = std * Math.sqrt(6);
  const chunk = 1 << 20;
  for (let at = 0; at < count; at += chunk) {
    const n = Math.min(chunk, count - at);
    if (dtype === 'fp32') {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const col = (at + i) % cols;
        a[i] = (next() + next() - 1) * k * (col % 97 === 5 ? 4 : 1);
      }
      yield new Uint8Array(a.buffer);
    } else {
      const a = new Uint16Array(n);
      for (let i = 0; i < n; i++) {
        const col = (at + i) % cols;
        a[i] = toHalf((next() + next() - 1) * k * (col % 97 === 5 ? 4 : 1));
      }
      yield new Uint8Array(a.buffer);
    }
  }
}

function valueInfo(name, elemType, dims) {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim } } } });
}

function node(opType, inputs, outputs, name, attrs = {}, domain = '') {
  const attribute = Object.entries(attrs).map(([k, v]) => {
    if (Array.isArray(v)) return { name: k, type: ATTR.INTS, ints: v };
    if (Number.isInteger(v) && !(k === 'epsilon' || k === 'scale')) return { name: k, type: ATTR.INT, i: v };
    return { name: k, type: ATTR.FLOAT, f: v };
  });
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, name, attribute, domain });
}

function smallTensor(name, dims, dataType, bytes) {
  return onnx.TensorProto.create({ name, dims, dataType, rawData: Buffer.from(bytes) });
}

function floats(values, dtype) {
  if (dtype === 'fp32') return new Uint8Array(Float32Array.from(values).buffer);
  return new Uint8Array(Uint16Array.from(values, toHalf).buffer);
}

/** Writes OUT and OUT.data; returns the shape and the byte counts. */
function writeModel(o) {
  const s = shapeOf(o);
  const { H, heads, headSize, kvHeads, I, L } = s;
  const V = o.vocab;
  const elem = o.dtype === 'fp16' ? DT.FLOAT16 : DT.FLOAT;
  const width = o.dtype === 'fp16' ? 2 : 4;
  const out = path.resolve(o.out);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const dataName = `${path.basename(out)}.data`;
  const dataPath = path.join(path.dirname(out), dataName);
  const tmpData = `${dataPath}.tmp`;
  const fd = fs.openSync(tmpData, 'w');
  let offset = 0;
  const initializer = [];
  const nodes = [];
  /** A weight streamed into the data file at the next 4096-byte boundary. */
  const weight = (name, dims, std) => {
    const pad = (4096 - (offset % 4096)) % 4096;
    if (pad) fs.writeSync(fd, new Uint8Array(pad));
    offset += pad;
    const count = dims.reduce((a, b) => a * b, 1);
    const start = offset;
    for (const bytes of weightChunks(name, count, dims[dims.length - 1], std, o.dtype, o.seed)) {
      fs.writeSync(fd, bytes);
      offset += bytes.length;
    }
    initializer.push(
      onnx.TensorProto.create({
        name,
        dims,
        dataType: elem,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: dataName },
          { key: 'offset', value: String(start) },
          { key: 'length', value: String(count * width) },
        ],
      }),
    );
    return name;
  };
  const norm = (name) => {
    initializer.push(smallTensor(name, [H], elem, floats(new Array(H).fill(1), o.dtype)));
    return name;
  };

  // Rotary caches [context, headSize / 2] (theta 10000), read by GroupQueryAttention's do_rotary.
  const half = headSize / 2;
  const cos = [];
  const sin = [];
  for (let p = 0; p < o.context; p++)
    for (let j = 0; j < half; j++) {
      const angle = p / 10000 ** ((2 * j) / headSize);
      cos.push(Math.cos(angle));
      sin.push(Math.sin(angle));
    }
  initializer.push(smallTensor('cos_cache', [o.context, half], elem, floats(cos, o.dtype)));
  initializer.push(smallTensor('sin_cache', [o.context, half], elem, floats(sin, o.dtype)));
  const i64 = (name, values) =>
    initializer.push(
      smallTensor(
        name,
        [values.length],
        DT.INT64,
        new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
      ),
    );
  i64('axes_1', [1]);
  initializer.push(smallTensor('one_i64', [], DT.INT64, new Uint8Array(BigInt64Array.of(1n).buffer)));
  initializer.push(smallTensor('index_1', [], DT.INT64, new Uint8Array(BigInt64Array.of(1n).buffer)));

  // Attention mask -> what GroupQueryAttention takes.
  nodes.push(
    node('ReduceSum', ['attention_mask', 'axes_1'], ['mask_sum'], '/model/attn_mask_reformat/ReduceSum', {
      keepdims: 0,
    }),
    node('Sub', ['mask_sum', 'one_i64'], ['mask_sum_minus_1'], '/model/attn_mask_reformat/Sub'),
    node('Cast', ['mask_sum_minus_1'], ['seqlens_k'], '/model/attn_mask_reformat/Cast', { to: DT.INT32 }),
    node('Shape', ['attention_mask'], ['mask_shape'], '/model/attn_mask_reformat/Shape'),
    node('Gather', ['mask_shape', 'index_1'], ['total_len_i64'], '/model/attn_mask_reformat/Gather', {
      axis: 0,
    }),
    node('Cast', ['total_len_i64'], ['total_seq_len'], '/model/attn_mask_reformat/Cast_1', { to: DT.INT32 }),
  );

  const embed = weight('model.embed_tokens.weight', [V, H], 0.02);
  nodes.push(node('Gather', [embed, 'input_ids'], ['hidden_0'], '/model/embed_tokens/Gather', { axis: 0 }));
  let x = 'hidden_0';
  const inputs = [
    valueInfo('input_ids', DT.INT64, ['batch_size', 'sequence_length']),
    valueInfo('attention_mask', DT.INT64, ['batch_size', 'total_sequence_length']),
  ];
  const outputs = [valueInfo('logits', elem, ['batch_size', 'sequence_length', V])];
  const kvDim = kvHeads * headSize;
  for (let l = 0; l < L; l++) {
    const p = `/model/layers.${l}`;
    const w = `model.layers.${l}`;
    for (const kv of ['key', 'value']) {
      inputs.push(
        valueInfo(`past_key_values.${l}.${kv}`, elem, [
          'batch_size',
          kvHeads,
          'past_sequence_length',
          headSize,
        ]),
      );
      outputs.push(
        valueInfo(`present.${l}.${kv}`, elem, ['batch_size', kvHeads, 'total_sequence_length', headSize]),
      );
    }
    const ln1 = norm(`${w}.input_layernorm.weight`);
    nodes.push(
      node('SimplifiedLayerNormalization', [x, ln1], [`${p}/ln1`], `${p}/input_layernorm/LayerNorm`, {
        axis: -1,
        epsilon: 1e-5,
        stash_type: 1,
      }),
    );
    const std = 1 / Math.sqrt(H);
    for (const [n, cols] of [
      ['q', H],
      ['k', kvDim],
      ['v', kvDim],
    ]) {
      const wn = weight(`${w}.attn.${n}_proj.weight`, [H, cols], std);
      nodes.push(node('MatMul', [`${p}/ln1`, wn], [`${p}/${n}`], `${p}/attn/${n}_proj/MatMul`));
    }
    nodes.push(
      node(
        'GroupQueryAttention',
        [
          `${p}/q`,
          `${p}/k`,
          `${p}/v`,
          `past_key_values.${l}.key`,
          `past_key_values.${l}.value`,
          'seqlens_k',
          'total_seq_len',
          'cos_cache',
          'sin_cache',
        ],
        [`${p}/attn_out`, `present.${l}.key`, `present.${l}.value`],
        `${p}/attn/GroupQueryAttention`,
        {
          num_heads: heads,
          kv_num_heads: kvHeads,
          do_rotary: 1,
          rotary_interleaved: 0,
          scale: 1 / Math.sqrt(headSize),
        },
        'com.microsoft',
      ),
    );
    const wo = weight(`${w}.attn.o_proj.weight`, [H, H], std);
    nodes.push(node('MatMul', [`${p}/attn_out`, wo], [`${p}/o`], `${p}/attn/o_proj/MatMul`));
    nodes.push(node('Add', [x, `${p}/o`], [`${p}/res1`], `${p}/residual_add_1`));
    const ln2 = norm(`${w}.post_attention_layernorm.weight`);
    nodes.push(
      node(
        'SimplifiedLayerNormalization',
        [`${p}/res1`, ln2],
        [`${p}/ln2`],
        `${p}/post_attention_layernorm/LayerNorm`,
        { axis: -1, epsilon: 1e-5, stash_type: 1 },
      ),
    );
    const wg = weight(`${w}.mlp.gate_proj.weight`, [H, I], std);
    const wu = weight(`${w}.mlp.up_proj.weight`, [H, I], std);
    const wd = weight(`${w}.mlp.down_proj.weight`, [I, H], 1 / Math.sqrt(I));
    nodes.push(
      node('MatMul', [`${p}/ln2`, wg], [`${p}/gate`], `${p}/mlp/gate_proj/MatMul`),
      node('Sigmoid', [`${p}/gate`], [`${p}/gate_sig`], `${p}/mlp/act_fn/Sigmoid`),
      node('Mul', [`${p}/gate`, `${p}/gate_sig`], [`${p}/gate_act`], `${p}/mlp/act_fn/Mul`),
      node('MatMul', [`${p}/ln2`, wu], [`${p}/up`], `${p}/mlp/up_proj/MatMul`),
      node('Mul', [`${p}/gate_act`, `${p}/up`], [`${p}/swiglu`], `${p}/mlp/Mul`),
      node('MatMul', [`${p}/swiglu`, wd], [`${p}/down`], `${p}/mlp/down_proj/MatMul`),
      node('Add', [`${p}/res1`, `${p}/down`], [`${p}/out`], `${p}/residual_add_2`),
    );
    x = `${p}/out`;
  }
  const lnf = norm('model.norm.weight');
  nodes.push(
    node('SimplifiedLayerNormalization', [x, lnf], ['final_norm'], '/model/norm/LayerNorm', {
      axis: -1,
      epsilon: 1e-5,
      stash_type: 1,
    }),
  );
  let head;
  if (o.tied) {
    nodes.push(node('Transpose', [embed], ['lm_head_weight_t'], '/lm_head/Transpose', { perm: [1, 0] }));
    head = 'lm_head_weight_t';
  } else {
    // Scaled so that random logits spread over a few units, like a trained model's.
    head = weight('lm_head.weight', [H, V], 2 / Math.sqrt(H));
  }
  nodes.push(node('MatMul', ['final_norm', head], ['logits'], '/lm_head/MatMul'));
  fs.closeSync(fd);

  const graph = onnx.GraphProto.create({
    name: 'main_graph',
    input: inputs,
    output: outputs,
    initializer,
    node: nodes,
  });
  const m = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'big-shrink-make-llm-model',
    producerVersion: '1',
    docString: `Random-weight llama-style decoder: ${s.params} parameters, ${o.dtype}, ${L} layers, hidden ${H}, intermediate ${I}, heads ${heads}/${kvHeads}, vocab ${V}${o.tied ? ', tied embedding' : ''}, seed ${o.seed}.`,
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph,
  });
  const bytes = onnx.ModelProto.encode(m).finish();
  // Temporary names, then renames: a killed run leaves no half-written model.
  fs.writeFileSync(`${out}.tmp`, bytes);
  fs.renameSync(tmpData, dataPath);
  fs.renameSync(`${out}.tmp`, out);
  return { s, modelBytes: bytes.length, dataBytes: offset };
}

/** Runs one window of 8 tokens with an empty past; checks the shapes and that logits are finite. */
async function check(file, o, s) {
  process.env.ORT_DISABLE_TELEMETRY ??= '1'; // else ORT writes .ses and mat-debug-*.log into the temp folder
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  const S = 8;
  const feeds = {
    input_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: S }, (_, i) => BigInt((i * 7919) % o.vocab)),
      [1, S],
    ),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
  };
  const type = o.dtype === 'fp16' ? 'float16' : 'float32';
  for (let l = 0; l < s.L; l++)
    for (const kv of ['key', 'value'])
      feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor(
        type,
        o.dtype === 'fp16' ? new Uint16Array(0) : new Float32Array(0),
        [1, s.kvHeads, 0, s.headSize],
      );
  const t0 = Date.now();
  const out = await session.run(feeds);
  const logits = out.logits;
  if (logits.dims.join() !== [1, S, o.vocab].join()) throw new Error(`logits have shape [${logits.dims}]`);
  const present = out['present.0.key'];
  if (present.dims.join() !== [1, s.kvHeads, S, s.headSize].join())
    throw new Error(`present.0.key has shape [${present.dims}]`);
  const values = type === 'float32' ? logits.data : Array.from(logits.data.slice(0, 4096), (h) => h);
  for (const v of values) if (!Number.isFinite(v)) throw new Error('logits are not finite');
  await session.release();
  return `onnxruntime-node ran one window of ${S} tokens in ${Date.now() - t0} ms: logits [${logits.dims}]`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.dryRun) {
    const s = shapeOf(o);
    const width = o.dtype === 'fp16' ? 2 : 4;
    const sizes = { embed: o.vocab * s.H, mlp: s.H * s.I, attention: s.H * s.H };
    console.log(
      JSON.stringify({
        ...s,
        vocab: o.vocab,
        dtype: o.dtype,
        bytes: s.params * width,
        largestWeightBytes: Math.max(...Object.values(sizes)) * width,
      }),
    );
    return;
  }
  const t0 = Date.now();
  const { s, modelBytes, dataBytes } = writeModel(o);
  let line =
    `wrote ${o.out} (${modelBytes} bytes) and ${o.out}.data (${dataBytes} bytes) in ${((Date.now() - t0) / 1000).toFixed(1)} s: ` +
    `${s.params} parameters, ${o.dtype}, ${s.L} layers, hidden ${s.H}, intermediate ${s.I}, heads ${s.heads}/${s.kvHeads}, vocab ${o.vocab}${o.tied ? ', tied' : ''}`;
  if (o.check) line += `; ${await check(o.out, o, s)}`;
  console.log(line);
}

main().catch((e) => {
  console.error(`make-llm-model: ${e.message}`);
  process.exit(1);
});
