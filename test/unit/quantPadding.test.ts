// The padding of the last 4-bit block when K is not a multiple of the block size, settled against ORT.
// ORT's own quantizer (matmul_nbits_quantizer.py `qbits_block_quant` → MLAS `MlasQuantizeBlockwise` →
// `BlockwiseQuantizer::quantizeAndTranspose` in onnxruntime/core/mlas/lib/q4_dq.cpp) writes codes for the
// rows below K only, into a buffer numpy allocated with zeros: padding codes are 0, and zero-point slots past
// k_blocks hold 8 (MLAS fills its zero-point pair with kMid). Every writer of ours (round-to-nearest in JS
// and SIMD, both layouts, the clipping search, GPTQ) and the numpy oracle must write the same; and
// onnxruntime-node's MatMulNBits must give X · dequantize(W) over the real K, whatever the padding holds.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { quantizeDataAware } from '../../src/core/quant/dataAwareQuantize';
import {
  type BlockwiseOptions,
  type BlockwiseWeight,
  quantizeBlockwise,
} from '../../src/core/quant/quantizeBlockwise';
import { FLOAT, valueInfo } from './modelFixtures';
import { normal, rng } from './tensorFixtures';
import { loadOrt } from '../../src/runtime/loadOrt';

// Through loadOrt: its telemetry off, so no session leaves files in the temp folder.
const ort = loadOrt();

const REPO = path.resolve(__dirname, '..', '..', '..');
const ORACLE = path.join(REPO, 'test', 'oracle', 'quant_oracle.py');
const BLOCK = 32;
const M = 3;

/** Row-major [K, N] Gaussian weights (seeded). */
function weightKN(K: number, N: number, seed: number): Float32Array {
  const random = rng(seed);
  return Float32Array.from({ length: K * N }, () => normal(random) * 0.1);
}

/** [K, N] → [N, K]. */
function transpose(w: Float32Array, K: number, N: number): Float32Array {
  const t = new Float32Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) t[n * K + k] = w[k * N + n];
  return t;
}

/** Code of column n at position k (0 ≤ k < k_blocks · block) of a packed 4-bit weight. */
function code(q: BlockwiseWeight, n: number, k: number, kBlocks: number): number {
  const byte = q.b[n * kBlocks * (BLOCK / 2) + (k >> 1)];
  return (byte >> ((k & 1) * 4)) & 15;
}

/** Every padding code (k in [K, k_blocks · block)) of every column. */
function paddingCodes(q: BlockwiseWeight, K: number, N: number): number[] {
  const kBlocks = Math.ceil(K / BLOCK);
  const out: number[] = [];
  for (let n = 0; n < N; n++) for (let k = K; k < kBlocks * BLOCK; k++) out.push(code(q, n, k, kBlocks));
  return out;
}

/** The quantized weight as [K, N] float64, over the real K only: (code − zp) · scale. */
function dequantized(q: BlockwiseWeight, K: number, N: number, symmetric: boolean): Float64Array {
  const kBlocks = Math.ceil(K / BLOCK);
  const zpRow = Math.ceil(kBlocks / 2);
  const w = new Float64Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const kb = (k / BLOCK) | 0;
      const zp = symmetric ? 8 : (q.zeroPoints![n * zpRow + (kb >> 1)] >> ((kb & 1) * 4)) & 15;
      w[k * N + n] = (code(q, n, k, kBlocks) - zp) * q.scales[n * kBlocks + kb];
    }
  }
  return w;
}

/** A one-node MatMulNBits model (com.microsoft) Y = X · W with W's codes, scales and zero points. */
function matMulNBitsModel(q: BlockwiseWeight, K: number, N: number, b: Uint8Array): Uint8Array {
  const kBlocks = Math.ceil(K / BLOCK);
  const init: onnx.ITensorProto[] = [
    { name: 'B', dims: [N, kBlocks, BLOCK / 2], dataType: 2, rawData: b },
    {
      name: 'scales',
      dims: [N * kBlocks],
      dataType: FLOAT,
      rawData: new Uint8Array(Float32Array.from(q.scales).buffer),
    },
  ];
  const inputs = ['X', 'B', 'scales'];
  if (q.zeroPoints) {
    init.push({ name: 'zp', dims: [q.zeroPoints.length], dataType: 2, rawData: q.zeroPoints });
    inputs.push('zp');
  }
  const attr = (name: string, i: number): onnx.IAttributeProto => ({ name, type: 2, i });
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: {
      name: 'pad',
      node: [
        {
          opType: 'MatMulNBits',
          domain: 'com.microsoft',
          input: inputs,
          output: ['Y'],
          attribute: [
            attr('K', K),
            attr('N', N),
            attr('bits', 4),
            attr('block_size', BLOCK),
            attr('accuracy_level', 0),
          ],
        },
      ],
      initializer: init,
      input: [valueInfo('X', [M, K])],
      output: [valueInfo('Y', [M, N])],
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

async function runOrt(model: Uint8Array, x: Float32Array, K: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model);
  try {
    const out = await session.run({ X: new ort.Tensor('float32', x, [M, K]) });
    return out.Y.data as Float32Array;
  } finally {
    await session.release();
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-pad-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** quant_oracle.py's bytes for a [K, N] weight. */
function oracle(w: Float32Array, K: number, N: number, symmetric: boolean) {
  const input = path.join(tmp, `w${K}.f32`);
  const prefix = path.join(tmp, `q${K}${symmetric ? 's' : 'a'}`);
  fs.writeFileSync(input, new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  execFileSync('/usr/bin/python3', [
    ORACLE,
    input,
    `${K}`,
    `${N}`,
    '4',
    `${BLOCK}`,
    symmetric ? '1' : '0',
    'float32',
    'KN',
    prefix,
  ]);
  return {
    b: new Uint8Array(fs.readFileSync(`${prefix}.b`)),
    zp: symmetric ? undefined : new Uint8Array(fs.readFileSync(`${prefix}.zp`)),
  };
}

// K = 40: one full block and 8 of 32 (24 padding codes, whole bytes); K = 72: three blocks, so the last
// zero-point byte has an unused slot; K = 37: odd, the last real code shares its byte with padding.
for (const K of [40, 72, 37]) {
  for (const symmetric of [false, true]) {
    describe(`4-bit padding, K=${K} (block ${BLOCK}), ${symmetric ? 'symmetric' : 'asymmetric'}`, () => {
      const N = 5;
      const o: BlockwiseOptions = { bits: 4, blockSize: BLOCK, symmetric, scaleType: 'float32' };
      const w = weightKN(K, N, K * 7 + (symmetric ? 1 : 0));
      const random = rng(K);
      const xs = Float32Array.from({ length: 64 * K }, () => normal(random));
      const gram = new Float64Array(K * K);
      for (let r = 0; r < 64; r++)
        for (let i = 0; i < K; i++)
          for (let j = 0; j < K; j++) gram[i * K + j] += xs[r * K + i] * xs[r * K + j];
      const writers: [string, () => BlockwiseWeight | Promise<BlockwiseWeight>][] = [
        ['round-to-nearest, [K, N]', () => quantizeBlockwise(w, K, N, o, 'KN')],
        ['round-to-nearest, [N, K]', () => quantizeBlockwise(transpose(w, K, N), K, N, o, 'NK')],
        // A Gemm alpha other than 1 takes the JS loops instead of the SIMD kernels.
        ['round-to-nearest, JS loops, [K, N]', () => quantizeBlockwise(w, K, N, o, 'KN', 0.5)],
        [
          'round-to-nearest, JS loops, [N, K]',
          () => quantizeBlockwise(transpose(w, K, N), K, N, o, 'NK', 0.5),
        ],
        [
          'clipping search',
          async () => (await quantizeDataAware(w, K, N, o, 'KN', 1, gram, 'search')).weight,
        ],
        ['GPTQ', async () => (await quantizeDataAware(w, K, N, o, 'KN', 1, gram, 'gptq')).weight],
      ];
      for (const [name, quantize] of writers) {
        it(`${name}: padding codes are 0, as ORT's quantizer leaves them`, async () => {
          const q = await quantize();
          const pads = paddingCodes(q, K, N);
          assert.ok(pads.length >= N, 'there is padding to check');
          assert.deepEqual([...new Set(pads)], [0], `padding codes ${[...new Set(pads)].join(', ')}`);
          if (!symmetric && Math.ceil(K / BLOCK) % 2 === 1) {
            const zpRow = Math.ceil(Math.ceil(K / BLOCK) / 2);
            for (let n = 0; n < N; n++)
              assert.equal(q.zeroPoints![n * zpRow + zpRow - 1] >> 4, 8, 'unused zp slot');
          }
        });
      }
      it('the numpy oracle writes the same bytes as round-to-nearest', () => {
        const ours = quantizeBlockwise(w, K, N, o, 'KN');
        const ref = oracle(w, K, N, symmetric);
        assert.deepEqual(ours.b, ref.b);
        if (!symmetric) assert.deepEqual(ours.zeroPoints, ref.zp);
      });
      it('onnxruntime-node MatMulNBits gives X · dequantize(W), whatever the padding holds', async () => {
        const q = quantizeBlockwise(w, K, N, o, 'KN');
        const x = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37));
        const deq = dequantized(q, K, N, symmetric);
        const expected = new Float64Array(M * N);
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++)
            for (let k = 0; k < K; k++) expected[m * N + n] += x[m * K + k] * deq[k * N + n];
        const got = await runOrt(matMulNBitsModel(q, K, N, q.b), x, K);
        // Padding garbage (every padding code 15) must not change a thing: ORT reads codes below K only.
        const garbled = Uint8Array.from(q.b);
        const kBlocks = Math.ceil(K / BLOCK);
        for (let n = 0; n < N; n++) {
          for (let k = K; k < kBlocks * BLOCK; k++)
            garbled[n * kBlocks * (BLOCK / 2) + (k >> 1)] |= 15 << ((k & 1) * 4);
        }
        const withGarbage = await runOrt(matMulNBitsModel(q, K, N, garbled), x, K);
        for (let i = 0; i < expected.length; i++) {
          assert.ok(
            Math.abs(got[i] - expected[i]) <= 1e-5 * (1 + Math.abs(expected[i])),
            `Y[${i}] ${got[i]} vs ${expected[i]}`,
          );
          assert.equal(withGarbage[i], got[i], `Y[${i}] changed with padding garbage`);
        }
      });
    });
  }
}
