// Shrink objective benchmark, called by the bench runner (test/bench/bench.ts, BENCH_ONLY=shrinkobjective): the
// generated wide MLP of the compact bench shrunk to one target three ways — precisions only, with the
// structural choices (--choices rank50,width25) for the smallest size, and for the lowest latency — with
// each model's size, median onnxruntime-node latency (interleaved runs, one session per model) and held-out
// fidelity side by side. Figures, not a test. Run alone: node dist/test/bench/shrinkObjectiveBench.js
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ShrinkReport } from '../../src/core/shrink/shrinkReport';
import { absoluteRow, row } from './benchRows';
import { medians, wideMlp } from './compactBench';

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'dist/cli.js');
const TARGET = 'cosine>=0.99';

/** One shrink run's report (exit 3 — written, held-out miss — is still measured) and its wall time. */
function shrink(model: string, out: string, extra: string[]): { report: ShrinkReport; seconds: number } {
  const t0 = performance.now();
  let stdout: string;
  try {
    stdout = execFileSync(
      'node',
      [cli, 'shrink', model, '--target', TARGET, '-o', out, '--json', '--force', ...extra],
      { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] },
    );
  } catch (e) {
    stdout = (e as { stdout?: string }).stdout ?? '';
    if (!stdout) throw e;
  }
  return { report: JSON.parse(stdout) as ShrinkReport, seconds: (performance.now() - t0) / 1000 };
}

/** Precisions only vs --choices for size vs --choices for latency, at one target. */
export async function benchShrinkObjective(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-bench-objective-'));
  try {
    const model = path.join(dir, 'wide_mlp.onnx');
    fs.writeFileSync(model, wideMlp());
    const ways = [
      { key: 'precisions only', extra: [] as string[] },
      { key: '--choices, --objective size', extra: ['--choices', 'rank50,width25'] },
      {
        key: '--choices, --objective latency',
        extra: ['--choices', 'rank50,width25', '--objective', 'latency'],
      },
    ].map((w, i) => {
      const out = path.join(dir, `shrunk${i}.onnx`);
      return { ...w, out, ...shrink(model, out, w.extra) };
    });
    const ms = await medians([model, ...ways.map((w) => w.out)], 30);
    console.log(`\nshrink objective: wide MLP 4 × 512→2048→512, x[1,64,512], --target "${TARGET}"`);
    row('  original', `${(fs.statSync(model).size / 1e6).toFixed(2)} MB`, '', undefined);
    row('  original median ORT latency (30 runs)', `${ms[0].toFixed(2)} ms`, '', undefined);
    for (const [i, w] of ways.entries()) {
      const s = w.report.summary;
      const mix = Object.entries(s.layers)
        .filter(([, n]) => n > 0)
        .map(([id, n]) => `${n} ${id}`)
        .join(', ');
      row(`${w.key} (${w.seconds.toFixed(1)} s)`, `${(s.bytesAfter / 1e6).toFixed(2)} MB`, '', undefined);
      row(`  median ORT latency (30 runs)`, `${ms[i + 1].toFixed(2)} ms`, '', undefined);
      row(
        `  held-out cosine`,
        s.heldOut?.value === undefined ? 'not measured' : s.heldOut.value.toFixed(5),
        `${TARGET}`,
        s.heldOut?.met,
      );
      row(`  layers`, mix, '', undefined);
    }
    const [p, size, latency] = ways.map((w) => w.report.summary.bytesAfter);
    console.log(
      absoluteRow(
        '--choices size: smaller than precisions only by',
        (1 - size / p) * 100,
        '%',
        { atLeast: 0 },
        1,
      ),
    );
    console.log(
      absoluteRow(
        // Two medians of one machine shared with other work differ by a few percent run to run: "not
        // slower" allows that much.
        '--objective latency: faster than size by',
        (1 - ms[3] / ms[2]) * 100,
        '%',
        { atLeast: -5 },
        1,
      ),
    );
    row('  (latency objective bytes)', `${(latency / 1e6).toFixed(2)} MB`, '', undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Bundled into bench.js too, where require.main is also this module: run only as shrinkObjectiveBench.js.
if (require.main === module && /shrinkObjectiveBench\.js$/.test(process.argv[1] ?? ''))
  benchShrinkObjective().catch((e) => {
    console.error(e);
    process.exit(1);
  });
