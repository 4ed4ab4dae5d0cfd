import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeStats } from '../../src/core/stats/computeStats';
import type { WeightLayout } from '../../src/core/stats/tensorStats';
import { valuesOf, type ValueStream } from '../../src/core/tensor/valueStream';
import { rng } from './tensorFixtures';

/** A stream with ragged chunk sizes (3, 5, 7, 1, 13, …), as dequantized streams may have. */
function raggedChunks(values: Float32Array | Float64Array): ValueStream {
  const sizes = [3, 5, 7, 1, 13, 64, 2];
  return {
    count: values.length,
    *chunks() {
      for (let at = 0, k = 0; at < values.length; k++) {
        const end = Math.min(values.length, at + sizes[k % sizes.length]);
        yield values.subarray(at, end);
        at = end;
      }
    },
  };
}

/** Coordinates of a flat index (row-major), the slow obvious way. */
function unravel(index: number, dims: number[]): number[] {
  const coords = new Array<number>(dims.length);
  for (let a = dims.length - 1; a >= 0; a--) {
    coords[a] = index % dims[a];
    index = Math.floor(index / dims[a]);
  }
  return coords;
}

/** Reference N:M compliance: group elements by (other coordinates, axis coordinate div m). */
function referenceNm(values: ArrayLike<number>, dims: number[], axis: number, n: number, m: number) {
  const full = dims[axis] - (dims[axis] % m);
  const groups = new Map<string, { size: number; zeros: number }>();
  for (let i = 0; i < values.length; i++) {
    const c = unravel(i, dims);
    if (c[axis] >= full) continue;
    c[axis] = Math.floor(c[axis] / m);
    const key = c.join(',');
    const g = groups.get(key) ?? { size: 0, zeros: 0 };
    g.size++;
    if (values[i] === 0) g.zeros++;
    groups.set(key, g);
  }
  for (const g of groups.values()) assert.equal(g.size, m);
  const compliant = [...groups.values()].filter((g) => g.zeros >= m - n).length;
  return { groups: groups.size, compliant };
}

/** Reference zero channels: a channel is zero when no element with that coordinate is non-zero. */
function referenceZeroChannels(values: ArrayLike<number>, dims: number[], axis: number): number[] {
  const nonZero = new Array<boolean>(dims[axis]).fill(false);
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) nonZero[unravel(i, dims)[axis]] = true;
  return nonZero.flatMap((nz, c) => (nz ? [] : [c]));
}

/** Random weights with zeros, some 2:4 structure along `axis`, and a few all-zero channels. */
function sparseWeights(
  dims: number[],
  axis: number,
  channelAxis: number,
  seed: number,
  f64 = false,
): Float32Array | Float64Array {
  const random = rng(seed);
  const count = dims.reduce((a, b) => a * b, 1);
  const values = f64 ? new Float64Array(count) : new Float32Array(count);
  const zeroChannels = new Set([1, dims[channelAxis] - 1]);
  for (let i = 0; i < count; i++) {
    const c = unravel(i, dims);
    const structured = c[axis] % 4 < 2 && random() < 0.5;
    values[i] = zeroChannels.has(c[channelAxis]) || structured || random() < 0.15 ? 0 : random() - 0.5;
  }
  return values;
}

const CASES: { name: string; layout: WeightLayout }[] = [
  { name: '2-D Gemm transB=1 [O, I]', layout: { dims: [8, 12], reductionAxis: 1, channelAxis: 0 } },
  { name: '2-D MatMul B [K, N]', layout: { dims: [12, 8], reductionAxis: 0, channelAxis: 1 } },
  { name: '2-D with a partial group [5, 10]', layout: { dims: [5, 10], reductionAxis: 1, channelAxis: 0 } },
  { name: '4-D Conv [O, I, kh, kw]', layout: { dims: [6, 8, 3, 3], reductionAxis: 1, channelAxis: 0 } },
  {
    name: '4-D Conv, odd input channels [4, 7, 2, 3]',
    layout: { dims: [4, 7, 2, 3], reductionAxis: 1, channelAxis: 0 },
  },
  { name: '3-D, last axes [3, 4, 9]', layout: { dims: [3, 4, 9], reductionAxis: -1, channelAxis: 1 } },
  { name: '2-D [16, 20] rows', layout: { dims: [16, 20], reductionAxis: 1, channelAxis: 0 } },
  { name: '2-D [20, 16] columns', layout: { dims: [20, 16], reductionAxis: 0, channelAxis: 1 } },
];

describe('N:M compliance and zero channels', () => {
  for (const [index, { name, layout }] of CASES.entries()) {
    it(`${name} agrees with a coordinate-by-coordinate reference`, () => {
      const rank = layout.dims.length;
      const axis = (layout.reductionAxis + rank) % rank;
      for (const f64 of [false, true]) {
        const values = sparseWeights(layout.dims, axis, layout.channelAxis, 10 + index, f64);
        const nm = referenceNm(values, layout.dims, axis, 2, 4);
        const zero = referenceZeroChannels(values, layout.dims, layout.channelAxis);
        assert.ok(
          nm.compliant > 0 && nm.compliant < nm.groups,
          'the data must mix compliant and other groups',
        );
        for (const chunk of [8, 24, 1 << 20, 0]) {
          const stream = chunk === 0 ? raggedChunks(values) : valuesOf(values, chunk);
          const s = computeStats(stream, { layout });
          assert.deepEqual(
            s.nm,
            { n: 2, m: 4, groups: nm.groups, compliant: nm.compliant, ratio: nm.compliant / nm.groups },
            `chunk ${chunk}`,
          );
          assert.deepEqual(s.zeroChannels, {
            axis: layout.channelAxis,
            total: layout.dims[layout.channelAxis],
            zero: zero.length,
            indices: zero,
          });
        }
        const other = computeStats(valuesOf(values), { layout, nm: { n: 1, m: 2 } });
        const ref12 = referenceNm(values, layout.dims, axis, 1, 2);
        assert.equal(other.nm!.groups, ref12.groups);
        assert.equal(other.nm!.compliant, ref12.compliant);
      }
    });
  }

  it('hand-checked 2:4 rows and zero columns', () => {
    // Rows of 8 along the reduction axis: groups [1,0,2,0] ok, [0,0,3,4] ok, [1,2,0,3] not, [0,0,0,0] ok.
    const values = [1, 0, 2, 0, 0, 0, 3, 4, 1, 2, 0, 3, 0, 0, 0, 0];
    const s = computeStats(valuesOf(values), { layout: { dims: [2, 8], reductionAxis: 1, channelAxis: 0 } });
    assert.deepEqual(s.nm, { n: 2, m: 4, groups: 4, compliant: 3, ratio: 0.75 });
    assert.deepEqual(s.zeroChannels, { axis: 0, total: 2, zero: 0, indices: [] });
    // As [8, 2] reduced along axis 0: column 0 = [1,2,0,3] (not) [1,0,0,0] (ok); column 1 = [0,0,0,4] [2,3,0,0] (ok).
    const t = computeStats(valuesOf(values), { layout: { dims: [8, 2], reductionAxis: 0, channelAxis: 1 } });
    assert.deepEqual(t.nm, { n: 2, m: 4, groups: 4, compliant: 3, ratio: 0.75 });
    const cols = computeStats(valuesOf([0, 1, 0, 0, 2, 0]), {
      layout: { dims: [2, 3], reductionAxis: 0, channelAxis: 1 },
    });
    assert.deepEqual(cols.zeroChannels, { axis: 1, total: 3, zero: 2, indices: [0, 2] });
    assert.equal(cols.nm, undefined, 'no whole group of 4 along an axis of 2');
  });

  it('NaN is not zero, and at most 1,000 zero channels are listed', () => {
    const s = computeStats(valuesOf([NaN, 0, 0, 0]), {
      layout: { dims: [1, 4], reductionAxis: 1, channelAxis: 0 },
    });
    assert.equal(s.nm!.compliant, 1);
    assert.equal(s.zeroChannels!.zero, 0);
    const many = computeStats(valuesOf(new Float32Array(3000)), {
      layout: { dims: [1500, 2], reductionAxis: 1, channelAxis: 0 },
    });
    assert.equal(many.zeroChannels!.zero, 1500);
    assert.equal(many.zeroChannels!.indices.length, 1000);
    assert.equal(many.zeroChannels!.indices[999], 999);
  });

  it('refuses layouts that do not fit the tensor', () => {
    assert.throws(
      () => computeStats(valuesOf([1, 2, 3]), { layout: { dims: [2, 2], reductionAxis: 0, channelAxis: 1 } }),
      /hold 4 elements/,
    );
    assert.throws(
      () =>
        computeStats(valuesOf([1, 2, 3, 4]), { layout: { dims: [2, 2], reductionAxis: 2, channelAxis: 1 } }),
      /out of range/,
    );
  });
});
