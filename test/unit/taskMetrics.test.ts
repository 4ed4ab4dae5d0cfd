import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  accuracyChangePoints,
  ClassificationAccumulator,
  LmMetricsAccumulator,
  perplexity,
  summarizeOutputs,
} from '../../src/core/data/taskMetrics';
import { rng } from './tensorFixtures';

const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

describe('LM task metrics', () => {
  it('uniform logits have a perplexity of the vocabulary size', () => {
    const V = 50;
    const ids = [3, 7, 1, 49, 0, 12];
    const logits = new Float32Array(ids.length * V).fill(0.25);
    close(perplexity([{ logits, ids }], V), V);
  });

  it('identical models: KL 0, agreement 1, equal perplexities', () => {
    const V = 16;
    const r = rng(5);
    const ids = Array.from({ length: 10 }, () => Math.floor(r() * V));
    const logits = Float32Array.from({ length: ids.length * V }, () => r() * 8 - 4);
    const acc = new LmMetricsAccumulator(V);
    acc.add(logits, logits, ids);
    const m = acc.result();
    assert.equal(m.klMean, 0);
    assert.equal(m.klMax, 0);
    assert.equal(m.top1Agreement, 1);
    assert.equal(m.pplOriginal, m.pplCandidate);
    assert.equal(m.tokens, 9);
  });

  it('a 2-token case worked by hand', () => {
    // p = (1/2, 1/2); q = (3/4, 1/4): KL = ½ ln(2/3) + ½ ln 2 = ½ ln(4/3); next token 1:
    // NLL_p = ln 2, NLL_q = ln 4; argmax p = 0 (first of a tie), q = 0.
    const a = [0, 0, 0, 0];
    const b = [Math.log(3), 0, 0, 0];
    const acc = new LmMetricsAccumulator(2);
    acc.add(a, b, [0, 1]);
    const m = acc.result();
    close(m.klMean, 0.5 * Math.log(4 / 3));
    close(m.pplOriginal, 2);
    close(m.pplCandidate, 4);
    assert.equal(m.top1Agreement, 1);
    assert.equal(m.tokens, 1);
  });

  it('the attention mask leaves out padded positions', () => {
    const V = 4;
    const acc = new LmMetricsAccumulator(V);
    const logits = new Float32Array(4 * V);
    acc.add(logits, logits, [1, 2, 3, 0], [1, 1, 0, 0]);
    assert.equal(acc.result().tokens, 1);
  });

  it('agrees with numpy on random logits (test/oracle/lm_metrics_oracle.py)', () => {
    const V = 37;
    const r = rng(11);
    const sequences = [9, 14, 6].map((seq, s) => {
      const a = Array.from({ length: seq * V }, () => (r() * 2 - 1) * 5);
      const b = a.map((x) => x + (r() * 2 - 1) * 0.7);
      const ids = Array.from({ length: seq }, () => Math.floor(r() * V));
      const mask = s === 1 ? ids.map((_, i) => (i < seq - 3 ? 1 : 0)) : null;
      return { a, b, ids, mask };
    });
    const acc = new LmMetricsAccumulator(V);
    for (const s of sequences) acc.add(s.a, s.b, s.ids, s.mask ?? undefined);
    const ours = acc.result();
    const oracle = path.resolve(__dirname, '..', '..', '..', 'test', 'oracle', 'lm_metrics_oracle.py');
    const theirs = JSON.parse(
      execFileSync('/usr/bin/python3', [oracle], {
        input: JSON.stringify({ vocab: V, sequences }),
      }).toString(),
    ) as Record<string, number>;
    for (const k of ['pplOriginal', 'pplCandidate', 'klMean', 'klMax', 'top1Agreement'] as const)
      close(ours[k], theirs[k], 1e-9);
    assert.equal(ours.tokens, theirs.tokens);
    assert.ok(ours.klMean > 0.01 && ours.top1Agreement < 1, 'the case is not trivial');
  });
});

describe('classification and generic metrics', () => {
  it('agreement and accuracy with labels, in points', () => {
    const acc = new ClassificationAccumulator(3);
    // rows: orig argmax 0,1,2,2; cand argmax 0,2,2,1
    const a = [5, 1, 0, 0, 5, 1, 0, 1, 5, 0, 1, 5];
    const b = [5, 1, 0, 0, 1, 5, 0, 1, 5, 0, 5, 1];
    acc.add(a, b, [0, 1, undefined, 1]);
    const m = acc.result();
    assert.equal(m.top1Agreement, 0.5);
    assert.equal(m.samples, 4);
    close(m.accuracyOriginal!, 2 / 3);
    close(m.accuracyCandidate!, 2 / 3);
    assert.equal(accuracyChangePoints(m), 0);
    const unlabelled = new ClassificationAccumulator(3);
    unlabelled.add(a, b);
    assert.equal(unlabelled.result().accuracyOriginal, undefined);
  });

  it('summarizes outputs over samples: worst, mean, largest error', () => {
    const s = summarizeOutputs([
      [{ name: 'y', cosine: 0.99, sqnrDb: 20, maxAbsError: 0.1 }],
      [{ name: 'y', cosine: 0.97, sqnrDb: 10, maxAbsError: 0.3 }],
    ]);
    assert.equal(s.length, 1);
    assert.equal(s[0].cosineWorst, 0.97);
    close(s[0].cosineMean, 0.98);
    assert.equal(s[0].sqnrWorstDb, 10);
    assert.equal(s[0].sqnrMeanDb, 15);
    assert.equal(s[0].maxAbsError, 0.3);
    assert.equal(s[0].samples, 2);
  });
});
