import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeStats } from '../../src/core/stats/computeStats';
import { histogramBin, histogramEdges } from '../../src/core/stats/histogramEdges';
import type { TensorStats } from '../../src/core/stats/tensorStats';
import { float16Table } from '../../src/core/tensor/float16';
import { valuesOf, type ValueChunk } from '../../src/core/tensor/valueStream';
import { close, normal, python, rng } from './tensorFixtures';

interface NumpyStats {
  count: number;
  finite: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  zeros: number;
  nan: number;
  inf: number;
  absMax: number;
  counts: number[];
  first: number;
  last: number;
  percentiles: number[];
}

/** numpy's view of the same values (sent as float64, which holds every float32 exactly). */
function numpyStats(values: ValueChunk, bins: number): NumpyStats {
  const f64 = values instanceof Float64Array ? values : Float64Array.from(values);
  return python<NumpyStats>(
    `import numpy as np, json, sys
a = np.frombuffer(sys.stdin.buffer.read(), dtype='<f8')
f = a[np.isfinite(a)]
h, e = np.histogram(f, ${bins})
print(json.dumps(dict(count=int(a.size), finite=int(f.size), min=float(f.min()), max=float(f.max()),
  mean=float(f.mean()), std=float(f.std()), zeros=int((a == 0).sum()), nan=int(np.isnan(a).sum()),
  inf=int(np.isinf(a).sum()), absMax=float(np.abs(f).max()), counts=h.tolist(), first=float(e[0]),
  last=float(e[-1]), percentiles=np.percentile(np.abs(f), [50, 90, 99, 99.9]).tolist())))`,
    new Uint8Array(f64.buffer, f64.byteOffset, f64.byteLength),
  );
}

/** Compare with numpy; percentiles only for large samples (they are interpolated from a fine histogram). */
function assertMatchesNumpy(name: string, values: ValueChunk, bins = 64, percentiles = true): void {
  const np = numpyStats(values, bins);
  for (const chunk of [4096, 1 << 20]) {
    const s = computeStats(valuesOf(values, chunk), { bins });
    const where = `${name} (chunks of ${chunk})`;
    assert.equal(s.count, np.count, where);
    assert.equal(s.min, np.min, `${where} min`);
    assert.equal(s.max, np.max, `${where} max`);
    assert.equal(s.absMax, np.absMax, `${where} absMax`);
    assert.equal(s.zeros, np.zeros, `${where} zeros`);
    assert.equal(s.nan, np.nan, `${where} nan`);
    assert.equal(s.inf, np.inf, `${where} inf`);
    // The mean is compared against the spread: a mean near zero is ill-conditioned for any summation.
    assert.ok(
      close(s.mean, np.mean, 1e-9, 1e-12 * (np.std + Math.abs(np.mean))),
      `${where} mean ${s.mean} vs ${np.mean}`,
    );
    assert.ok(close(s.std, np.std, 1e-9), `${where} std ${s.std} vs ${np.std}`);
    assert.equal(s.histogram.min, np.first, `${where} first edge`);
    assert.equal(s.histogram.max, np.last, `${where} last edge`);
    assert.deepEqual(s.histogram.counts, np.counts, `${where} histogram`);
    if (!percentiles) continue;
    const width = (np.max - np.min) / 8192; // one fine bin
    ['50', '90', '99', '99.9'].forEach((key, i) => {
      const got = s.absPercentiles![key];
      assert.ok(
        Math.abs(got - np.percentiles[i]) <= 2 * width,
        `${where} p${key}: ${got} vs ${np.percentiles[i]}`,
      );
    });
  }
}

describe('computeStats against numpy', () => {
  it('heavy-tailed float32 weights with outliers and exact zeros', () => {
    const random = rng(1);
    const values = new Float32Array(300_000);
    for (let i = 0; i < values.length; i++) {
      values[i] = 0.02 * normal(random) * (random() < 0.01 ? 30 : 1);
      if (random() < 0.05) values[i] = random() < 0.5 ? 0 : -0;
    }
    values[1234] = 3.5;
    assertMatchesNumpy('heavy-tailed', values);
  });

  it('integer codes that land exactly on bin edges', () => {
    const random = rng(2);
    const int8 = Float32Array.from({ length: 100_000 }, () => Math.floor(random() * 256) - 128);
    int8[0] = -128;
    int8[1] = 127;
    assertMatchesNumpy('int8, 51 bins (edges on integers)', int8, 51);
    assertMatchesNumpy('int8, 64 bins', int8, 64);
    const small = Float32Array.from({ length: 5000 }, (_, i) => i % 11);
    assertMatchesNumpy('0..10, 10 bins', small, 10);
  });

  it('float64 data spanning many magnitudes, with NaN and ±Inf', () => {
    const random = rng(3);
    const values = Float64Array.from(
      { length: 200_003 },
      () => Math.exp(normal(random) * 8) * (random() < 0.5 ? -1 : 1),
    );
    values[5] = NaN;
    values[70000] = Infinity;
    values[70001] = -Infinity;
    values[200_002] = NaN;
    assertMatchesNumpy('lognormal float64', values, 64);
  });

  it('float16 values (many repeats) and a mean near zero', () => {
    const random = rng(4);
    const table = float16Table();
    const f16 = Float32Array.from(
      { length: 100_000 },
      () => table[0x3000 + Math.floor(random() * 0x1000)] * (random() < 0.5 ? -1 : 1),
    );
    assertMatchesNumpy('float16', f16, 64);
    const symmetric = Float32Array.from(
      { length: 100_001 },
      (_, i) => (i % 2 === 0 ? 1 : -1) * (1 + (i % 7) * 1e-3),
    );
    assertMatchesNumpy('symmetric', symmetric, 7);
  });

  it('values on and next to every bin edge, in float64 and float32', () => {
    const next = (x: number, up: boolean) => {
      const f = new Float64Array([x]);
      const b = new BigInt64Array(f.buffer);
      b[0] += x >= 0 === up ? 1n : -1n;
      return x === 0 ? (up ? 5e-324 : -5e-324) : f[0];
    };
    for (const [first, last, bins] of [
      [-1, 1, 64],
      [-0.3, 0.7, 10],
      [1000, 1000.5, 7],
      [-3e-5, 2.5e-5, 64],
    ]) {
      const edges = histogramEdges(first, last, bins);
      const values: number[] = [];
      for (const e of edges) values.push(e, next(e, true), next(e, false), e, 0);
      const inRange = values.filter((v) => v >= first && v <= last && (v !== 0 || (first <= 0 && last >= 0)));
      assertMatchesNumpy(`edges of [${first}, ${last}] / ${bins}`, Float64Array.from(inRange), bins, false);
      assertMatchesNumpy(
        `float32 edges of [${first}, ${last}] / ${bins}`,
        Float32Array.from(inRange),
        bins,
        false,
      );
    }
  });

  it('a single repeated value: numpy widens the range to [v-0.5, v+0.5]', () => {
    const values = new Float32Array(1000).fill(0.7);
    assertMatchesNumpy('constant', values, 64);
    const s = computeStats(valuesOf(values));
    assert.equal(s.histogram.counts[32], 1000);
    assert.equal(s.std, 0);
  });
});

describe('computeStats by hand', () => {
  it('small exact case', () => {
    const s = computeStats(valuesOf(Float32Array.of(1, 2, 3, 4)), { bins: 3 });
    assert.equal(s.count, 4);
    assert.equal(s.mean, 2.5);
    assert.equal(s.std, Math.sqrt(1.25));
    assert.equal(s.min, 1);
    assert.equal(s.max, 4);
    assert.deepEqual(s.histogram, { min: 1, max: 4, counts: [1, 1, 2] }); // last bin closed
    assert.equal(s.sparsity, 0);
    assert.equal(s.nm, undefined);
    assert.equal(s.zeroChannels, undefined);
  });

  it('NaN and Inf are counted but excluded from the moments; -0 is a zero', () => {
    const s = computeStats(valuesOf(Float64Array.of(NaN, Infinity, -Infinity, 0, -0, 3)), { bins: 4 });
    assert.equal(s.count, 6);
    assert.equal(s.nan, 1);
    assert.equal(s.inf, 2);
    assert.equal(s.zeros, 2);
    assert.equal(s.sparsity, 2 / 6);
    assert.equal(s.mean, 1);
    assert.equal(s.std, Math.sqrt(2));
    assert.equal(s.max, 3);
    assert.equal(s.absMax, 3);
    assert.equal(s.min, 0);
    assert.deepEqual(s.histogram.counts, [2, 0, 0, 1]);
  });

  it('empty and all-NaN tensors: no number for min, max, mean, std, absMax (NaN), an empty histogram', () => {
    const undefinedStats = (s: TensorStats) => [
      s.min,
      s.max,
      s.mean,
      s.std,
      s.absMax,
      s.histogram.min,
      s.histogram.max,
    ];
    const empty = computeStats(valuesOf([]), { bins: 5 });
    assert.deepEqual(undefinedStats(empty), [NaN, NaN, NaN, NaN, NaN, 0, 0]);
    assert.deepEqual(empty.histogram.counts, [0, 0, 0, 0, 0]);
    assert.equal(empty.sparsity, 0);
    const nan = computeStats(valuesOf([NaN, NaN, Infinity]));
    assert.deepEqual(undefinedStats(nan), [NaN, NaN, NaN, NaN, NaN, 0, 0]);
    assert.equal(JSON.stringify({ min: nan.min }), '{"min":null}');
    assert.equal(nan.nan, 2);
    assert.equal(nan.histogram.counts.length, 64);
  });

  it('counts near-zeros and magnitude percentiles', () => {
    const s = computeStats(valuesOf([1000, 0.5, 1, -1, 0, 2, -0.9, 1.0001]));
    assert.equal(s.nearZeros, 5); // |x| <= 1: 0.5, 1, -1, 0, -0.9
    const uniform = Float32Array.from({ length: 100_000 }, (_, i) => (i / 100_000) * 2 - 1);
    const u = computeStats(valuesOf(uniform));
    assert.ok(Math.abs(u.absPercentiles!['50'] - 0.5) < 1e-3, String(u.absPercentiles!['50']));
    assert.ok(Math.abs(u.absPercentiles!['90'] - 0.9) < 1e-3);
    assert.ok(Math.abs(u.absPercentiles!['99.9'] - 0.999) < 1e-3);
  });

  it('refuses a bad bin count', () => {
    assert.throws(() => computeStats(valuesOf([1]), { bins: 0 }), RangeError);
  });
});

describe('histogramEdges', () => {
  it('puts values on edges in the upper bin, except the last edge', () => {
    const edges = histogramEdges(0, 10, 10);
    assert.deepEqual(Array.from(edges), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const norm = 10 / 10;
    assert.equal(histogramBin(0, 0, norm, edges), 0);
    assert.equal(histogramBin(3, 0, norm, edges), 3);
    assert.equal(histogramBin(9.999, 0, norm, edges), 9);
    assert.equal(histogramBin(10, 0, norm, edges), 9);
    // 0.1 * 3 rounds below the edge 0.3 as numpy computes it: the correction step must catch it.
    const e = histogramEdges(0, 1, 10);
    assert.equal(e[3], 3 * 0.1);
    assert.equal(histogramBin(0.3, 0, 10, e), 2);
    assert.equal(histogramBin(3 * 0.1, 0, 10, e), 3);
  });
});
