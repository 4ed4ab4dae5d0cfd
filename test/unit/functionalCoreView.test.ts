// The Functional core tab's summary of an activations report: counts and words per layer, the sorted
// importance curve cut to at most CURVE_POINTS points (first and last kept, largest first, relative).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActivationsReport, HiddenUnitsRow } from '../../src/core/compact/activationSummary';
import { CURVE_POINTS, curveIndices, functionalCoreView } from '../../src/core/compact/functionalCoreView';

function row(name: string, importance: number[], kind: 'mlp' | 'conv' = 'mlp'): HiddenUnitsRow {
  const fireRate = importance.map((v) => (v > 0 ? 0.5 : 0));
  return {
    name,
    kind,
    units: importance.length,
    samples: 64,
    fireRate,
    importance,
    neverFire: fireRate.flatMap((f, u) => (f === 0 ? [u] : [])),
    share90: 0.3,
    share99: 0.6,
  };
}

describe('functionalCoreView', () => {
  it('says per layer how many units never fire, and totals them', () => {
    const big = Array.from({ length: 2048 }, (_, u) => (u % 5 === 0 ? 0 : ((u * 7919) % 1000) + 1));
    const report: ActivationsReport = {
      model: '/m/model.onnx',
      calibration: '4 calibration samples of /m/data: x float32[1,8] npy',
      data: { source: 'files', paths: ['/m/data'], calibration: 4, evaluation: 4 },
      inputs: [
        {
          name: 'down',
          op: 'MatMul',
          input: 'a',
          channels: 3,
          samples: 4,
          meanAbs: [1, 0, 0],
          nonZero: [1, 0, 0],
          alwaysZero: 2,
        },
      ],
      units: [row('mlp0', big), row('conv1', [3, 0, 1], 'conv')],
      heads: [
        {
          name: 'attn_out',
          op: 'MatMul',
          heads: 4,
          headDim: 16,
          samples: 64,
          importance: [2, 4, 0, 1],
          share90: 0.5,
          share99: 0.75,
          leftWhole: 'why',
        },
      ],
      missing: [{ name: 'h', reason: 'computed inside a subgraph (or a constant)' }],
    };
    const view = functionalCoreView(report);
    assert.equal(view.source, 'files');
    assert.equal(view.calibration, report.calibration);
    const [mlp, conv] = view.layers;
    const never = big.filter((v) => v === 0).length;
    assert.equal(mlp.neverFire, never);
    assert.equal(mlp.firing, 2048 - never);
    assert.equal(mlp.fireText, `${never} of 2048 hidden units never fire on 64 samples`);
    assert.equal(conv.fireText, '1 of 3 channels never fire on 64 samples');
    assert.equal(view.units, 2051);
    assert.equal(view.neverFire, never + 1);
    assert.equal(view.alwaysZeroInputs, 2);
    assert.deepEqual(view.missing, ['h (computed inside a subgraph (or a constant))']);
    assert.equal(mlp.share90, 0.3);
    assert.deepEqual(view.heads, [
      { name: 'attn_out', heads: 4, headDim: 16, importance: [0.5, 1, 0, 0.25], share90: 0.5, share99: 0.75 },
    ]);
    assert.equal(view.headsLeftWhole, 'why');
    // The curve: at most CURVE_POINTS points, largest first, relative to the largest, ranks up to 1.
    assert.ok(mlp.curve.rank.length <= CURVE_POINTS && mlp.curve.rank.length > 100);
    assert.equal(mlp.curve.rank.length, mlp.curve.importance.length);
    assert.equal(mlp.curve.importance[0], 1);
    assert.equal(mlp.maxImportance, Math.max(...big));
    assert.equal(mlp.curve.importance.at(-1), 0);
    assert.equal(mlp.curve.rank.at(-1), 1);
    for (let i = 1; i < mlp.curve.rank.length; i++) {
      assert.ok(mlp.curve.rank[i] > mlp.curve.rank[i - 1]);
      assert.ok(mlp.curve.importance[i] <= mlp.curve.importance[i - 1]);
    }
    // A small layer keeps every point.
    assert.deepEqual(conv.curve.importance, [1, 1 / 3, 0]);
    assert.deepEqual(conv.curve.rank, [1 / 3, 2 / 3, 1]);
  });

  it('without a data section the samples came from an inputs folder; no units: no curve', () => {
    const view = functionalCoreView({
      model: 'm',
      calibration: 'inputs /x',
      inputs: [],
      units: [row('z', [0, 0])],
      missing: [],
    });
    assert.equal(view.source, 'inputs');
    assert.deepEqual(view.heads, []);
    assert.equal(view.headsLeftWhole, undefined);
    assert.deepEqual(view.layers[0].curve.importance, [0, 0]);
    assert.equal(view.layers[0].maxImportance, 0);
  });

  it('picks evenly spaced indices with the first and the last', () => {
    assert.deepEqual(curveIndices(5, 256), [0, 1, 2, 3, 4]);
    assert.deepEqual(curveIndices(10, 4), [0, 3, 6, 9]);
    const picked = curveIndices(100_000, 256);
    assert.equal(picked.length, 256);
    assert.equal(picked[0], 0);
    assert.equal(picked.at(-1), 99_999);
    assert.deepEqual(curveIndices(0, 256), []);
  });
});
