import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type NextStepReport, nextSteps, sensitiveCount } from '../../src/core/transform/nextSteps';

const weights = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ name: `layer${i}.weight`, weightSqnrDb: 20 + ((i * 7) % n) }));

/** A 4-bit RTN MatMulNBits report with `n` quantized weights and verdict `status`. */
function quantizeReport(status: NextStepReport['status'], n = 12, options = {}): NextStepReport {
  return {
    transform: 'quantize',
    status,
    options: { format: 'nbits', bits: 4, blockSize: 32, method: 'rtn', exclude: '', ...options },
    fidelity: {},
    tensors: weights(n),
  };
}
const kinds = (r: NextStepReport, s?: Parameters<typeof nextSteps>[1]) => nextSteps(r, s).map((x) => x.kind);

describe('nextSteps after a fidelity FAIL', () => {
  it('offers nothing for pass, warn, unverified, or models that could not be compared', () => {
    for (const status of ['pass', 'warn', 'unverified'] as const)
      assert.deepEqual(kinds(quantizeReport(status)), []);
    const broken = { ...quantizeReport('fail'), fidelity: { error: 'original failed to run: Pad' } };
    assert.deepEqual(kinds(broken), []);
  });

  it('RTN 4-bit FAIL: shrink to target, GPTQ at the same bits and block, exclude the worst weights', () => {
    const steps = nextSteps(quantizeReport('fail'));
    assert.deepEqual(
      steps.map((s) => s.label),
      ['Shrink to Target…', 'Try a data-aware method', 'Exclude the most sensitive layers'],
    );
    const data = steps.find((s) => s.kind === 'dataAware');
    assert.deepEqual(data && 'request' in data && data.request, {
      preset: 'nbits4',
      blockSize: 32,
      method: 'gptq',
      force: true,
    });
  });

  it('without a measured ranking, the weights with the lowest weight SQNR are excluded (the worst tenth)', () => {
    const report = quantizeReport('fail', 12);
    const step = nextSteps(report).find((s) => s.kind === 'excludeSensitive');
    assert.ok(step && step.kind === 'excludeSensitive');
    const lowest = [...report.tensors].sort((a, b) => a.weightSqnrDb! - b.weightSqnrDb!);
    assert.deepEqual(
      step.layers,
      lowest.slice(0, 2).map((t) => t.name),
    );
    const re = new RegExp(step.request.exclude!);
    for (const t of report.tensors) assert.equal(re.test(t.name), step.layers.includes(t.name), t.name);
    assert.equal(step.request.preset, 'nbits4');
    assert.equal(step.request.method, undefined, 'RTN stays the default method');
  });

  it('a measured ranking (sensitivity.json) decides, skipping layers that failed or were not quantized', () => {
    const report = quantizeReport('fail', 4);
    const ranking = {
      layers: [
        { name: 'other.weight' },
        { name: 'layer3.weight', error: 'the candidate does not load' },
        { name: 'layer2.weight' },
        { name: 'layer0.weight' },
      ],
    };
    const step = nextSteps(report, ranking).find((s) => s.kind === 'excludeSensitive');
    assert.ok(step && step.kind === 'excludeSensitive');
    assert.deepEqual(step.layers, ['layer2.weight']);
    assert.match(step.detail, /measured sensitivity/);
  });

  it('keeps an exclude already given and escapes regex characters in names', () => {
    const report: NextStepReport = {
      ...quantizeReport('fail', 0, { exclude: 'classifier' }),
      tensors: [
        { name: 'enc.0/attn.q+k', weightSqnrDb: 1 },
        { name: 'enc.1.w', weightSqnrDb: 30 },
      ],
    };
    const step = nextSteps(report).find((s) => s.kind === 'excludeSensitive');
    assert.ok(step && step.kind === 'excludeSensitive');
    const re = new RegExp(step.request.exclude!);
    assert.ok(re.test('classifier.weight'), 'the earlier exclude still applies');
    assert.ok(re.test('enc.0/attn.q+k'));
    assert.ok(!re.test('enc.0/attn.qqk') && !re.test('enc.1.w'));
  });

  it('data-aware methods only after round-to-nearest MatMulNBits; the method stays on a re-run', () => {
    assert.deepEqual(kinds(quantizeReport('fail', 12, { method: 'gptq' })), [
      'shrinkToTarget',
      'excludeSensitive',
    ]);
    const gptq = nextSteps(quantizeReport('fail', 12, { method: 'gptq' })).find(
      (s) => s.kind === 'excludeSensitive',
    );
    assert.equal(gptq && 'request' in gptq && gptq.request.method, 'gptq');
    assert.deepEqual(kinds(quantizeReport('fail', 12, { format: 'qdq' })), [
      'shrinkToTarget',
      'excludeSensitive',
    ]);
    const twoBit = nextSteps(quantizeReport('fail', 12, { bits: 2 })).find((s) => s.kind === 'dataAware');
    assert.equal(twoBit && 'request' in twoBit && twoBit.request.preset, 'nbits2');
  });

  it('one quantized weight cannot be excluded (nothing would be left); convert and prune get only the shrink', () => {
    assert.deepEqual(kinds(quantizeReport('fail', 1)), ['shrinkToTarget', 'dataAware']);
    for (const transform of ['convert', 'prune'])
      assert.deepEqual(kinds({ ...quantizeReport('fail'), transform, options: {} }), ['shrinkToTarget']);
    assert.deepEqual(kinds({ ...quantizeReport('fail'), transform: 'shrink', options: {} }), []);
  });

  it('sensitiveCount: the worst tenth, at least one, at most eight', () => {
    assert.deepEqual([2, 10, 11, 40, 200].map(sensitiveCount), [1, 1, 2, 4, 8]);
  });
});
