import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { matMulNBitsValues } from '../../src/core/quant/matMulNBitsValues';
import {
  type BlockwiseOptions,
  quantizeBlockwise,
  roundHalfAway,
} from '../../src/core/quant/quantizeBlockwise';
import { tensorValues } from '../../src/core/tensor/tensorValues';
import { collectValues, valuesOf } from '../../src/core/tensor/valueStream';
import { openModel } from '../../src/runtime/openModel';
import { normal, rng } from './tensorFixtures';
import { TEST_MODELS } from '../testModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ORACLE = path.join(REPO, 'test', 'oracle', 'quant_oracle.py');
const MODELS = TEST_MODELS;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-quant-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface OracleOut {
  b: Uint8Array;
  scales: Uint8Array;
  zp?: Uint8Array;
}

/** Runs the numpy oracle once for many weights (one python start-up, not one per case). */
function oracleBatch(
  jobs: { w: Float32Array; K: number; N: number; o: BlockwiseOptions; layout: 'KN' | 'NK' }[],
): OracleOut[] {
  const lines = jobs.map((j, i) => {
    const input = path.join(tmp, `w${i}.f32`);
    fs.writeFileSync(input, new Uint8Array(j.w.buffer, j.w.byteOffset, j.w.byteLength));
    const o = j.o;
    return [
      input,
      j.K,
      j.N,
      o.bits,
      o.blockSize,
      o.symmetric ? 1 : 0,
      o.scaleType,
      j.layout,
      path.join(tmp, `q${i}`),
    ].join(' ');
  });
  const list = path.join(tmp, 'jobs.txt');
  fs.writeFileSync(list, lines.join('\n'));
  execFileSync('/usr/bin/python3', [ORACLE, '--jobs', list]);
  return jobs.map((j, i) => {
    const read = (ext: string) => new Uint8Array(fs.readFileSync(path.join(tmp, `q${i}${ext}`)));
    return { b: read('.b'), scales: read('.scales'), zp: j.o.symmetric ? undefined : read('.zp') };
  });
}

function oracle(w: Float32Array, K: number, N: number, o: BlockwiseOptions, layout: 'KN' | 'NK'): OracleOut {
  return oracleBatch([{ w, K, N, o, layout }])[0];
}

/** Indices where two byte arrays differ (first few), for a readable failure. */
function diff(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  const at: number[] = [];
  for (let i = 0; i < a.length && at.length < 5; i++) if (a[i] !== b[i]) at.push(i);
  return at.map((i) => `[${i}] ${a[i]} vs ${b[i]}`).join(', ');
}

/** Random weights with the blocks an implementation gets wrong: zeros, one-signed, ties, exact halves. */
function weights(K: number, N: number, seed: number, layout: 'KN' | 'NK'): Float32Array {
  const random = rng(seed);
  const w = new Float32Array(K * N);
  for (let i = 0; i < w.length; i++) w[i] = normal(random) * 0.05;
  const set = (k: number, n: number, v: number) => {
    if (k < K && n < N) w[layout === 'KN' ? k * N + n : n * K + k] = v;
  };
  for (let k = 0; k < 16; k++) {
    set(k, 0, 0); // an all-zero block (scale 0)
    set(k, 1, 0.01 + k * 0.003); // all positive
    set(k, 2, -0.02 - k * 0.001); // all negative
    set(k, 3, k % 2 ? 0.5 : -0.5); // |max| == |min|: the tie picks min
    set(k, 4, k === 0 ? -8 : (k % 17) - 8 + 0.5); // scale 1 in symmetric 4-bit: exact halves
  }
  return w;
}

describe('quantizeBlockwise vs the numpy oracle of ORT formulas', () => {
  const shapes: [number, number][] = [
    [64, 8],
    [100, 7], // K not a multiple of any block size
    [257, 5],
  ];
  const cases: {
    name: string;
    o: BlockwiseOptions;
    layout: 'KN' | 'NK';
    K: number;
    N: number;
    w: Float32Array;
  }[] = [];
  for (const bits of [2, 4, 8] as const) {
    for (const blockSize of [16, 32, 64, 128]) {
      for (const symmetric of [false, true]) {
        for (const scaleType of ['float32', 'float16'] as const) {
          for (const layout of ['KN', 'NK'] as const) {
            shapes.forEach(([K, N], i) => {
              const o: BlockwiseOptions = { bits, blockSize, symmetric, scaleType };
              const name = `bits ${bits} block ${blockSize} ${symmetric ? 'sym' : 'asym'} ${scaleType} ${layout} K=${K} N=${N}`;
              cases.push({ name, o, layout, K, N, w: weights(K, N, bits * 1000 + blockSize + i, layout) });
            });
          }
        }
      }
    }
  }
  let refs: OracleOut[] = [];
  before(() => {
    refs = oracleBatch(cases);
  });
  let compared = 0;
  cases.forEach((c, i) => {
    it(c.name, () => {
      const ours = quantizeBlockwise(c.w, c.K, c.N, c.o, c.layout);
      const ref = refs[i];
      const scaleBytes = Uint8Array.from(ours.scaleBytes);
      assert.deepEqual(scaleBytes, ref.scales, `scales: ${diff(scaleBytes, ref.scales)}`);
      assert.deepEqual(ours.b, ref.b, `codes: ${diff(ours.b, ref.b)}`);
      if (c.o.symmetric) assert.equal(ours.zeroPoints, undefined);
      else assert.deepEqual(ours.zeroPoints, ref.zp, `zp: ${diff(ours.zeroPoints!, ref.zp!)}`);
      compared += ours.b.length + ours.scaleBytes.length;
    });
  });
  it('compared a meaningful number of bytes', () => assert.ok(compared > 100_000, String(compared)));
});

describe('quantizeBlockwise on a real weight', () => {
  it('tiny_bert MatMul weights: identical to the oracle, and dequantize close to the original', () => {
    const model = openModel(path.join(MODELS, 'tiny_bert_random_inline.onnx'));
    try {
      const targets = model.index.tensors.filter(
        (t) =>
          t.dims.length === 2 && t.consumers.some((c) => model.index.nodes[c.nodeId].opType === 'MatMul'),
      );
      assert.ok(targets.length >= 4, `found ${targets.length} MatMul weights`);
      for (const t of targets.slice(0, 4)) {
        const values = Float32Array.from(collectValues(tensorValues(t, model.source, model.resolveExternal)));
        const [K, N] = t.dims;
        for (const symmetric of [false, true]) {
          const o: BlockwiseOptions = { bits: 4, blockSize: 32, symmetric, scaleType: 'float32' };
          const ours = quantizeBlockwise(values, K, N, o);
          const ref = oracle(values, K, N, o, 'KN');
          assert.deepEqual(ours.b, ref.b, `${t.name}: ${diff(ours.b, ref.b)}`);
          assert.deepEqual(Uint8Array.from(ours.scaleBytes), ref.scales, t.name);
          if (!symmetric) assert.deepEqual(ours.zeroPoints, ref.zp, t.name);
          // The layout reads back through the independent MatMulNBits decoder: [N, K] order.
          const deq = collectValues(
            matMulNBitsValues(
              valuesOf(ours.b),
              Float64Array.from(ours.scales),
              ours.zeroPoints ? { kind: 'packed', bytes: ours.zeroPoints } : undefined,
              { K, N, bits: 4, blockSize: 32 },
            ),
          );
          let err = 0;
          let sig = 0;
          for (let n = 0; n < N; n++) {
            for (let k = 0; k < K; k++) {
              const v = values[k * N + n];
              err += (v - deq[n * K + k]) ** 2;
              sig += v * v;
            }
          }
          // Gaussian weights at 4 bits, block 32: ~20 dB; the energies the quantizer reports agree.
          const sqnr = 10 * Math.log10(sig / err);
          assert.ok(sqnr > 15, `${t.name} SQNR ${sqnr}`);
          assert.ok(Math.abs(10 * Math.log10(ours.signalEnergy / ours.errorEnergy) - sqnr) < 1e-3);
        }
      }
    } finally {
      model.close();
    }
  });
});

describe('quantizeBlockwise details', () => {
  it('roundHalfAway rounds halves away from zero', () => {
    assert.deepEqual([2.5, -2.5, 0.49999997, -0.5, 7.5].map(roundHalfAway), [3, -3, 0, -1, 8]);
  });
  it('K padding encodes 0.0 and zero-point slots past k_blocks hold the mid code', () => {
    const K = 20;
    const w = Float32Array.from({ length: K }, (_, i) => i - 3); // N = 1, two blocks of 16
    const q = quantizeBlockwise(w, K, 1, { bits: 4, blockSize: 16, symmetric: false, scaleType: 'float32' });
    const zp1 = q.zeroPoints![0] >> 4;
    assert.equal(zp1, 0, 'second block has only positive values: zp 0');
    for (let k = 4; k < 16; k++) assert.equal((q.b[8 + (k >> 1)] >> ((k & 1) * 4)) & 15, zp1);
    const odd = quantizeBlockwise(new Float32Array(16 * 3), 16 * 3, 1, {
      bits: 4,
      blockSize: 16,
      symmetric: false,
      scaleType: 'float32',
    });
    assert.equal(odd.zeroPoints![1] >> 4, 8);
  });
  it('symmetric scale is -m/8 and may be negative', () => {
    const w = Float32Array.from({ length: 16 }, (_, i) => (i === 3 ? 2 : -1));
    const q = quantizeBlockwise(w, 16, 1, { bits: 4, blockSize: 16, symmetric: true, scaleType: 'float32' });
    assert.equal(q.scales[0], -0.25);
    assert.equal(q.b[1] >> 4, 0); // 2 * -4 + 8
  });
});
