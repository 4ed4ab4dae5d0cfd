// Micro benchmark of computeStats on float32 weights in memory (no I/O): one core, both passes.
// Called by the bench runner; prints nothing itself. Run alone: `node dist/test/bench/statsBench.js`
// after bundling it as an entry point.
import { computeStats } from '../../src/core/stats/computeStats';
import { valuesOf } from '../../src/core/tensor/valueStream';

/** 100 MB of heavy-tailed float32 weights with some zeros, from a fixed seed. */
function makeWeights(bytes: number): Float32Array {
  const values = new Float32Array(bytes / 4);
  let seed = 0x12345678;
  for (let i = 0; i < values.length; i++) {
    // xorshift32 and a cheap bell shape (sum of three uniforms), a few outliers and zeros.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    const u = (seed >>> 0) / 4294967296;
    const bell = (u + ((seed >>> 7) & 0xffff) / 65536 + ((seed >>> 3) & 0xff) / 256 - 1.5) * 0.02;
    values[i] = (seed & 0x3ff) === 0 ? bell * 40 : (seed & 0x3f) === 1 ? 0 : bell;
  }
  return values;
}

function time(run: () => void, repeats: number): number {
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, performance.now() - t0);
  }
  return best / 1000;
}

/**
 * computeStats over a 100 MB Float32Array in 1M-element chunks (as tensorValues yields them): the best of
 * three runs after a warm-up, in MB/s; `mbPerSecWithLayout` adds 2:4 compliance and zero channels of a
 * [K, N] MatMul weight.
 */
export function benchStats(bytes = 100_000_000): { mbPerSec: number; mbPerSecWithLayout: number } {
  const values = makeWeights(bytes);
  const stream = valuesOf(values, 1 << 20);
  const layout = { dims: [values.length / 5000, 5000], reductionAxis: 0, channelAxis: 1 };
  computeStats(valuesOf(values.subarray(0, 1 << 22)), { layout: { ...layout, dims: [(1 << 22) / 4096, 4096] } });
  const plain = time(() => computeStats(stream), 3);
  const withLayout = time(() => computeStats(stream, { layout }), 3);
  return { mbPerSec: bytes / 1e6 / plain, mbPerSecWithLayout: bytes / 1e6 / withLayout };
}

if (require.main === module) console.log(JSON.stringify(benchStats()));
