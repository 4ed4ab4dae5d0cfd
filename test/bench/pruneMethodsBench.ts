// Data-aware pruning benchmark, part of the prune bench (pruneBench.ts): magnitude, Wanda and SparseGPT side
// by side at 50% unstructured and at 2:4 on the test models with MatMul/Gemm weights, each compared with
// the original in onnxruntime-node on held-out inputs (verification seeds 1–48; the calibration uses
// 1001+) — figures and a target row computed from them, not a test.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PruneReport } from '../../src/core/prune/pruneReport';
import { TEST_MODELS } from '../testModels';
import { formatRow } from './benchRows';
import { heldOutSqnrDb, HELD_OUT_SEEDS } from './heldOutSqnr';

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'dist/cli.js');

/** The test models with MatMul/Gemm weights the methods are compared on (see test/models/README.md). */
export const PRUNE_METHOD_MODELS = [
  'tiny_bert_random_inline.onnx',
  'ortgenai_tiny_random_gpt2_fp32_past.onnx',
  'openwakeword_hello_deepa.onnx',
  'dtln_model_2.onnx',
];

/** Held-out output SQNR a data-aware method must gain over magnitude on a model to count as beating it. */
export const BEAT_MARGIN_DB = 1;

/** The two patterns compared: 50% unstructured (magnitude per layer) and 2:4 (magnitude = --method nm). */
export const PATTERNS = [
  { label: '50%', magnitude: ['--method', 'magnitude', '--sparsity', '0.5'], extra: ['--sparsity', '0.5'] },
  { label: '2:4', magnitude: ['--method', 'nm', '--n', '2', '--m', '4'], extra: ['--n', '2', '--m', '4'] },
] as const;

/** `big-shrink prune MODEL ARGS --no-verify --json -o OUT`: the written model and its report. */
export function pruneTo(
  model: string,
  args: readonly string[],
  out: string,
): { out: string; report: PruneReport } {
  const r = spawnSync('node', [cli, 'prune', model, ...args, '--no-verify', '--force', '--json', '-o', out], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`prune ${path.basename(model)} ${args.join(' ')}: ${r.stderr}`);
  return { out, report: JSON.parse(r.stdout) as PruneReport };
}

/** One model and pattern: held-out SQNR of each method, and how many weights each data-aware run pruned on data. */
export interface MethodFigures {
  magnitude: number;
  wanda: number;
  sparsegpt: number;
  onData: { wanda: number; sparsegpt: number };
  /** MatMul/Gemm weights each data-aware run solved (dataAware.layers). */
  layers: { wanda: number; sparsegpt: number };
  weights: number;
  /** The data-aware reports, by method. */
  reports: { wanda?: PruneReport; sparsegpt?: PruneReport };
}

/** Prunes `model` three ways with `pattern` and measures each on the held-out seeds. */
export async function compareMethods(
  model: string,
  pattern: (typeof PATTERNS)[number],
  dir: string,
): Promise<MethodFigures> {
  const stem = path.join(dir, `${path.basename(model, '.onnx')}.${pattern.label.replace(/\W/g, '')}`);
  const mag = pruneTo(model, pattern.magnitude, `${stem}.magnitude.onnx`);
  const figures: MethodFigures = {
    magnitude: await heldOutSqnrDb(model, mag.out),
    wanda: 0,
    sparsegpt: 0,
    onData: { wanda: 0, sparsegpt: 0 },
    layers: { wanda: 0, sparsegpt: 0 },
    weights: mag.report.tensors.length,
    reports: {},
  };
  for (const method of ['wanda', 'sparsegpt'] as const) {
    const r = pruneTo(model, ['--method', method, ...pattern.extra], `${stem}.${method}.onnx`);
    figures[method] = await heldOutSqnrDb(model, r.out);
    figures.onData[method] = r.report.tensors.filter((t) => t.method === method).length;
    figures.layers[method] = r.report.dataAware?.layers.length ?? 0;
    figures.reports[method] = r.report;
  }
  return figures;
}

/** Prints the three methods side by side per model and pattern, and the target row. */
export async function benchPruneMethods(): Promise<void> {
  console.log(
    `\ndata-aware pruning: worst output SQNR over held-out seeds ${HELD_OUT_SEEDS[0]}–${HELD_OUT_SEEDS.at(-1)} (energies summed; calibration seeds 1001+)`,
  );
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-prunebench-'));
  let measured = 0;
  let beaten = 0;
  try {
    for (const name of PRUNE_METHOD_MODELS) {
      const model = path.join(TEST_MODELS, name);
      for (const pattern of PATTERNS) {
        const label = `  ${name} ${pattern.label}`.padEnd(50);
        try {
          const t0 = performance.now();
          const f = await compareMethods(model, pattern, tmp);
          const gain = (x: number) => `${x - f.magnitude >= 0 ? '+' : ''}${(x - f.magnitude).toFixed(2)}`;
          console.log(
            `${label} magnitude ${f.magnitude.toFixed(2)}  wanda ${f.wanda.toFixed(2)} (${gain(f.wanda)})  ` +
              `sparsegpt ${f.sparsegpt.toFixed(2)} (${gain(f.sparsegpt)}) dB; on data ${f.onData.wanda}/${f.onData.sparsegpt} of ${f.weights} weights, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
          );
          measured++;
          if (Math.max(f.wanda, f.sparsegpt) - f.magnitude >= BEAT_MARGIN_DB) beaten++;
        } catch (e) {
          console.log(`${label} not measured: ${(e as Error).message.split('\n')[0]}`);
        }
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const cases = PRUNE_METHOD_MODELS.length * PATTERNS.length;
  console.log(
    formatRow(
      'wanda/sparsegpt beat magnitude on held-out data',
      measured ? `${beaten} of ${measured} cases` : 'not measured',
      `all ${cases}, ≥ ${BEAT_MARGIN_DB} dB`,
      measured === cases && beaten === cases,
    ),
  );
}
