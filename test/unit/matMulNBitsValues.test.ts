import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FormatError } from '../../src/core/errors';
import { matMulNBitsValues, type MatMulNBitsZeroPoints } from '../../src/core/quant/matMulNBitsValues';
import { computeStats } from '../../src/core/stats/computeStats';
import { DataType } from '../../src/core/tensor/dataType';
import { tensorValues } from '../../src/core/tensor/tensorValues';
import { valuesOf } from '../../src/core/tensor/valueStream';
import { noExternal, rawPart, rng, streamToArray } from './tensorFixtures';

/** Write `bits`-bit codes into a byte array as one little-endian bit stream (code i at bit i*bits). */
function packBits(codes: number[], bits: number, bytes: number): number[] {
  const out = new Array<number>(bytes).fill(0);
  codes.forEach((code, i) => {
    for (let b = 0; b < bits; b++) {
      const bit = i * bits + b;
      if ((code >> b) & 1) out[bit >> 3] |= 1 << (bit & 7);
    }
  });
  return out;
}

interface Case {
  K: number;
  N: number;
  bits: number;
  blockSize: number;
  zp: 'none' | 'packed' | 'float';
}

function build(c: Case, seed: number) {
  const random = rng(seed);
  const levels = 1 << c.bits;
  const kBlocks = Math.ceil(c.K / c.blockSize);
  // q[n][k] over the padded K; the padding codes are random too, so dropping them is checked.
  const q = Array.from({ length: c.N }, () =>
    Array.from({ length: kBlocks * c.blockSize }, () => Math.floor(random() * levels)),
  );
  const scales = Float64Array.from({ length: c.N * kBlocks }, () => (random() - 0.3) * 0.1);
  const zpCodes = Array.from({ length: c.N * kBlocks }, () => Math.floor(random() * levels));
  const zpFloat = Float64Array.from({ length: c.N * kBlocks }, () => random() * levels);
  const blob = (c.blockSize * c.bits) / 8;
  const b: number[] = [];
  for (let n = 0; n < c.N; n++)
    for (let kb = 0; kb < kBlocks; kb++)
      b.push(...packBits(q[n].slice(kb * c.blockSize, (kb + 1) * c.blockSize), c.bits, blob));
  const zpRow = Math.ceil((kBlocks * c.bits) / 8);
  let zeroPoints: MatMulNBitsZeroPoints | undefined;
  if (c.zp === 'packed') {
    const bytes: number[] = [];
    for (let n = 0; n < c.N; n++)
      bytes.push(...packBits(zpCodes.slice(n * kBlocks, (n + 1) * kBlocks), c.bits, zpRow));
    zeroPoints = { kind: 'packed', bytes: Uint8Array.from(bytes) };
  } else if (c.zp === 'float') zeroPoints = { kind: 'float', values: zpFloat };
  const expected: number[] = [];
  for (let n = 0; n < c.N; n++) {
    for (let k = 0; k < c.K; k++) {
      const s = n * kBlocks + Math.floor(k / c.blockSize);
      const zero = c.zp === 'packed' ? zpCodes[s] : c.zp === 'float' ? zpFloat[s] : levels / 2;
      expected.push((q[n][k] - zero) * scales[s]);
    }
  }
  return { b, scales, zeroPoints, expected };
}

describe('matMulNBitsValues', () => {
  const cases: Case[] = [];
  for (const bits of [2, 4, 8])
    for (const zp of ['none', 'packed', 'float'] as const)
      cases.push({ K: 45, N: 3, bits, blockSize: 16, zp });
  cases.push({ K: 64, N: 5, bits: 4, blockSize: 32, zp: 'packed' });
  cases.push({ K: 100, N: 2, bits: 4, blockSize: 16, zp: 'packed' }); // 7 blocks: an odd count of packed zero points
  cases.push({ K: 33, N: 1, bits: 2, blockSize: 16, zp: 'packed' }); // 3 blocks of 2 bits in one zero-point byte

  for (const [i, c] of cases.entries()) {
    it(`bits ${c.bits}, K ${c.K}, N ${c.N}, block ${c.blockSize}, zero points ${c.zp}`, () => {
      const { b, scales, zeroPoints, expected } = build(c, 100 + i);
      for (const chunk of [8, 40, 1 << 20]) {
        const { part, source } = rawPart(
          DataType.UINT8,
          [c.N, Math.ceil(c.K / c.blockSize), (c.blockSize * c.bits) / 8],
          b,
        );
        const w = matMulNBitsValues(
          tensorValues(part, source, noExternal, { chunkElements: chunk }),
          scales,
          zeroPoints,
          c,
        );
        assert.equal(w.count, c.N * c.K);
        assert.deepEqual(w.layout, { dims: [c.N, c.K], reductionAxis: 1, channelAxis: 0 });
        const got = streamToArray(w);
        assert.equal(got.length, expected.length);
        got.forEach((v, j) =>
          assert.ok(Math.abs(v - expected[j]) <= 1e-15, `chunk ${chunk} [${j}] ${v} vs ${expected[j]}`),
        );
      }
    });
  }

  it('hand-checked 4-bit row with the default zero point 8', () => {
    // K = 16, one block: codes 0..15 packed low nibble first; scale 0.5 -> (q - 8) * 0.5.
    const b = Array.from({ length: 8 }, (_, i) => (2 * i) | ((2 * i + 1) << 4));
    const w = matMulNBitsValues(valuesOf(b), Float64Array.of(0.5), undefined, {
      K: 16,
      N: 1,
      bits: 4,
      blockSize: 16,
    });
    assert.deepEqual(
      streamToArray(w),
      Array.from({ length: 16 }, (_, q) => (q - 8) * 0.5),
    );
    const stats = computeStats(w, { layout: w.layout });
    assert.equal(stats.min, -4);
    assert.equal(stats.max, 3.5);
    assert.equal(stats.zeros, 1);
  });

  it('refuses inputs that do not fit the attributes', () => {
    const b = valuesOf(new Array(16).fill(0));
    const p = { K: 32, N: 1, bits: 4, blockSize: 32 };
    const fails = (f: () => unknown, re: RegExp) =>
      assert.throws(f, (e: unknown) => e instanceof FormatError && re.test(e.message));
    fails(
      () => matMulNBitsValues(b, Float64Array.of(1), undefined, { ...p, bits: 3 }),
      /bits must be 2, 4 or 8/,
    );
    fails(() => matMulNBitsValues(b, Float64Array.of(1, 2), undefined, p), /scales hold 2 values/);
    fails(
      () => matMulNBitsValues(valuesOf(new Array(15).fill(0)), Float64Array.of(1), undefined, p),
      /B holds 15 bytes/,
    );
    fails(
      () => matMulNBitsValues(b, Float64Array.of(1), { kind: 'packed', bytes: new Uint8Array(2) }, p),
      /zero points hold 2 bytes/,
    );
    fails(
      () => matMulNBitsValues(b, Float64Array.of(1), { kind: 'float', values: new Float64Array(2) }, p),
      /zero points hold 2 values/,
    );
    fails(() => matMulNBitsValues(b, Float64Array.of(1), undefined, { ...p, K: 0 }), /positive/);
    fails(() => matMulNBitsValues(b, Float64Array.of(1), undefined, { ...p, blockSize: 3 }), /whole bytes/);
  });
});
