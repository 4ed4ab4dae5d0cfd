import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { globalMagnitudeCut, magnitudeKeys } from '../../src/core/prune/magnitudeCut';
import { zeroBelowCut, zeroDropped } from '../../src/core/prune/zeroPruned';
import { setSimdEnabled } from '../../src/core/simd/simdModule';
import { pruneScratch } from '../../src/core/simd/pruneSimd';
import { rng } from './tensorFixtures';

/** Values with many ties (few levels), zeros, -0, NaN, ±Infinity and subnormals. */
function oddValues(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const specials = [0, -0, NaN, Infinity, -Infinity, 1e-45, -3e-45, 1e-39];
  return Float32Array.from({ length: n }, () =>
    r() < 0.1 ? specials[Math.floor(r() * specials.length)] : Math.round((r() - 0.5) * 64) / 16,
  );
}

/** The definition: the keys below the threshold and the first `ties` equal to it, in reading order. */
function expectedKeep(values: Float32Array, threshold: number, ties: number): Uint8Array {
  const keys = magnitudeKeys(values);
  let left = ties;
  return Uint8Array.from(keys, (key) => (key < threshold || (key === threshold && left-- > 0) ? 0 : 1));
}

/** zeroBelowCut on the SIMD kernel or the JS loop, on a copy (in the kernels' memory when asked). */
function run(values: Float32Array, threshold: number, ties: number, simd: boolean, inKernelMemory: boolean) {
  setSimdEnabled(simd);
  try {
    const copy = inKernelMemory ? pruneScratch(values.length)! : new Float32Array(values.length);
    copy.set(values);
    const keep = new Uint8Array(values.length);
    const counts = zeroBelowCut(copy, threshold, ties, keep);
    return {
      counts,
      bytes: Buffer.from(new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength)),
      keep,
    };
  } finally {
    setSimdEnabled(true);
  }
}

describe('pruning on the SIMD kernels', () => {
  after(() => setSimdEnabled(true));

  // Lengths around the groups of four and the kernel's 65,536-value blocks (staged when not in its memory).
  for (const n of [0, 1, 3, 4, 5, 67, 1000, 65_536 + 7, 140_001]) {
    it(`zeroBelowCut on ${n} values: the JS loop's bytes, keep-mask and figures, to the last bit`, () => {
      const values = oddValues(n, n + 11);
      const keys = magnitudeKeys(values).filter((k) => k < 0x7f800000);
      const threshold = n ? keys[Math.floor(keys.length / 3)] : 0;
      const atThreshold = magnitudeKeys(values).filter((k) => k === threshold).length;
      for (const ties of [0, 1, Math.floor(atThreshold / 2), atThreshold]) {
        const js = run(values, threshold, ties, false, false);
        assert.deepEqual(js.keep, expectedKeep(values, threshold, ties), `JS keep-mask, ties ${ties}`);
        for (const inKernelMemory of [false, true]) {
          const simd = run(values, threshold, ties, true, inKernelMemory);
          const where = `ties ${ties}, ${inKernelMemory ? 'in place' : 'staged'}`;
          assert.deepEqual(simd.keep, js.keep, `keep-mask, ${where}`);
          assert.ok(simd.bytes.equals(js.bytes), `pruned bytes, ${where}`);
          assert.deepEqual(simd.counts, js.counts, `figures, ${where}`);
        }
        // The mask-driven loop measures the same figures from the same mask.
        const dropped = zeroDropped(values.slice(), js.keep);
        assert.deepEqual(dropped, js.counts, `zeroDropped, ties ${ties}`);
      }
    });
  }

  it('zeroBelowCut without a keep-mask: the same as with one', () => {
    const values = oddValues(70_001, 5);
    const threshold = magnitudeKeys(values)[17];
    const copy = pruneScratch(values.length)!;
    copy.set(values);
    const counts = zeroBelowCut(copy, threshold, 3);
    const ref = run(values, threshold, 3, false, false);
    assert.deepEqual(counts, ref.counts);
    assert.ok(Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength).equals(ref.bytes));
  });

  it('a global cut placed by a sample: the JS loop’s cut and ties, in one reading pass', () => {
    const parts = [0, 1, 2, 3].map((i) =>
      oddValues(40_000 + 3 * i, 100 + i).map((x) => (Number.isFinite(x) ? x : 0)),
    );
    const total = parts.reduce((s, p) => s + p.length, 0);
    for (const k of [1, Math.floor(total / 3), Math.floor(total / 2), total - 5]) {
      const cuts = [true, false].map((simd) => {
        setSimdEnabled(simd);
        let reads = 0;
        const cut = globalMagnitudeCut(
          parts.length,
          (i) => (reads++, parts[i]),
          total,
          k,
          (i) => parts[i].filter((_, j) => j % 5 === 2),
        );
        setSimdEnabled(true);
        return { cut, reads };
      });
      assert.deepEqual(cuts[0], cuts[1], `k ${k}`);
      assert.equal(cuts[0].reads, parts.length, `k ${k}: one pass`);
      const all = new Float32Array(total);
      parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
      const sorted = magnitudeKeys(all).sort();
      assert.equal(cuts[0].cut.cut.threshold, sorted[k - 1], `k ${k}: the k-th smallest magnitude`);
    }
  });
});
