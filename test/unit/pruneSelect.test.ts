import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import { indexModel } from '../../src/core/onnx/indexModel';
import { channelKeepMask, nmKeepMask, splitAxis } from '../../src/core/prune/keepPatterns';
import { globalMagnitudeCut, magnitudeCut, magnitudeKeys } from '../../src/core/prune/magnitudeCut';
import { zeroBelowCut, zeroDropped } from '../../src/core/prune/zeroPruned';
import { DEFAULT_PRUNE_OPTIONS, planPrune, type PruneOptions } from '../../src/core/prune/planPrune';
import { pruneKind, selectTargets } from '../../src/core/prune/pruneTargets';
import { LayoutMetrics } from '../../src/core/stats/layoutMetrics';
import { tensorValues } from '../../src/core/tensor/tensorValues';
import { collectValues } from '../../src/core/tensor/valueStream';
import { planWrite } from '../../src/core/write/planWrite';
import { floatTensor, materialize, valueInfo } from './modelFixtures';
import { rng } from './tensorFixtures';

/** Gaussian-ish values; `levels` > 0 quantizes them so many magnitudes tie; some exact zeros and -0. */
function values(n: number, seed: number, levels = 0): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = (r() + r() + r() - 1.5) * 2;
    if (levels) v = Math.round(v * levels) / levels;
    if (r() < 0.02) v = r() < 0.5 ? 0 : -0;
    out[i] = v;
  }
  return out;
}

/** Reference: the k smallest |x| by a full stable sort (ties: reading order). */
function bruteForce(all: Float32Array, k: number): Uint8Array {
  const keys = magnitudeKeys(all);
  const order = Array.from(keys, (_, i) => i).sort((a, b) => keys[a] - keys[b] || a - b);
  const keep = new Uint8Array(all.length).fill(1);
  for (let i = 0; i < k; i++) keep[order[i]] = 0;
  return keep;
}

/**
 * The keep-mask of a cut of the k smallest |x| over `all` split into tensors of `chunk` values, two ways:
 * magnitudeCut over the chunks (the per-layer path) and globalMagnitudeCut with each tensor pruned on its
 * own by zeroBelowCut, last tensor first (the streamed global path: tensors may be written in any order).
 * Both must agree; the values zeroed must be exactly those the mask drops.
 */
function cutKeep(all: Float32Array, k: number, chunk = 1 << 30): Uint8Array {
  const starts: number[] = [];
  for (let s = 0; s < all.length; s += chunk) starts.push(s);
  const parts = starts.map((s) => all.slice(s, Math.min(all.length, s + chunk)));
  const one = magnitudeCut(() => parts, all.length, k);
  assert.equal(one.below + one.ties, k);
  const { cut, ties } = globalMagnitudeCut(parts.length, (i) => parts[i], all.length, k);
  assert.deepEqual(cut, one, 'the same cut both ways');
  // Placed in advance by a sample, the cut needs one reading pass; a misleading sample costs a second.
  let reads = 0;
  const counted = (i: number) => (reads++, parts[i]);
  const sampled = globalMagnitudeCut(parts.length, counted, all.length, k, (i) =>
    parts[i].filter((_, j) => j % 7 === 3),
  );
  assert.deepEqual(sampled, { cut, ties }, 'the same cut from a sampled window');
  if (k > 0 && all.length > 16_384) assert.equal(reads, parts.length, `one pass: n ${all.length}, k ${k}`);
  const misled = globalMagnitudeCut(
    parts.length,
    (i) => parts[i],
    all.length,
    k,
    (i) => parts[i].map((x) => x * 1e6),
  );
  assert.deepEqual(misled, { cut, ties }, 'the same cut when the sample misleads');
  assert.equal(
    ties.reduce((a, b) => a + b, 0),
    cut.ties,
    'every tie placed',
  );
  const keep = new Uint8Array(all.length);
  let pruned = 0;
  for (let i = parts.length - 1; i >= 0; i--) {
    const values = parts[i].slice();
    const part = new Uint8Array(values.length);
    const c = zeroBelowCut(values, cut.threshold, ties[i], part);
    for (let j = 0; j < values.length; j++) {
      if (!part[j]) pruned++;
      assert.ok(
        part[j] ? Object.is(values[j], parts[i][j]) : Object.is(values[j], 0),
        `value ${j} of part ${i}`,
      );
    }
    assert.equal(c.nnz, values.filter((v) => v !== 0).length);
    // The branch-free loop measures what the plain mask loop measures (the error as a difference of sums).
    const ref = zeroDropped(parts[i].slice(), part);
    assert.deepEqual({ ...c, error: 0 }, { ...ref, error: 0 });
    assert.ok(Math.abs(c.error - ref.error) <= 1e-12 * ref.energy, `error ${c.error} vs ${ref.error}`);
    if (ref.error === 0) assert.equal(c.error, 0);
    keep.set(part, starts[i]);
  }
  assert.equal(pruned, k, 'exactly k pruned');
  return keep;
}

describe('magnitudeCut', () => {
  it('selects exactly the k smallest magnitudes, ties in reading order (sorted and histogram paths)', () => {
    for (const [n, levels] of [
      [1000, 0],
      [1000, 8],
      [70_000, 0],
      [70_000, 16],
      [200_003, 4],
    ]) {
      const v = values(n, n + levels, levels);
      for (const fraction of [0, 0.1, 0.5, 0.77, 0.999, 1]) {
        const k = Math.round(fraction * n);
        assert.deepEqual(cutKeep(v, k), bruteForce(v, k), `n ${n}, levels ${levels}, k ${k}`);
      }
    }
  });

  it('spans chunks and tensors: a global cut equals one over the concatenation', () => {
    const v = values(90_000, 5, 32);
    const k = 45_000;
    assert.deepEqual(cutKeep(v, k, 7_777), bruteForce(v, k));
  });

  it('ranks NaN above infinity (kept) and 0 with -0 (pruned first)', () => {
    const v = new Float32Array([NaN, 0, Infinity, -0, -1, 2, -Infinity, 0.5]);
    assert.deepEqual([...cutKeep(v, 5)], [1, 0, 1, 0, 0, 0, 1, 0]);
    assert.throws(() => magnitudeCut(() => [v], 8, 9), RangeError);
  });
});

/** Every group of M along `axis` keeps at most N, and the kept are the group's largest |x|. */
function checkNm(v: Float32Array, keep: Uint8Array, dims: number[], axis: number, n: number, m: number) {
  const { outer, size, inner } = splitAxis(dims, axis);
  let groups = 0;
  for (let o = 0; o < outer; o++)
    for (let g = 0; g < size; g += m)
      for (let j = 0; j < inner; j++) {
        const at = Array.from({ length: Math.min(m, size - g) }, (_, s) => (o * size + g + s) * inner + j);
        const kept = at.filter((i) => keep[i]);
        const dropped = at.filter((i) => !keep[i]);
        assert.equal(kept.length, Math.min(n, at.length), `group ${o}/${g}/${j}`);
        const minKept = Math.min(...kept.map((i) => Math.abs(v[i])));
        for (const i of dropped)
          assert.ok(Math.abs(v[i]) <= minKept, `a dropped weight outweighs a kept one at ${i}`);
        groups++;
      }
  return groups;
}

describe('nmKeepMask', () => {
  const cases: [string, number[], number, number, number][] = [
    ['MatMul B [K, N], axis 0, 2:4', [16, 6], 0, 2, 4],
    ['Gemm transB [N, K], axis 1, 2:4', [5, 12], 1, 2, 4],
    ['Conv [O, I, kh, kw], axis 1, 4:8', [3, 16, 3, 2], 1, 4, 8],
    ['Conv with a trailing partial group (I = 6), 2:4', [4, 6, 3], 1, 2, 4],
    ['ties everywhere, 1:4', [8, 8], 0, 1, 4],
  ];
  for (const [what, dims, axis, n, m] of cases) {
    it(`keeps the N largest of every M: ${what}`, () => {
      const count = dims.reduce((a, b) => a * b, 1);
      const v = values(count, count, what.startsWith('ties') ? 2 : 0);
      const keep = nmKeepMask(v, dims, axis, n, m);
      assert.ok(checkNm(v, keep, dims, axis, n, m) > 0);
      // The inspector's N:M compliance (an independent counter) agrees on the pruned values.
      const pruned = v.map((x, i) => (keep[i] ? x : 0));
      if (!what.startsWith('ties')) {
        const metrics = new LayoutMetrics(
          { dims, reductionAxis: axis, channelAxis: axis === 0 ? 1 : 0 },
          count,
          { n, m },
        );
        const zeros = Uint8Array.from(pruned, (x) => (x === 0 ? 1 : 0));
        metrics.scan(zeros, zeros.length);
        assert.equal(metrics.result().nm!.ratio, 1);
      }
    });
  }

  it('refuses a pattern that is not N < M', () => {
    assert.throws(() => nmKeepMask(new Float32Array(8), [8], 0, 4, 4), RangeError);
  });
});

describe('channelKeepMask', () => {
  it('zeroes whole output channels, the smallest L2 norms, round(ratio × C) of them', () => {
    for (const [dims, axis] of [
      [[10, 3, 3, 3], 0],
      [[12, 7], 1],
      [[7, 12], 0],
    ] as [number[], number][]) {
      const count = dims.reduce((a, b) => a * b, 1);
      const v = values(count, 99 + count);
      const { keep, zeroed, norms } = channelKeepMask(v, dims, axis, 0.3);
      const C = dims[axis];
      assert.equal(zeroed.length, Math.round(0.3 * C));
      const { outer, size, inner } = splitAxis(dims, axis);
      for (let c = 0; c < size; c++) {
        const all = [];
        for (let o = 0; o < outer; o++)
          for (let j = 0; j < inner; j++) all.push(keep[(o * size + c) * inner + j]);
        assert.ok(
          all.every((k) => k === (zeroed.includes(c) ? 0 : 1)),
          `channel ${c} is whole`,
        );
      }
      const maxZeroed = Math.max(...zeroed.map((c) => norms[c]));
      for (let c = 0; c < C; c++) if (!zeroed.includes(c)) assert.ok(norms[c] >= maxZeroed);
    }
  });
});

/**
 * x[1,8] → MatMul W1 [8,16] → Add b1 [16] → LayerNormalization (g, beta) → MatMul W2 [16,12] → Gemm W3 (transB)
 * [4,12] with C [4]; an embedding table read by Gather, and a `window` constant multiplied in.
 */
function fixture(): Uint8Array {
  const t = (name: string, dims: number[], seed: number) =>
    floatTensor(
      name,
      dims,
      Array.from(
        values(
          dims.reduce((a, b) => a * b, 1),
          seed,
        ),
      ),
    );
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      input: [
        valueInfo('x', [1, 8]),
        { name: 'ids', type: { tensorType: { elemType: 7, shape: { dim: [{ dimValue: 2 }] } } } },
      ],
      output: [valueInfo('y', [1, 4]), valueInfo('e', [2, 8])],
      initializer: [
        t('W1', [8, 16], 1),
        t('b1', [16], 2),
        t('g', [16], 3),
        t('beta', [16], 4),
        t('W2', [16, 12], 5),
        t('W3', [4, 12], 6),
        t('C', [4], 7),
        t('table', [10, 8], 8),
        t('hann_window', [12], 9),
      ],
      node: [
        { opType: 'MatMul', input: ['x', 'W1'], output: ['h1'], name: 'mm1' },
        { opType: 'Add', input: ['h1', 'b1'], output: ['h2'], name: 'add1' },
        {
          opType: 'LayerNormalization',
          input: ['h2', 'g', 'beta'],
          output: ['h3'],
          name: 'ln',
          attribute: [{ name: 'axis', type: 2, i: -1 }],
        },
        { opType: 'MatMul', input: ['h3', 'W2'], output: ['h4'], name: 'mm2' },
        { opType: 'Mul', input: ['h4', 'hann_window'], output: ['h5'], name: 'win' },
        {
          opType: 'Gemm',
          input: ['h5', 'W3', 'C'],
          output: ['y'],
          name: 'gemm',
          attribute: [{ name: 'transB', type: 2, i: 1 }],
        },
        { opType: 'Gather', input: ['table', 'ids'], output: ['e'], name: 'emb' },
      ],
    },
  }).finish();
}

describe('prune targets and planPrune', () => {
  const bytes = fixture();
  const index = indexModel(new MemoryByteSource(bytes));
  const byName = (n: string) => index.tensors.find((t) => t.name === n)!;
  const plan = (o: Partial<PruneOptions>) =>
    planPrune(index, new MemoryByteSource(bytes), () => new MemoryByteSource(new Uint8Array()), {
      ...DEFAULT_PRUNE_OPTIONS,
      ...o,
    });
  const after = (p: ReturnType<typeof plan>, name: string) => {
    const out = materialize(planWrite(index, new MemoryByteSource(bytes), p.edits).model, bytes);
    const outIndex = indexModel(new MemoryByteSource(out));
    const t = outIndex.tensors.find((x) => x.name === name)!;
    return collectValues(
      tensorValues(t, new MemoryByteSource(out), () => new MemoryByteSource(new Uint8Array())),
    );
  };

  it('classifies tensors by the ops and slots that read them', () => {
    const kinds = Object.fromEntries(index.tensors.map((t) => [t.name, pruneKind(index, t)]));
    assert.deepEqual(kinds, {
      W1: 'matrix',
      b1: 'bias',
      g: 'norm',
      beta: 'norm',
      W2: 'matrix',
      W3: 'matrix',
      C: 'bias',
      table: 'embedding',
      hann_window: 'constant',
    });
  });

  it('prunes matrices only unless asked; --keep-first-last leaves the first and last layer dense', () => {
    const names = (o: Parameters<typeof selectTargets>[1]) =>
      selectTargets(index, o).targets.map((x) => x.tensor.name);
    const base = { include: [], keepFirstLast: false, needsLayout: false };
    assert.deepEqual(names(base), ['W1', 'W2', 'W3']);
    assert.deepEqual(names({ ...base, keepFirstLast: true }), ['W2']);
    assert.deepEqual(names({ ...base, include: ['bias', 'norm', 'embedding', 'constant'] }), [
      'W1',
      'b1',
      'g',
      'beta',
      'W2',
      'W3',
      'C',
      'table',
      'hann_window',
    ]);
    assert.deepEqual(names({ ...base, exclude: /^W2$/ }), ['W1', 'W3']);
    const skipped = selectTargets(index, { ...base, keepFirstLast: true }).skipped;
    assert.match(skipped.find((s) => s.name === 'W1')!.reason, /first layer/);
    assert.match(skipped.find((s) => s.name === 'W3')!.reason, /last layer/);
    assert.match(skipped.find((s) => s.name === 'table')!.reason, /--include embedding/);
  });

  it('per layer: every weight reaches round(s × count) zeros, and only zeros change', () => {
    const p = plan({ sparsity: 0.3 });
    for (const row of p.tensors) {
      const before = collectValues(
        tensorValues(
          byName(row.name),
          new MemoryByteSource(bytes),
          () => new MemoryByteSource(new Uint8Array()),
        ),
      );
      const v = after(p, row.name);
      const zeros = v.filter((x) => x === 0).length;
      assert.equal(zeros, Math.max(Math.round(0.3 * row.count), row.zerosBefore), row.name);
      assert.equal(row.zerosAfter, zeros);
      for (let i = 0; i < v.length; i++) assert.ok(v[i] === 0 || v[i] === before[i]);
    }
  });

  it('global: one threshold, round(s × total) zeros across the weights', () => {
    const p = plan({ sparsity: 0.6, scope: 'global' });
    const total = p.tensors.reduce((s, r) => s + r.count, 0);
    assert.equal(p.summary.zerosAfter, Math.round(0.6 * total));
    let maxPruned = 0;
    let minKept = Infinity;
    for (const row of p.tensors) {
      const before = collectValues(
        tensorValues(
          byName(row.name),
          new MemoryByteSource(bytes),
          () => new MemoryByteSource(new Uint8Array()),
        ),
      );
      const v = after(p, row.name);
      for (let i = 0; i < v.length; i++) {
        if (v[i] === 0) maxPruned = Math.max(maxPruned, Math.abs(before[i]));
        else minKept = Math.min(minKept, Math.abs(before[i]));
      }
    }
    assert.ok(maxPruned <= minKept, `pruned up to ${maxPruned}, kept from ${minKept}`);
    assert.equal(p.summary.threshold, maxPruned);
    // Layers differ: a global cut does not give every layer the same share.
    const shares = new Set(p.tensors.map((r) => r.sparsityAfter.toFixed(3)));
    assert.ok(shares.size > 1);
  });

  it("N:M along each weight's reduction axis; channels along its output axis", () => {
    const nm = plan({ method: 'nm', n: 2, m: 4 });
    const axes: Record<string, number> = { W1: 0, W2: 0, W3: 1 };
    for (const row of nm.tensors) {
      const t = byName(row.name);
      const v = Float32Array.from(after(nm, row.name));
      assert.equal(row.pattern, `2:4 along axis ${axes[row.name]}`);
      checkNm(
        v,
        Uint8Array.from(v, (x) => (x !== 0 ? 1 : 0)),
        t.dims,
        axes[row.name],
        2,
        4,
      );
      assert.equal(row.sparsityAfter, 0.5);
    }
    const ch = plan({ method: 'channel', sparsity: 0.25 });
    const outAxes: Record<string, number> = { W1: 1, W2: 1, W3: 0 };
    for (const row of ch.tensors) {
      assert.equal(row.channels!.axis, outAxes[row.name]);
      assert.equal(row.channels!.zeroed.length, Math.round(0.25 * row.channels!.total));
    }
  });

  it('stores sparse only where that is smaller, and says why not', () => {
    const dense = plan({ sparsity: 0.5, storage: 'sparse' });
    assert.ok(dense.tensors.every((r) => r.storage === 'dense' && /dense is smaller/.test(r.note!)));
    assert.ok(dense.edits.every((e) => e.kind === 'replaceTensor'));
    const sparse = plan({ sparsity: 0.9, storage: 'sparse' });
    assert.ok(sparse.tensors.every((r) => r.storage === 'sparse_initializer'));
    for (const r of sparse.tensors) assert.equal(r.sparseBytes, (r.count - r.zerosAfter) * 12);
    assert.ok(sparse.warnings.some((w) => /densifies/.test(w)));
  });
});
