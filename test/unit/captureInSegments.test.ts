import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { planCaptureSegments } from '../../src/core/quant/captureSegments';
import { GPTQ_MIN_ROWS_PER_K } from '../../src/core/quant/dataAwareQuantize';
import { DEFAULT_QUANTIZE_OPTIONS, matMulNBitsUses } from '../../src/core/quant/planQuantize';
import {
  type ActivationGram,
  type ActivationTarget,
  captureActivations,
  LM_CALIBRATION_WINDOW,
} from '../../src/runtime/captureActivations';
import { captureInSegments, SegmentsUnsupportedError } from '../../src/runtime/captureInSegments';
import { openModel } from '../../src/runtime/openModel';
import { gramGroups, planDataAware } from '../../src/runtime/planDataAware';
import { REPO_ROOT, testModel } from '../testModels';
import { relativeError } from './relativeError';

const SCRIPT = path.join(REPO_ROOT, 'dist', 'dataAwareWorker.js');
const MAKER = path.join(REPO_ROOT, 'scripts', 'make-llm-model.js');

/** The model's activation targets and their groups at `budget` bytes of XᵀX. */
function groupsOf(file: string, budget: number): ActivationTarget[][] {
  const model = openModel(file);
  try {
    const uses = matMulNBitsUses(model.index, DEFAULT_QUANTIZE_OPTIONS);
    const targets = [
      ...new Map(
        uses.map((u) => [u.activation, { name: u.activation, K: u.K, elemType: u.tensor.dtype }]),
      ).values(),
    ];
    return gramGroups(targets, uses, budget);
  } finally {
    model.close();
  }
}

function assertSameGrams(parts: ActivationGram[], whole: ActivationGram[], what: string): void {
  assert.deepEqual(
    parts.map((g) => [g.name, g.rows]),
    whole.map((g) => [g.name, g.rows]),
    what,
  );
  for (const [i, g] of parts.entries())
    assert.ok(relativeError(g.gram, whole[i].gram) < 1e-4, `${what}: ${g.name} XᵀX differs`);
}

describe('captureInSegments (calibration part by part)', () => {
  for (const name of ['ortgenai_tiny_random_gpt2_fp32_past.onnx', 'tiny_bert_random_extdata.onnx']) {
    it(`gives the whole-model capture's XᵀX for every group of ${name}`, async () => {
      const file = testModel(name);
      const groups = groupsOf(file, 200_000);
      assert.ok(groups.length >= 3, `${groups.length} groups`);
      // rowsPerK 0: both settle on exactly `batches` batches, so the rows match; the whole-model
      // capture's window (a language model captured in parts takes LM_CALIBRATION_WINDOW tokens).
      const options = { batches: 3, rowsPerK: 0, freeDim: 8 };
      const heldOut = { batches: 2, seedBase: 1 };
      const batches: number[] = [];
      let parts = 0;
      for await (const part of captureInSegments(file, groups, options, heldOut, {
        onBatch: (done, total, k) => k === 0 && batches.push(total),
      })) {
        assert.equal(part.part, parts++);
        const group = groups[part.part];
        const whole = await captureActivations(file, group, options);
        assertSameGrams(part.captured.grams, whole.grams, `part ${part.part} calibration`);
        assert.deepEqual(part.captured.missing, whole.missing);
        const held = await captureActivations(file, group, { ...options, ...heldOut });
        assertSameGrams(part.heldOut, held.grams, `part ${part.part} held out`);
        assert.match(part.captured.calibration, /^3 synthesized batches \(seeds 1001–1003\): /);
      }
      assert.equal(parts, groups.length);
      assert.equal(batches.at(-1), 5, 'three calibration and two held-out batches per part');
    });
  }

  it(`runs a language model on ${LM_CALIBRATION_WINDOW}-token windows, or as long as its position tables`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-segments-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    for (const [context, window] of [
      [1024, LM_CALIBRATION_WINDOW],
      [64, 64],
    ]) {
      const file = path.join(dir, `llm${context}.onnx`);
      const made = spawnSync(
        process.execPath,
        [MAKER, file, '--hidden', '64', '--layers', '2', '--vocab', '300', '--context', String(context)],
        { encoding: 'utf8' },
      );
      assert.equal(made.status, 0, made.stderr);
      const groups = groupsOf(file, 50_000);
      assert.ok(groups.length >= 2, `${groups.length} groups`);
      for await (const part of captureInSegments(file, groups, { batches: 1, rowsPerK: 0 }, undefined)) {
        assert.match(part.captured.calibration, new RegExp(`input_ids int64\\[1,${window}\\]`));
        for (const g of part.captured.grams) assert.equal(g.rows, window, `${context}: ${g.name}`);
      }
    }
  });

  it('cuts the graph so every part reads only what earlier parts kept', () => {
    const model = openModel(testModel('ortgenai_tiny_random_gpt2_fp32_past.onnx'));
    try {
      const groups = groupsOf(model.path, 200_000).map((g) => g.map((t) => t.name));
      const segments = planCaptureSegments(model.index, groups);
      assert.ok(Array.isArray(segments));
      const main = model.index.graphs[0];
      const available = new Set([
        ...main.inputs.map((i) => i.name),
        ...main.tensorIds.map((id) => model.index.tensors[id].name),
        '',
      ]);
      const kept = new Set<string>();
      const ran: number[] = [];
      for (const s of segments) {
        for (const i of s.inputs) assert.ok(kept.has(i), `${i} is kept for the part reading it`);
        const local = new Set<string>();
        for (const id of s.nodeIds) {
          const n = model.index.nodes[id];
          for (const i of n.inputs)
            assert.ok(available.has(i) || local.has(i) || s.inputs.includes(i), `${n.name} reads ${i}`);
          n.outputs.forEach((o) => local.add(o));
        }
        for (const o of s.outputs) assert.ok(local.has(o), `${o} is made in its part`);
        for (const c of s.captures) assert.ok(local.has(c) || kept.has(c) || available.has(c), c);
        s.kept.forEach((k) => kept.add(k));
        s.release.forEach((r) => kept.delete(r));
        ran.push(...s.nodeIds);
      }
      assert.deepEqual(
        ran,
        main.nodeIds.slice(0, ran.length),
        'the parts run the nodes in graph order, once',
      );
      assert.ok(ran.length < main.nodeIds.length, 'the nodes after the last activation do not run');
      assert.equal(kept.size, 0, 'nothing is kept past its last use');
    } finally {
      model.close();
    }
  });

  it('refuses a graph with a subgraph node, which may read outer values unnamed', async () => {
    const file = testModel('onnx-backend/node/test_if/model.onnx');
    const model = openModel(file);
    try {
      assert.match(
        String(planCaptureSegments(model.index, [['cond'], ['cond']])),
        /If node .* holds a subgraph/,
      );
    } finally {
      model.close();
    }
    await assert.rejects(
      captureInSegments(file, [[{ name: 'cond', K: 1, elemType: 9 }]], { batches: 1 }, undefined).next(),
      SegmentsUnsupportedError,
    );
  });

  it('planDataAware solves a model captured in parts as it does in one pass', async () => {
    const file = testModel('tiny_bert_random_extdata.onnx');
    const run = async (gramBudget?: number) => {
      const model = openModel(file);
      try {
        return await planDataAware(
          model,
          DEFAULT_QUANTIZE_OPTIONS,
          'gptq',
          { batches: 4 },
          { workerScript: SCRIPT, ...(gramBudget ? { gramBudget } : {}) },
        );
      } finally {
        model.close();
      }
    };
    const whole = await run();
    const parts = await run(200_000);
    assert.match(parts.calibration, /in \d+ parts of the model, run one after another/);
    const byName = new Map(whole.rows.map((r) => [`${r.name}:${r.layout}`, r]));
    assert.equal(parts.rows.length, whole.rows.length);
    for (const r of parts.rows) {
      const w = byName.get(`${r.name}:${r.layout}`)!;
      // Every layer has the rows GPTQ needs; the one-row-per-batch Gemms in the last part get theirs by
      // running extra batches through the earlier parts.
      assert.ok(r.rows >= GPTQ_MIN_ROWS_PER_K * r.K, `${r.name}: ${r.rows} rows for K=${r.K}`);
      if (r.rows === w.rows)
        assert.ok(Math.abs(r.sqnrDb - w.sqnrDb) < 0.05, `${r.name}: ${r.sqnrDb} vs ${w.sqnrDb} dB`);
      // Fewer calibration rows than one whole pass gives (its count is the widest group's): no worse.
      else assert.ok(r.sqnrDb > w.sqnrDb - 1, `${r.name}: ${r.sqnrDb} vs ${w.sqnrDb} dB`);
    }
    assert.equal(parts.rows.find((r) => r.name === 'pooler.weight')?.rows, 256);
  });
});
