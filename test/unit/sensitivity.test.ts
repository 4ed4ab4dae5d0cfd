import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_PRUNE_OPTIONS, planPrune } from '../../src/core/prune/planPrune';
import { DEFAULT_QUANTIZE_OPTIONS, planQuantize } from '../../src/core/quant/planQuantize';
import { planWrite } from '../../src/core/write/planWrite';
import { openModel } from '../../src/runtime/openModel';
import {
  measureSensitivity,
  SensitivityCancelledError,
  type SensitivityReport,
} from '../../src/runtime/sensitivity';
import { verifyModels } from '../../src/runtime/verifyModels';
import { writeModel } from '../../src/runtime/writeModel';
import { TEST_MODELS } from '../testModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = TEST_MODELS;
const CLI = path.join(REPO, 'dist', 'cli.js');
const BERT = path.join(MODELS, 'tiny_bert_random_inline.onnx');
const BERT_EXT = path.join(MODELS, 'tiny_bert_random_extdata.onnx');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-sensitivity-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Spearman's rank correlation of two equally long series (average ranks for ties). */
function spearman(a: number[], b: number[]): number {
  const ranks = (v: number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
      for (let k = i; k <= j; k++) r[order[k][1]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i] - ma) * (rb[i] - mb);
    da += (ra[i] - ma) ** 2;
    db += (rb[i] - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

/**
 * The brute force, as a user would do it with the CLI: for each weight, `quantize --exclude` every other
 * weight (an explicit list of names, not sensitivity's own filter), write the model to a file, and compare
 * it with the original through verifyModels (its own inputs and metrics). Worst output SQNR per weight.
 */
async function bruteForce(model: string, names: string[], sparsity?: number) {
  const out = new Map<string, { sqnr: number; cosine: number; weightSqnrDb: number }>();
  for (const name of names) {
    const others = names.filter((n) => n !== name).map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    const file = path.join(tmp, `${name.replace(/[^A-Za-z0-9]/g, '_')}.onnx`);
    const opened = openModel(model);
    let weightSqnrDb: number;
    try {
      const exclude = new RegExp(`^(?:${others.join('|')})$`);
      const plan =
        sparsity === undefined
          ? planQuantize(opened.index, opened.source, opened.resolveExternal, {
              ...DEFAULT_QUANTIZE_OPTIONS,
              exclude,
            })
          : planPrune(opened.index, opened.source, opened.resolveExternal, {
              ...DEFAULT_PRUNE_OPTIONS,
              sparsity,
              exclude,
            });
      assert.deepEqual(
        plan.tensors.map((t) => t.name),
        [name],
      );
      weightSqnrDb = plan.tensors[0].weightSqnrDb;
      writeModel(planWrite(opened.index, opened.source, plan.edits), opened, file, { force: true });
    } finally {
      opened.close();
    }
    // Sensitivity measures on one synthesized sample: the brute force compares on that same one.
    const v = await verifyModels(model, file, { runs: 0, evaluationSamples: 1 });
    assert.ok(v.ok, v.error);
    out.set(name, {
      sqnr: Math.min(...v.outputs.map((o) => o.sqnrDb)),
      cosine: v.minCosine,
      weightSqnrDb,
    });
  }
  return out;
}

describe('sensitivity on tiny_bert_random_inline.onnx (4-bit, block 32)', () => {
  let report: SensitivityReport;
  let brute: Awaited<ReturnType<typeof bruteForce>>;
  before(async () => {
    report = await measureSensitivity(BERT, { bits: 4 });
    brute = await bruteForce(
      BERT,
      report.layers.map((l) => l.name),
    );
  });

  it('measures every MatMul/Gemm weight once, most sensitive first, over a wide spread', () => {
    assert.equal(report.layers.length, 14);
    assert.equal(new Set(report.layers.map((l) => l.name)).size, 14);
    for (const l of report.layers) assert.equal(l.error, undefined, `${l.name}: ${l.error}`);
    const sqnr = report.layers.map((l) => l.outputSqnrDb);
    for (let i = 1; i < sqnr.length; i++) assert.ok(sqnr[i - 1] <= sqnr[i], `not sorted at ${i}`);
    // Not a flat ranking (where any order would correlate by chance): the layers differ by tens of dB.
    assert.ok(sqnr.at(-1)! - sqnr[0] > 20, `spread ${sqnr[0]}…${sqnr.at(-1)}`);
    assert.ok(report.layers.every((l) => l.cosine <= 1 && l.cosine > 0.99 && l.cosineLoss >= 0));
  });

  it('ranks agree with the brute force (Spearman >= 0.9, same top 3, each figure within 0.05 dB)', () => {
    // Spearman rather than an exact order: several layers sit within 0.5 dB of each other (the 256-wide
    // FFN weights, the attention outputs), so two correct measurements may swap near-ties; a wrong layer
    // mapping or a wrong metric moves ranks by many places and drops far below 0.9.
    const ours = report.layers.map((l) => l.outputSqnrDb);
    const theirs = report.layers.map((l) => brute.get(l.name)!.sqnr);
    const rho = spearman(ours, theirs);
    assert.ok(rho >= 0.9, `Spearman ${rho}`);
    const top = (v: number[]) =>
      report.layers
        .map((l, i) => [l.name, v[i]] as const)
        .sort((p, q) => p[1] - q[1])
        .slice(0, 3)
        .map((p) => p[0]);
    assert.deepEqual(top(ours), top(theirs));
    for (const l of report.layers) {
      const b = brute.get(l.name)!;
      assert.ok(Math.abs(l.outputSqnrDb - b.sqnr) <= 0.05, `${l.name}: ${l.outputSqnrDb} vs ${b.sqnr}`);
      assert.ok(Math.abs(l.cosine - b.cosine) <= 1e-5, `${l.name}: ${l.cosine} vs ${b.cosine}`);
    }
  });

  it("the sweep's 4-bit column is the weight SQNR quantize reports, and the columns are ordered", () => {
    for (const l of report.layers) {
      const b = brute.get(l.name)!;
      assert.ok(
        Math.abs(l.sweep.bits[4] - b.weightSqnrDb) <= 0.001,
        `${l.name}: ${l.sweep.bits[4]} vs ${b.weightSqnrDb}`,
      );
      assert.equal(l.weightSqnrDb, b.weightSqnrDb);
      const { bits, sparsity } = l.sweep;
      assert.ok(bits[2] < bits[3] && bits[3] < bits[4] && bits[4] < bits[8], `${l.name} bits`);
      assert.ok(sparsity[25] > sparsity[50] && sparsity[50] > sparsity[75], `${l.name} sparsity`);
    }
  });

  it("the sweep's 2- and 8-bit columns are what quantize --bits 2 / --bits 8 report", () => {
    const opened = openModel(BERT);
    try {
      for (const bits of [2, 8] as const) {
        const plan = planQuantize(opened.index, opened.source, opened.resolveExternal, {
          ...DEFAULT_QUANTIZE_OPTIONS,
          bits,
        });
        assert.equal(plan.tensors.length, 14);
        for (const t of plan.tensors) {
          const l = report.layers.find((x) => x.name === t.name)!;
          assert.ok(Math.abs(l.sweep.bits[bits] - t.weightSqnrDb) <= 0.001, `${t.name} @${bits}`);
        }
      }
    } finally {
      opened.close();
    }
  });

  it('the external-data copy of the model (candidates read its data file) gives the same figures', async () => {
    const ext = await measureSensitivity(BERT_EXT, { bits: 4 });
    assert.equal(ext.inlined, false);
    assert.deepEqual(
      ext.layers.map((l) => [l.name, l.outputSqnrDb, l.sweep]),
      report.layers.map((l) => [l.name, l.outputSqnrDb, l.sweep]),
    );
  });

  it('8-bit costs far less than 4-bit at the outputs, layer by layer', async () => {
    const r8 = await measureSensitivity(BERT, { bits: 8 });
    for (const l of r8.layers) {
      const l4 = report.layers.find((x) => x.name === l.name)!;
      assert.ok(l.outputSqnrDb > l4.outputSqnrDb + 15, `${l.name}: ${l.outputSqnrDb} vs ${l4.outputSqnrDb}`);
    }
  });

  it('two workers give exactly the one-worker figures (speed-up printed, not asserted)', async () => {
    const one = await measureSensitivity(BERT, { bits: 4, workers: 1 });
    const two = await measureSensitivity(BERT, { bits: 4, workers: 2 });
    assert.equal(one.workers, 1);
    assert.equal(two.workers, 2);
    const figures = (r: SensitivityReport) =>
      r.layers.map((l) => [
        l.name,
        l.outputSqnrDb,
        l.cosine,
        l.outputs,
        l.weightSqnrDb,
        l.quantizedBytes,
        l.sweep,
      ]);
    assert.deepEqual(figures(two), figures(one));
    assert.deepEqual(figures(two), figures(report));
    const candidates = (r: SensitivityReport) => r.timings.totalMs - r.timings.originalMs;
    console.log(
      `sensitivity ${path.basename(BERT)}: 1 worker ${candidates(one).toFixed(0)} ms, 2 workers ` +
        `${candidates(two).toFixed(0)} ms for ${one.layers.length} candidates: ` +
        `speed-up ${(candidates(one) / candidates(two)).toFixed(2)}x (target 1.5x on 2 cores)`,
    );
  });

  it('cancels: an aborted signal stops before the next model loads', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    await assert.rejects(
      measureSensitivity(
        BERT,
        { bits: 4 },
        {
          signal: controller.signal,
          onProgress: (done) => {
            seen.push(done);
            if (done === 2) controller.abort();
          },
        },
      ),
      SensitivityCancelledError,
    );
    assert.deepEqual(seen, [0, 1, 2]);
  });
});

describe('sensitivity --sparsity 0.5 on tiny_bert_random_inline.onnx (magnitude, per layer)', () => {
  let report: SensitivityReport;
  let brute: Awaited<ReturnType<typeof bruteForce>>;
  before(async () => {
    report = await measureSensitivity(BERT, { bits: 4, sparsity: 0.5 });
    brute = await bruteForce(
      BERT,
      report.layers.map((l) => l.name),
      0.5,
    );
  });

  it('measures pruning, not quantization: every layer, most sensitive first', () => {
    assert.equal(report.measure, 'prune');
    assert.equal(report.sparsity, 0.5);
    assert.equal(report.change, '50% magnitude sparsity');
    assert.equal(report.layers.length, 14);
    for (const l of report.layers) {
      assert.equal(l.error, undefined, `${l.name}: ${l.error}`);
      // Pruning half of a weight by magnitude: its weight SQNR is the sweep's 50% figure.
      assert.ok(Math.abs(l.weightSqnrDb - l.sweep.sparsity[50]) <= 0.01, `${l.name}: ${l.weightSqnrDb}`);
    }
    const sqnr = report.layers.map((l) => l.outputSqnrDb);
    for (let i = 1; i < sqnr.length; i++) assert.ok(sqnr[i - 1] <= sqnr[i], `not sorted at ${i}`);
    assert.ok(sqnr.at(-1)! - sqnr[0] > 10, `spread ${sqnr[0]}…${sqnr.at(-1)}`);
  });

  it('ranks agree with the brute force (prune one weight, write, verify): Spearman >= 0.9, each within 0.05 dB', () => {
    const ours = report.layers.map((l) => l.outputSqnrDb);
    const theirs = report.layers.map((l) => brute.get(l.name)!.sqnr);
    const rho = spearman(ours, theirs);
    assert.ok(rho >= 0.9, `Spearman ${rho}`);
    for (const l of report.layers) {
      const b = brute.get(l.name)!;
      assert.ok(Math.abs(l.outputSqnrDb - b.sqnr) <= 0.05, `${l.name}: ${l.outputSqnrDb} vs ${b.sqnr}`);
      assert.ok(Math.abs(l.cosine - b.cosine) <= 1e-5, `${l.name}: ${l.cosine} vs ${b.cosine}`);
      assert.equal(l.weightSqnrDb, b.weightSqnrDb);
    }
  });
});

describe('big-shrink sensitivity', () => {
  it('--sparsity 0.5 --json measures pruning; --sparsity with --bits, or out of (0, 1), is bad usage', () => {
    const r = spawnSync(process.execPath, [CLI, 'sensitivity', BERT, '--sparsity', '0.5', '--json'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.measure, 'prune');
    assert.equal(j.sparsity, 0.5);
    assert.equal(j.layers.length, 14);
    for (const bad of [
      ['--sparsity', '1.5'],
      ['--sparsity', '0.5', '--bits', '4'],
      ['--workers', '0'],
    ]) {
      const b = spawnSync(process.execPath, [CLI, 'sensitivity', BERT, ...bad], { encoding: 'utf8' });
      assert.equal(b.status, 2, bad.join(' '));
    }
  });

  it('--json prints {model, bits, layers:[{name, op, params, bytes, outputSqnrDb, cosine, sweep}]}', () => {
    const r = spawnSync(process.execPath, [CLI, 'sensitivity', BERT, '--bits', '4', '--json'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /sensitivity: 14\/14 layers/);
    const j = JSON.parse(r.stdout);
    assert.equal(j.model, BERT);
    assert.equal(j.bits, 4);
    assert.equal(j.layers.length, 14);
    const l = j.layers[0];
    for (const k of ['name', 'op', 'params', 'bytes', 'outputSqnrDb', 'cosine']) assert.ok(k in l, k);
    assert.deepEqual(Object.keys(l.sweep.bits), ['2', '3', '4', '8']);
    assert.deepEqual(Object.keys(l.sweep.sparsity), ['25', '50', '75']);
    assert.equal(l.params * 4, l.bytes);
  });

  it('prints a ranked table, and refuses bad usage with exit 2', () => {
    const r = spawnSync(process.execPath, [CLI, 'sensitivity', BERT], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout.split('\n').filter((s) => /^\s*\d+\s{2}\S/.test(s));
    assert.equal(rows.length, 14);
    assert.match(rows[0], /^\s*1\s+\S+\s+(Gemm|MatMul)/);
    const bad = spawnSync(process.execPath, [CLI, 'sensitivity', BERT, '--bits', '3'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--bits takes 2, 4 or 8/);
    const missing = spawnSync(process.execPath, [CLI, 'sensitivity', path.join(tmp, 'none.onnx')], {
      encoding: 'utf8',
    });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /none\.onnx: no such file/);
  });
});
