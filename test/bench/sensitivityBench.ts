// Sensitivity benchmark, called by the bench runner (test/bench/bench.ts): the per-layer candidates of two
// test models measured by one worker thread and by two, each with one onnxruntime thread — the speed-up
// of the second core, printed with its target (figures, not a test: the machine may be shared).
import * as path from 'node:path';
import { measureSensitivity, type SensitivityReport } from '../../src/runtime/sensitivity';
import { TEST_MODELS } from '../testModels';

const models = TEST_MODELS;

/** Same row format as bench.ts: what, value, target, met/MISSED. */
const row = (what: string, value: string, target: string, ok: boolean | undefined) =>
  console.log(
    `${what.padEnd(46)} ${value.padStart(14)}   target ${target.padEnd(22)} ${ok === undefined ? '' : ok ? 'met' : 'MISSED'}`,
  );

/** Time spent on the candidates (after the original ran once), best of `runs`. */
async function candidatesMs(model: string, workers: number, runs = 2): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const r: SensitivityReport = await measureSensitivity(model, { bits: 4, workers });
    best = Math.min(best, r.timings.totalMs - r.timings.originalMs);
  }
  return best;
}

export async function benchSensitivity(): Promise<void> {
  console.log('\nsensitivity: candidates on 1 vs 2 worker threads (4-bit, one ORT thread per worker)');
  for (const name of ['tiny_bert_random_inline.onnx', 'ortgenai_tiny_random_gpt2_fp32_past.onnx']) {
    const model = path.join(models, name);
    const one = await candidatesMs(model, 1);
    const two = await candidatesMs(model, 2);
    row(`sensitivity ${name.replace(/\.onnx$/, '')} 1 worker`, `${one.toFixed(0)} ms`, '', undefined);
    row(`sensitivity ${name.replace(/\.onnx$/, '')} 2 workers`, `${two.toFixed(0)} ms`, '', undefined);
    row(`  speed-up of 2 workers`, `${(one / two).toFixed(2)}x`, '>= 1.5x on 2 cores', one / two >= 1.5);
  }
}
