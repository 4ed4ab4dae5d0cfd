import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FormatError } from '../../src/core/errors';
import {
  dequantizeLinearValues,
  type DequantizeLinearParams,
} from '../../src/core/quant/dequantizeLinearValues';
import { DataType } from '../../src/core/tensor/dataType';
import { tensorValues } from '../../src/core/tensor/tensorValues';
import { valuesOf } from '../../src/core/tensor/valueStream';
import { noExternal, rawPart, rng, streamToArray } from './tensorFixtures';

function unravel(index: number, dims: number[]): number[] {
  const coords = new Array<number>(dims.length);
  for (let a = dims.length - 1; a >= 0; a--) {
    coords[a] = index % dims[a];
    index = Math.floor(index / dims[a]);
  }
  return coords;
}

function ravel(coords: number[], dims: number[]): number {
  return coords.reduce((acc, c, a) => acc * dims[a] + c, 0);
}

/** The ONNX definition, element by element: look up the scale by coordinates. */
function reference(x: number[], p: DequantizeLinearParams): number[] {
  const rank = p.dims.length;
  const axis = ((p.axis ?? 1) + rank) % rank;
  return x.map((q, i) => {
    let s: number;
    if (p.scale.length === 1 && !p.blockSize) s = 0;
    else {
      const c = unravel(i, p.dims);
      if (p.blockSize) {
        c[axis] = Math.floor(c[axis] / p.blockSize);
        s = ravel(c, p.scaleDims);
      } else s = c[axis];
    }
    return (q - (p.zeroPoint?.[s] ?? 0)) * p.scale[s];
  });
}

function randomCodes(count: number, lo: number, hi: number, seed: number): number[] {
  const random = rng(seed);
  return Array.from({ length: count }, () => lo + Math.floor(random() * (hi - lo + 1)));
}

function check(x: number[], p: DequantizeLinearParams): void {
  const expected = reference(x, p);
  for (const chunk of [8, 16, 1 << 20]) {
    const got = streamToArray(dequantizeLinearValues(valuesOf(x, chunk), p));
    assert.equal(got.length, expected.length);
    got.forEach((v, i) =>
      assert.ok(
        Math.abs(v - expected[i]) <= 1e-12 * Math.abs(expected[i]),
        `chunk ${chunk} [${i}] ${v} vs ${expected[i]}`,
      ),
    );
  }
}

describe('dequantizeLinearValues', () => {
  it('per tensor, with and without a zero point', () => {
    const x = randomCodes(50, -128, 127, 1);
    check(x, { dims: [5, 10], scale: Float64Array.of(0.05), scaleDims: [] });
    check(x, { dims: [5, 10], scale: Float64Array.of(0.05), scaleDims: [], zeroPoint: Float64Array.of(-3) });
    const got = streamToArray(
      dequantizeLinearValues(valuesOf([0, 128, 255]), {
        dims: [3],
        scale: Float64Array.of(0.5),
        scaleDims: [1],
        zeroPoint: Float64Array.of(128),
      }),
    );
    assert.deepEqual(got, [-64, 0, 63.5]);
  });

  it('per axis on each axis of a 3-D tensor, negative axes too', () => {
    const dims = [3, 4, 5];
    const x = randomCodes(60, 0, 255, 2);
    for (const axis of [0, 1, 2, -1]) {
      const size = dims[(axis + 3) % 3];
      const scale = Float64Array.from({ length: size }, (_, i) => 0.01 * (i + 1));
      const zeroPoint = Float64Array.from({ length: size }, (_, i) => 120 + i);
      check(x, { dims, scale, scaleDims: [size], zeroPoint, axis });
    }
    // The default axis is 1.
    const scale = Float64Array.of(1, 10, 100, 1000);
    const got = streamToArray(
      dequantizeLinearValues(valuesOf(new Array(60).fill(1)), { dims, scale, scaleDims: [4] }),
    );
    assert.deepEqual(got.slice(0, 10), [1, 1, 1, 1, 1, 10, 10, 10, 10, 10]);
  });

  it('blocked (opset 21), with a partial last block, on either axis', () => {
    const dims = [4, 10];
    const x = randomCodes(40, -8, 7, 3);
    // Axis 1, block 4: 3 blocks per row, the last one of 2 elements.
    const s1 = Float64Array.from({ length: 12 }, (_, i) => 0.1 + i * 0.01);
    const z1 = Float64Array.from({ length: 12 }, (_, i) => (i % 3) - 1);
    check(x, { dims, scale: s1, scaleDims: [4, 3], zeroPoint: z1, axis: 1, blockSize: 4 });
    // Axis 0, block 3: 2 blocks down each column.
    const s0 = Float64Array.from({ length: 20 }, (_, i) => 0.5 + i);
    check(x, { dims, scale: s0, scaleDims: [2, 10], axis: 0, blockSize: 3 });
    // 3-D weight blocked along the middle axis.
    const x3 = randomCodes(2 * 6 * 3, 0, 15, 4);
    const s3 = Float64Array.from({ length: 2 * 2 * 3 }, (_, i) => 1 + i);
    check(x3, { dims: [2, 6, 3], scale: s3, scaleDims: [2, 2, 3], axis: 1, blockSize: 4 });
  });

  it('works on decoded int4 codes', () => {
    // int4 [2, 4]: 1 -2 3 -4 | 7 -8 0 5, per-row scales 0.5 and 2.
    const { part, source } = rawPart(DataType.INT4, [2, 4], [0xe1, 0xc3, 0x87, 0x50]);
    const codes = tensorValues(part, source, noExternal);
    const got = streamToArray(
      dequantizeLinearValues(codes, {
        dims: [2, 4],
        scale: Float64Array.of(0.5, 2),
        scaleDims: [2],
        axis: 0,
      }),
    );
    assert.deepEqual(got, [0.5, -1, 1.5, -2, 14, -16, 0, 10]);
  });

  it('refuses parameters that do not fit x', () => {
    const x = valuesOf(new Array(12).fill(0));
    const fails = (p: DequantizeLinearParams, re: RegExp) =>
      assert.throws(
        () => dequantizeLinearValues(x, p),
        (e: unknown) => e instanceof FormatError && re.test(e.message),
      );
    fails({ dims: [3, 4], scale: Float64Array.of(1, 2, 3), scaleDims: [3] }, /per-axis/); // axis 1 has 4
    fails(
      { dims: [3, 4], scale: Float64Array.of(1, 2), scaleDims: [2], zeroPoint: Float64Array.of(0) },
      /zero point has 1 values/,
    );
    fails({ dims: [3, 4], scale: Float64Array.of(1, 2, 3), scaleDims: [3], axis: 2 }, /out of range/);
    fails({ dims: [3, 4], scale: new Float64Array(6), scaleDims: [3, 2], axis: 1, blockSize: 1 }, /blocked/); // block 1 needs [3, 4]
    fails({ dims: [3, 5], scale: Float64Array.of(1), scaleDims: [] }, /x has 12 values/);
    fails({ dims: [3, 4], scale: new Float64Array(4), scaleDims: [3] }, /dims \[3\]/);
  });
});
