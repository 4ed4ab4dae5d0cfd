// The corpus suite's comparison with the statistics oracle (test/corpus/compareStats.ts) must catch what it
// claims to: numbers reported for a tensor with no finite values, and a histogram that differs from
// numpy's in one bin while its total and range agree.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareTensor, type OurTensor } from '../corpus/compareStats';
import type { OracleTensor } from '../corpus/corpusModels';

const base = { name: 'w', graph: 'main', where: 'initializer', dtype: 'float32', dims: [6] };

/** [0, 1, 1, 2, 3, 3] in 3 bins over [0, 3]: numpy gives [1, 2, 3]. */
const oracle: OracleTensor = {
  ...base,
  count: 6,
  min: 0,
  max: 3,
  mean: 10 / 6,
  std: Math.sqrt((0 + 1 + 1 + 4 + 9 + 9) / 6 - (10 / 6) ** 2),
  zeros: 1,
  nan: 0,
  inf: 0,
  absMax: 3,
  histogram: { min: 0, max: 3, counts: [1, 2, 3] },
};
const ours = (histogram = { min: 0, max: 3, counts: [1, 2, 3] }): OurTensor => ({
  ...base,
  stats: {
    count: 6,
    min: 0,
    max: 3,
    mean: oracle.mean,
    std: oracle.std,
    zeros: 1,
    nan: 0,
    inf: 0,
    absMax: 3,
    histogram,
  },
});

/** Four NaNs: no finite value, so no min/max/mean/std and an empty histogram. */
const noFinite: OracleTensor = {
  ...base,
  dims: [4],
  count: 4,
  min: null,
  max: null,
  mean: null,
  std: null,
  zeros: 0,
  nan: 4,
  inf: 0,
  absMax: null,
  histogram: null,
};
const nanStats = (values: Partial<NonNullable<OurTensor['stats']>>): OurTensor => ({
  ...base,
  dims: [4],
  stats: {
    count: 4,
    min: null,
    max: null,
    mean: null,
    std: null,
    zeros: 0,
    nan: 4,
    inf: 0,
    absMax: null,
    ...values,
  },
});

describe('compareTensor against the statistics oracle', () => {
  it('agrees with itself', () => {
    assert.deepEqual(compareTensor(ours(), oracle), []);
    assert.deepEqual(compareTensor(nanStats({}), noFinite), []);
  });
  it('a tensor with no finite values rejects finite numbers for min, max, mean, std and absMax', () => {
    for (const k of ['min', 'max', 'mean', 'std', 'absMax'] as const) {
      const problems = compareTensor(nanStats({ [k]: 0 }), noFinite);
      assert.equal(problems.length, 1, `${k}: ${problems.join('; ')}`);
      assert.match(problems[0], new RegExp(`${k} 0 with no finite values`));
    }
    assert.match(
      compareTensor(nanStats({ histogram: { min: 0, max: 1, counts: [4] } }), noFinite).join(),
      /histogram holds 4 values, none is finite/,
    );
  });
  it('a histogram is compared bin by bin, not only by its total and range', () => {
    const problems = compareTensor(ours({ min: 0, max: 3, counts: [2, 1, 3] }), oracle);
    assert.deepEqual(problems, ['main initializer "w": histogram bins differ: [0] 2 vs 1, [1] 1 vs 2']);
    assert.match(
      compareTensor(ours({ min: 0, max: 3, counts: [1, 2, 1, 2] }), oracle).join(),
      /4 histogram bins, oracle 3/,
    );
    assert.match(
      compareTensor(ours({ min: -0.5, max: 3, counts: [1, 2, 3] }), oracle).join(),
      /histogram range/,
    );
  });
});
