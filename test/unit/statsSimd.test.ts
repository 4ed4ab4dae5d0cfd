import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setSimdEnabled } from '../../src/core/simd/simdModule';
import { statsScratch } from '../../src/core/simd/statsSimd';
import { computeStats, type ComputeStatsOptions } from '../../src/core/stats/computeStats';
import { ContentHasher } from '../../src/core/stats/payloadHash';
import { valuesOf } from '../../src/core/tensor/valueStream';
import { normal, rng } from './tensorFixtures';

/** The same call with the SIMD kernels on, then off (the JS loops). */
function bothStats(values: Float32Array, chunk: number, options: ComputeStatsOptions = {}) {
  setSimdEnabled(true);
  const simd = computeStats(valuesOf(values, chunk), options);
  setSimdEnabled(false);
  const js = computeStats(valuesOf(values, chunk), options);
  setSimdEnabled(true);
  return { simd, js };
}

/** Weights with zeros, -0, values on coarse edges (small integers), outliers and subnormals. */
function weights(n: number, seed: number): Float32Array {
  const random = rng(seed);
  const gauss = () => normal(random);
  return Float32Array.from({ length: n }, (_, i) =>
    i % 11 === 0
      ? 0
      : i % 17 === 0
        ? -0
        : i % 13 === 0
          ? Math.round(gauss() * 4)
          : i % 97 === 0
            ? 1e-40
            : gauss() * 0.05,
  );
}

describe('statistics on the SIMD kernels', () => {
  after(() => setSimdEnabled(true));

  it('the kernels run here, and not when switched off', () => {
    assert.ok(statsScratch(4) instanceof Float32Array);
    setSimdEnabled(false);
    assert.equal(statsScratch(4), undefined);
    setSimdEnabled(true);
  });

  it('equal the JS loops bit for bit: chunk sizes, bins, layouts, edges', () => {
    const values = weights(70_003, 1);
    const layout = { dims: [70_003, 1], reductionAxis: 0, channelAxis: 1 };
    for (const chunk of [8, 1000, 16_392, 1 << 20]) {
      for (const bins of [1, 7, 64, 100]) {
        const { simd, js } = bothStats(values, chunk, { bins, layout });
        assert.deepEqual(simd, js, `chunk ${chunk} bins ${bins}`);
      }
    }
  });

  it('N:M compliance and zero channels along either axis equal the JS loops, however chunked', () => {
    const values = weights(140_000, 6);
    // Whole 2:4-compliant stretches and a zero column, so the counts are not trivial.
    for (let i = 0; i < 40_000; i += 4) values[i] = values[i + 2] = 0;
    for (let k = 0; k < 1400; k++) values[k * 100 + 7] = 0;
    for (const [dims, reductionAxis] of [
      [[1400, 100], 0],
      [[7000, 20], 0],
      [[2, 70_000], 0],
      [[35_000, 4], 0],
      [[100, 1400], 1],
      [[20, 7000], 1],
      [[70, 2000], 1],
    ] as const) {
      for (const nm of [undefined, { n: 4, m: 8 }, { n: 1, m: 3 }, { n: 1, m: 2 }]) {
        for (const chunk of [8, 1000, 16_392, 1 << 20]) {
          const layout = { dims: [...dims], reductionAxis, channelAxis: 1 - reductionAxis };
          const { simd, js } = bothStats(values, chunk, { layout, nm });
          assert.deepEqual(simd, js, `dims ${dims} nm ${nm?.n}:${nm?.m} chunk ${chunk}`);
          // [2, 70000] has more group columns than the kernels' counters hold: the JS loops run there.
          if (dims[reductionAxis] >= 8 && nm?.m !== 3)
            assert.ok(js.nm!.compliant > 0, `dims ${dims}: some groups comply`);
        }
      }
    }
  });

  it('equal them with NaN, ±Inf, a single value, huge values and more fine bins than the kernel holds', () => {
    const cases: [string, Float32Array, number][] = [
      [
        'NaN and Inf',
        weights(40_000, 2).map((x, i) =>
          i === 20_001 ? NaN : i === 5 ? Infinity : i === 39_999 ? -Infinity : x,
        ),
        64,
      ],
      ['one value', new Float32Array(50_000).fill(0.25), 64],
      ['all zeros', new Float32Array(50_000), 64],
      ['near FLT_MAX', weights(50_000, 3).map((x) => (x > 0 ? 3.4e38 : -3.4e38)), 64],
      ['20000 bins', weights(60_000, 4), 20_000],
    ];
    for (const [what, values, bins] of cases) {
      const { simd, js } = bothStats(values, 1 << 14, { bins });
      assert.deepEqual(simd, js, what);
    }
  });

  it('values read into the kernels’ scratch memory give the same statistics', () => {
    const values = weights(100_000, 5);
    const scratch = statsScratch(values.length)!;
    scratch.set(values);
    const inPlace = computeStats(valuesOf(scratch), { bins: 64 });
    setSimdEnabled(false);
    const js = computeStats(valuesOf(values), { bins: 64 });
    setSimdEnabled(true);
    assert.deepEqual(inPlace, js);
  });

  it('ContentHasher digests are the same with and without the kernel, however the bytes are split', () => {
    const random = rng(9);
    const bytes = Uint8Array.from({ length: 100_003 }, () => Math.floor(random() * 256));
    const digest = (on: boolean, cuts: number[]) => {
      setSimdEnabled(on);
      const h = new ContentHasher();
      let at = 0;
      for (const cut of [...cuts, bytes.length]) {
        h.update(bytes.subarray(at, cut));
        at = cut;
      }
      setSimdEnabled(true);
      return h.digest();
    };
    const js = digest(false, []);
    for (const cuts of [[], [1], [3, 70_001], [4096, 65_536 + 4], [99_999]])
      assert.equal(digest(true, cuts), js, `cuts ${cuts}`);
    // Bytes already in the kernels' memory are hashed where they are.
    const scratch = statsScratch(25_001)!;
    new Uint8Array(scratch.buffer, scratch.byteOffset, bytes.length).set(bytes);
    const inPlace = new ContentHasher()
      .update(new Uint8Array(scratch.buffer, scratch.byteOffset, bytes.length))
      .digest();
    assert.equal(inPlace, js);
  });
});
