import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { dequantizedView } from '../../src/core/inspect/dequantizedView';
import type { PruneReport } from '../../src/core/prune/pruneReport';
import { parseSafetensors } from '../../src/core/prune/safetensors';
import { collectValues } from '../../src/core/tensor/valueStream';
import { openModel } from '../../src/runtime/openModel';
import { compareMethods, PATTERNS } from '../bench/pruneMethodsBench';
import { TEST_MODELS } from '../testModels';
import { FIXTURES, LLAMA_TOKENIZER, python } from './dataTestKit';

const REPO = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-prunedata-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = (...args: string[]) =>
  spawnSync('node', [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
const model = (name: string) => path.join(TEST_MODELS, name);

/**
 * Held-out output SQNR (verification seeds 1–48, never calibrated on: the calibration uses seeds 1001+,
 * the per-layer held-out check 2001+) that each method must gain over magnitude pruning (per layer at 50%,
 * `--method nm` at 2:4) on the same model, and the MatMul/Gemm weights each data-aware run must solve.
 * Magnitude pruning is the old code: it cannot meet a positive margin over itself. A method whose margin
 * is 0 must still not lose. Figures today (dB over magnitude, wanda / sparsegpt): tiny_bert 50% +1.8 /
 * +2.3, 2:4 +0.3 / +1.5; tiny GPT-2 50% +0.1 / +1.2, 2:4 +0.6 / +1.9; hello_deepa 50% +1.4 / +0.4.
 */
const CASES: { file: string; pattern: '50%' | '2:4'; wanda: number; sparsegpt: number; layers: number }[] = [
  { file: 'tiny_bert_random_inline.onnx', pattern: '50%', wanda: 1, sparsegpt: 1, layers: 14 },
  { file: 'tiny_bert_random_inline.onnx', pattern: '2:4', wanda: 0, sparsegpt: 1, layers: 14 },
  { file: 'ortgenai_tiny_random_gpt2_fp32_past.onnx', pattern: '50%', wanda: 0, sparsegpt: 1, layers: 16 },
  { file: 'ortgenai_tiny_random_gpt2_fp32_past.onnx', pattern: '2:4', wanda: 0, sparsegpt: 1, layers: 16 },
  { file: 'openwakeword_hello_deepa.onnx', pattern: '50%', wanda: 1, sparsegpt: 0, layers: 3 },
];

describe('wanda and sparsegpt beat magnitude on held-out inputs (test models)', () => {
  for (const c of CASES) {
    it(`${c.file} ${c.pattern}: wanda ≥ magnitude + ${c.wanda} dB, sparsegpt ≥ magnitude + ${c.sparsegpt} dB`, async (t) => {
      const pattern = PATTERNS.find((p) => p.label === c.pattern)!;
      const f = await compareMethods(model(c.file), pattern, tmp);
      t.diagnostic(
        `magnitude ${f.magnitude.toFixed(2)} dB, wanda ${f.wanda.toFixed(2)} dB (${f.onData.wanda} on data), sparsegpt ${f.sparsegpt.toFixed(2)} dB (${f.onData.sparsegpt} on data)`,
      );
      for (const method of ['wanda', 'sparsegpt'] as const) {
        // Pruned on data, not silently by magnitude: the report's per-weight method says so.
        assert.equal(f.layers[method], c.layers, `${method}: MatMul/Gemm weights solved`);
        const share = c[method] > 0 ? 0.8 : 0.5;
        assert.ok(
          f.onData[method] >= share * c.layers,
          `${method}: ${f.onData[method]} of ${c.layers} weights pruned on data`,
        );
        const gain = f[method] - f.magnitude;
        assert.ok(gain >= c[method], `${method}: ${f[method]} dB vs magnitude ${f.magnitude} dB`);
      }
    });
  }
});

describe('prune --method wanda|sparsegpt (CLI)', () => {
  it('names the outputs, reports the per-weight method, the calibration and the fallbacks', (t) => {
    const work = fs.mkdtempSync(path.join(tmp, 'names-'));
    t.after(() => fs.rmSync(work, { recursive: true, force: true }));
    const gpt2 = path.join(work, 'gpt2.onnx');
    fs.copyFileSync(model('ortgenai_tiny_random_gpt2_fp32_past.onnx'), gpt2);
    for (const [args, name] of [
      [['--method', 'wanda'], 'gpt2.wanda50.onnx'],
      [['--method', 'wanda', '--n', '2', '--m', '4'], 'gpt2.wanda2of4.onnx'],
      [['--method', 'sparsegpt', '--sparsity', '0.6'], 'gpt2.sparsegpt60.onnx'],
      [['--method', 'sparsegpt', '--n', '2', '--m', '4'], 'gpt2.sparsegpt2of4.onnx'],
    ] as const) {
      const r = cli('prune', gpt2, ...args, '--no-verify', '--json');
      assert.equal(r.status, 0, r.stderr);
      assert.ok(fs.existsSync(path.join(work, name)), name);
      const report = JSON.parse(r.stdout) as PruneReport;
      const d = report.dataAware!;
      assert.equal(d.method, args[1]);
      assert.equal(d.calibrationSource, 'synthesized');
      assert.match(d.calibration, /synthesized batches \(seeds 1001–/);
      // The fused Attention's QKV weights are not MatMul/Gemm weights: magnitude (N:M by magnitude), listed.
      const attention = d.fallback.filter((x) =>
        /read by Attention, not as a MatMul\/Gemm weight: magnitude/.test(x.reason),
      );
      assert.equal(attention.length, 5);
      for (const x of attention) {
        const row = report.tensors.find((r) => r.name === x.name)!;
        assert.equal(row.method, args.length > 2 && args[2] === '--n' ? 'nm' : 'magnitude');
      }
      // Every weight has a method; every fallback is a weight pruned by magnitude.
      for (const row of report.tensors) assert.ok(row.method, row.name);
      for (const x of d.fallback)
        assert.match(report.tensors.find((r) => r.name === x.name)!.method!, /^(magnitude|nm)$/);
      const onData = report.tensors.filter((r) => r.method === args[1]).map((r) => r.name);
      const solved = d.layers.filter((l) => l.method === args[1]).map((l) => l.name);
      assert.deepEqual(new Set(onData), new Set(solved));
      assert.ok(onData.length > 0);
      if ((args as readonly string[]).includes('--n')) {
        assert.deepEqual(report.options, { ...report.options, n: 2, m: 4 });
        assert.ok(
          report.tensors.every((r) => /^2:4 along axis \d$/.test(r.pattern ?? '') || r.kind !== 'matrix'),
        );
      }
      const md = fs.readFileSync(path.join(work, name.replace(/\.onnx$/, '.report.md')), 'utf8');
      assert.match(md, new RegExp(`## Data-aware pruning: ${args[1]}`));
      assert.match(md, /synthesized calibration inputs \(no --data\)/);
      assert.match(md, /### Fell back to magnitude/);
    }
  });

  it('calibrates on the --data calibration samples when given', (t) => {
    const work = fs.mkdtempSync(path.join(tmp, 'data-'));
    t.after(() => fs.rmSync(work, { recursive: true, force: true }));
    const lm = path.join(work, 'lm.onnx');
    python([path.join(FIXTURES, 'make_tiny_lm.py'), lm]);
    fs.copyFileSync(LLAMA_TOKENIZER, path.join(work, 'tokenizer.json'));
    const text = path.join(work, 'rows.jsonl');
    const lines = Array.from(
      { length: 8 },
      (_, i) => `Sample ${i}: the ship sailed on the watery part of the world.`,
    );
    fs.writeFileSync(text, lines.map((l) => JSON.stringify({ text: l })).join('\n') + '\n');
    const r = cli('prune', lm, '--method', 'wanda', '--data', text, '--dims', 'sequence_length=8', '--json');
    assert.equal(r.status === 0 || r.status === 3, true, r.stderr);
    const report = JSON.parse(r.stdout) as PruneReport;
    assert.equal(report.data?.source, 'files');
    const d = report.dataAware!;
    assert.equal(d.calibrationSource, 'files');
    assert.match(d.calibration, /^4 calibration samples of /);
    assert.ok(
      d.layers.some((l) => l.name === 'lm_head'),
      'the LM head was pruned on data',
    );
  });

  it('--storage int4: pruned positions dequantize to exactly 0; the model runs in onnxruntime-node', () => {
    for (const args of [
      ['--method', 'wanda'],
      ['--method', 'sparsegpt', '--n', '2', '--m', '4'],
    ]) {
      const stem = path.join(tmp, `tb.${args[1]}.int4`);
      const r = cli(
        'prune',
        model('tiny_bert_random_inline.onnx'),
        ...args,
        '--storage',
        'int4',
        '--save-mask',
        `${stem}.masks.safetensors`,
        '-o',
        `${stem}.onnx`,
        '--json',
      );
      assert.equal(r.status === 0 || r.status === 3, true, r.stderr);
      const report = JSON.parse(r.stdout) as PruneReport;
      assert.equal(report.verification?.ok, true, 'onnxruntime-node ran the pruned 4-bit model');
      const masks = new Map(
        parseSafetensors(fs.readFileSync(`${stem}.masks.safetensors`)).masks.map((m) => [m.name, m]),
      );
      const written = openModel(`${stem}.onnx`);
      let checked = 0;
      try {
        for (const change of report.nodes) {
          const node = written.index.nodes.find((n) => n.name === change.node && n.opType === 'MatMulNBits')!;
          const b = written.index.tensors.find((x) => x.name === node.inputs[1])!;
          const q = collectValues(
            dequantizedView(written.index, b, written.source, written.resolveExternal)!.values,
          );
          const int = (name: string) => node.attributes.find((a) => a.name === name)!.i!;
          const [K, N] = [int('K'), int('N')];
          const keep = masks.get(change.weight)!.data;
          const transB = /transB=1/.test(change.note ?? '');
          let pruned = 0;
          for (let n = 0; n < N; n++)
            for (let k = 0; k < K; k++) {
              if (keep[transB ? n * K + k : k * N + n]) continue;
              pruned++;
              assert.ok(
                q[n * K + k] === 0,
                `${change.weight}[${k}, ${n}] pruned, dequantizes to ${q[n * K + k]}`,
              );
            }
          const row = report.tensors.find((x) => x.name === change.weight)!;
          assert.equal(pruned, row.zerosAfter);
          assert.equal(row.storage, 'MatMulNBits');
          checked++;
        }
      } finally {
        written.close();
      }
      assert.ok(checked >= 12, `${checked} MatMulNBits weights checked`);
      assert.ok(report.tensors.filter((x) => x.method === args[1]).length >= 12);
    }
  });

  it('refuses bad combinations with a usage error (exit 2), writing nothing', () => {
    const out = path.join(tmp, 'bad.onnx');
    const input = model('tiny_bert_random_inline.onnx');
    for (const [args, message] of [
      [['--method', 'wanda', '--scope', 'global'], /--scope global goes with --method magnitude/],
      [['--method', 'sparsegpt', '--n', '2', '--m', '4', '--sparsity', '0.5'], /the sparsity is 1 - N\/M/],
      [['--method', 'wanda', '--n', '4', '--m', '4'], /--n must be smaller than --m/],
      [
        ['--method', 'magnitude', '--calibration-batches', '4'],
        /--calibration-batches goes with --method wanda or sparsegpt/,
      ],
      [
        ['--method', 'channel', '--n', '2', '--m', '4'],
        /--n and --m go with --method nm, wanda or sparsegpt/,
      ],
      [['--method', 'obs'], /--method takes magnitude, nm, channel, wanda, sparsegpt/],
      [
        ['--method', 'wanda', '--mask', path.join(tmp, 'none.safetensors')],
        /--mask decides what to prune: --method/,
      ],
    ] as const) {
      const r = cli('prune', input, ...args, '-o', out);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.ok(!fs.existsSync(out));
    }
  });
});
