import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MatMulNBitsUse } from '../../src/core/quant/planQuantize';
import { gramGroups } from '../../src/runtime/planDataAware';

/** A use of weight `id` multiplying activation `a` (only the fields gramGroups reads). */
const use = (id: number, a: string) => ({ tensor: { id }, activation: a }) as unknown as MatMulNBitsUse;

describe('gramGroups (data-aware calibration in passes of bounded XᵀX memory)', () => {
  const t = (name: string, K: number) => ({ name, K });
  const MiB = 2 ** 20;

  it('keeps everything in one pass when it fits, in model order', () => {
    const targets = [t('a', 64), t('b', 128), t('c', 64)];
    const uses = [use(1, 'a'), use(2, 'b'), use(3, 'c')];
    assert.deepEqual(gramGroups(targets, uses, MiB), [targets]);
  });

  it('splits at the budget (8·K² bytes per activation); one too large stands alone', () => {
    // 512² · 8 = 2 MiB each; 2048² · 8 = 32 MiB.
    const targets = [t('a', 512), t('b', 512), t('c', 2048), t('d', 512)];
    const uses = targets.map((x, i) => use(i, x.name));
    const groups = gramGroups(targets, uses, 5 * MiB).map((g) => g.map((x) => x.name));
    assert.deepEqual(groups, [['a', 'b'], ['c'], ['d']]);
  });

  it('puts the activations of one weight (read by two nodes) in the same pass', () => {
    const targets = [t('a', 512), t('b', 512), t('c', 512)];
    // Weight 7 multiplies both a and c; with a budget of two matrices, b moves on.
    const uses = [use(7, 'a'), use(8, 'b'), use(7, 'c')];
    const groups = gramGroups(targets, uses, 4 * MiB).map((g) => g.map((x) => x.name).sort());
    assert.deepEqual(groups, [['a', 'c'], ['b']]);
  });
});
