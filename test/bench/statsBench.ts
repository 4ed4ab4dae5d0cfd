// Micro benchmark of computeStats on float32 weights in memory (no I/O): one core, both passes.
// The bench runner calls benchStats(); it prints nothing itself.
import { computeStats } from '../../src/core/stats/computeStats';
import { valuesOf, type ValueStream } from '../../src/core/tensor/valueStream';

/** Heavy-tailed float32 weights with some zeros and outliers, from a fixed seed. */
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

/** Best of `repeats` runs: wall-clock seconds and CPU seconds of this process. */
function time(run: () => void, repeats: number): { wall: number; cpu: number } {
  let wall = Infinity;
  let cpu = Infinity;
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run();
    const used = process.cpuUsage(c0);
    wall = Math.min(wall, (performance.now() - t0) / 1000);
    cpu = Math.min(cpu, (used.user + used.system) / 1e6);
  }
  return { wall, cpu };
}

export interface StatsBenchResult {
  /** MB/s of computeStats without layout metrics (wall clock, best of three). */
  mbPerSec: number;
  /** The same with 2:4 compliance and zero channels of a [K, N] MatMul weight. */
  mbPerSecWithLayout: number;
  /** Both measured in CPU time of this process: the figure that a busy machine does not distort. */
  cpuMbPerSec: number;
  cpuMbPerSecWithLayout: number;
}

/**
 * computeStats over a 100 MB Float32Array in 1M-element chunks (as tensorValues yields them from raw or
 * external data), on one core.
 */
export function benchStats(bytes = 100_000_000): StatsBenchResult {
  const values = makeWeights(bytes);
  const stream: ValueStream = valuesOf(values, 1 << 20);
  const n = 5000;
  const layout = { dims: [values.length / n, n], reductionAxis: 0, channelAxis: 1 };
  computeStats(valuesOf(values.subarray(0, 1 << 22), 1 << 20), {
    layout: { ...layout, dims: [(1 << 22) / 4096, 4096] },
  });
  const plain = time(() => computeStats(stream), 3);
  const withLayout = time(() => computeStats(stream, { layout }), 3);
  const mb = bytes / 1e6;
  return {
    mbPerSec: mb / plain.wall,
    mbPerSecWithLayout: mb / withLayout.wall,
    cpuMbPerSec: mb / plain.cpu,
    cpuMbPerSecWithLayout: mb / withLayout.cpu,
  };
}
