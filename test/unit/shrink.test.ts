import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_QUANTIZE_OPTIONS, planQuantize } from '../../src/core/quant/planQuantize';
import { planMixed } from '../../src/core/shrink/planMixed';
import { ladderOf, type Precision, PRECISION_SPECS, PRECISIONS } from '../../src/core/shrink/precisions';
import type { ShrinkReport } from '../../src/core/shrink/shrinkReport';
import { type SearchLayer, searchShrink } from '../../src/core/shrink/shrinkSearch';
import { fidelityOf, meetsTarget, parseTarget, type ShrinkTarget } from '../../src/core/shrink/shrinkTarget';
import { planWrite } from '../../src/core/write/planWrite';
import { openModel } from '../../src/runtime/openModel';
import { materialize } from '../../src/runtime/sensitivity';
import { verifyModels } from '../../src/runtime/verifyModels';
import { writeModel } from '../../src/runtime/writeModel';
import { TEST_MODELS } from '../testModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = TEST_MODELS;
const CLI = path.join(REPO, 'dist', 'cli.js');
const BERT = path.join(MODELS, 'tiny_bert_random_inline.onnx');
const GPT2 = path.join(MODELS, 'ortgenai_tiny_random_gpt2_fp32_past.onnx');
const DTLN = path.join(MODELS, 'dtln_model_2.onnx');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-shrink-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const sha256 = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const target = (text: string) => parseTarget(text) as ShrinkTarget;

describe('shrink targets', () => {
  it('parses the three metrics and refuses the rest', () => {
    assert.deepEqual(parseTarget('cosine>=0.999'), { metric: 'cosine', min: 0.999, text: 'cosine>=0.999' });
    assert.deepEqual(parseTarget(' sqnr >= 30 '), { metric: 'sqnr', min: 30, text: 'sqnr>=30' });
    assert.deepEqual(parseTarget('top1>=0.99'), { metric: 'top1', min: 0.99, text: 'top1>=0.99' });
    for (const bad of ['cos>=0.9', 'cosine>0.9', 'cosine>=', 'sqnr>=abc', 'cosine>=1.01', 'top1>=2'])
      assert.equal(typeof parseTarget(bad), 'string', bad);
  });

  it('judges the worst output', () => {
    const f = fidelityOf([
      { cosine: 0.9999, sqnrDb: 40 },
      { cosine: 0.998, sqnrDb: 25, top1Agreement: 1 },
    ]);
    assert.deepEqual(f, { cosine: 0.998, sqnrDb: 25, top1: 1 });
    assert.equal(meetsTarget(f, target('cosine>=0.999')), false);
    assert.equal(meetsTarget(f, target('sqnr>=25')), true);
    assert.equal(meetsTarget(fidelityOf([{ cosine: 1, sqnrDb: 99 }]), target('top1>=0.5')), false);
  });
});

describe('shrink search', () => {
  /** Per layer: output SQNR (dB) alone at each precision (absent: not measurable) and bytes per precision. */
  const table: Record<
    string,
    { sqnr: Partial<Record<Precision, number>>; bytes: Record<Precision, number> }
  > = {
    // Big and fairly robust.
    big: {
      sqnr: { int2: 14, int4b128: 26, int4: 28, int8: 50, fp16: 80 },
      bytes: { int2: 300, int4b128: 520, int4: 640, int8: 1160, fp16: 2000, float: 4000 },
    },
    // Small and sensitive: raising it is cheap.
    small: {
      sqnr: { int2: 8, int4b128: 20, int4: 22, int8: 45, fp16: 75 },
      bytes: { int2: 30, int4b128: 52, int4: 64, int8: 116, fp16: 200, float: 400 },
    },
    // Its 2-bit candidate cannot be built: it starts one rung up.
    odd: {
      sqnr: { int4b128: 30, int4: 31, int8: 55, fp16: 85 },
      bytes: { int2: 30, int4b128: 52, int4: 64, int8: 116, fp16: 200, float: 400 },
    },
  };
  const layers: SearchLayer[] = Object.entries(table).map(([name, t]) => ({
    name,
    op: 'MatMul',
    params: t.bytes.float / 4,
    bytes: t.bytes,
  }));
  const noise = (db: number) => 10 ** (-db / 10);
  /** Fake model: output noise adds up over layers; bytes add up per precision. */
  const evaluate = async (choices: ReadonlyMap<string, Precision>) => {
    let n = 0;
    let bytes = 0;
    for (const [name, p] of choices) {
      bytes += table[name].bytes[p];
      if (p !== 'float') n += noise(table[name].sqnr[p]!);
    }
    const sqnrDb = n === 0 ? Infinity : -10 * Math.log10(n);
    return { bytes, fidelity: { cosine: 1 - n / 2, sqnrDb } };
  };
  const fake = () => {
    const asked: string[] = [];
    const measure = async (wanted: readonly { name: string; precision: Precision }[]) =>
      wanted.map((w) => {
        asked.push(`${w.name}:${w.precision}`);
        const db = table[w.name].sqnr[w.precision];
        return db === undefined ? undefined : { sqnrDb: db, cosine: 1 - noise(db) / 2 };
      });
    return { asked, measure };
  };

  it('starts from the smallest measurable choice per layer and stops at the first candidate that meets the target', async () => {
    const { measure } = fake();
    const r = await searchShrink(layers, target('sqnr>=25'), evaluate, { measure });
    assert.equal(r.met, true);
    assert.deepEqual(Object.fromEntries(r.ladders), {
      big: PRECISIONS,
      small: PRECISIONS,
      odd: PRECISIONS,
    });
    assert.deepEqual(r.candidates[0].counts, { int2: 2, int4b128: 1, int4: 0, int8: 0, fp16: 0, float: 0 });
    assert.deepEqual(
      r.candidates.map((c) => c.met),
      [...Array(r.candidates.length - 1).fill(false), true],
    );
    // Every earlier candidate missed (checked by the fake model itself), the last meets it.
    for (const c of r.candidates) assert.equal(c.met, c.fidelity!.sqnrDb >= 25);
    // Each step raises one layer by one rung of its ladder.
    for (const c of r.candidates.slice(1))
      assert.equal(PRECISIONS.indexOf(c.raised!.to), PRECISIONS.indexOf(c.raised!.from) + 1);
    const bytes = r.candidates.map((c) => c.bytes);
    for (let i = 1; i < bytes.length; i++) assert.ok(bytes[i] > bytes[i - 1], 'raising adds bytes');
  });

  it('with batch, raises as many layers per run as the losses say the target needs: far fewer runs, target met', async () => {
    // 40 layers; the model makes every layer's noise 3× what its loss alone says (the scale the batch
    // step learns from the measured candidate).
    const many: SearchLayer[] = Array.from({ length: 40 }, (_, i) => ({
      name: `l${String(i).padStart(2, '0')}`,
      op: 'MatMul',
      params: 1000,
      bytes: { int2: 300, int4: 600 + i, int8: 1100, float: 4000 },
    }));
    const db = (name: string, p: Precision) =>
      ({ int2: 20 + (Number(name.slice(1)) % 7), int4: 34, int8: 55 })[p as 'int2' | 'int4' | 'int8'];
    const run = async (choices: ReadonlyMap<string, Precision>) => {
      let n = 0;
      let bytes = 0;
      for (const [name, p] of choices) {
        bytes += many.find((l) => l.name === name)!.bytes[p]!;
        if (p !== 'float') n += 3 * noise(db(name, p));
      }
      return { bytes, fidelity: { cosine: 1 / Math.sqrt(1 + n), sqnrDb: -10 * Math.log10(n) } };
    };
    const measure = async (wanted: readonly { name: string; precision: Precision }[]) =>
      wanted.map((w) => ({ sqnrDb: db(w.name, w.precision), cosine: 1 }));
    const options = { measure, precisions: ['int2', 'int4', 'int8', 'float'] as Precision[] };
    const one = await searchShrink(many, target('sqnr>=20'), run, options);
    const batch = await searchShrink(many, target('sqnr>=20'), run, { ...options, batch: true });
    assert.equal(one.met, true);
    assert.equal(batch.met, true);
    assert.ok(
      batch.candidates.length * 4 <= one.candidates.length,
      `batch ${batch.candidates.length} runs, one at a time ${one.candidates.length}`,
    );
    for (const c of batch.candidates.slice(1)) assert.ok((c.alsoRaised ?? 0) > 0, `step ${c.step}`);
    assert.ok(batch.candidates.at(-1)!.fidelity!.sqnrDb >= 20);
  });

  it('raises the layer that buys the most fidelity per added byte first (the small sensitive one)', async () => {
    const { measure } = fake();
    const r = await searchShrink(layers, target('sqnr>=25'), evaluate, { measure });
    // small int2→int4b128 removes noise(8)-noise(20) for 22 bytes; big int2→int4b128 removes
    // noise(14)-noise(26) for 220 bytes: far less per byte.
    assert.deepEqual(r.candidates[1].raised, { name: 'small', from: 'int2', to: 'int4b128' });
  });

  it('measures lazily: only the rung each layer sits at and the next one up', async () => {
    const { asked, measure } = fake();
    const r = await searchShrink(layers, target('sqnr>=15'), evaluate, { measure });
    assert.equal(r.met, true);
    assert.equal(new Set(asked).size, asked.length, 'nothing measured twice');
    assert.equal(r.measured, asked.length);
    for (const a of asked) {
      const [name, p] = a.split(':') as [string, Precision];
      const at = PRECISIONS.indexOf(r.choices.get(name)!);
      assert.ok(
        PRECISIONS.indexOf(p) <= at + 1,
        `${a} measured but ${name} stopped at ${r.choices.get(name)}`,
      );
    }
    assert.ok(!asked.some((a) => a.endsWith(':fp16')), asked.join());
  });

  it('keeps to the allowed precisions, and ends where a goal needs float', async () => {
    const { asked, measure } = fake();
    const r = await searchShrink(layers, target('sqnr>=30'), evaluate, {
      measure,
      precisions: ['int4', 'int8', 'float'],
    });
    assert.equal(r.met, true);
    assert.deepEqual(r.candidates[0].counts, { int4: 3, int8: 0, float: 0 });
    assert.ok(
      asked.every((a) => /:(int4|int8)$/.test(a)),
      asked.join(),
    );
    const all = await searchShrink(layers, target('sqnr>=1000'), evaluate, { measure: fake().measure });
    assert.equal(all.met, false);
    assert.match(all.failure!, /every layer in float/);
    // Every rung below float of every ladder is run once (odd starts one rung up) before only float is left.
    assert.equal(all.candidates.length, 5 + 5 + 4);
  });

  it('respects --max-bytes: stops as soon as a candidate grows past it', async () => {
    const r = await searchShrink(layers, target('sqnr>=40'), evaluate, {
      measure: fake().measure,
      maxBytes: 700,
    });
    assert.equal(r.met, false);
    assert.match(r.failure!, /--max-bytes 700/);
    assert.ok(r.candidates.at(-1)!.bytes > 700);
    assert.ok(r.candidates.slice(0, -1).every((c) => c.bytes <= 700 && !c.met));
  });

  it('skips a rung whose measured loss is no better than the current one', async () => {
    const t: typeof table = {
      // 4-bit at block 32 measures no better than at block 128: the raise goes straight to 8-bit.
      flat: {
        sqnr: { int4b128: 20, int4: 19.5, int8: 45, fp16: 75 },
        bytes: { int2: 30, int4b128: 52, int4: 64, int8: 116, fp16: 200, float: 400 },
      },
    };
    const one: SearchLayer[] = [{ name: 'flat', op: 'MatMul', params: 100, bytes: t.flat.bytes }];
    const measure = async (wanted: readonly { name: string; precision: Precision }[]) =>
      wanted.map((w) => {
        const db = t.flat.sqnr[w.precision];
        return db === undefined ? undefined : { sqnrDb: db, cosine: 1 };
      });
    const evalOne = async (c: ReadonlyMap<string, Precision>) => {
      const p = c.get('flat')!;
      return {
        bytes: t.flat.bytes[p],
        fidelity: { cosine: 1, sqnrDb: p === 'float' ? Infinity : t.flat.sqnr[p]! },
      };
    };
    const r = await searchShrink(one, target('sqnr>=40'), evalOne, { measure });
    assert.deepEqual(
      r.candidates.map((c) => c.raised && `${c.raised.from}→${c.raised.to}`),
      [undefined, 'int4b128→int8'],
    );
  });

  it('falls back to a smaller uniform configuration that meets the target, then backs off from it', async () => {
    // Measured alone, `big` looks robust at every precision, but in the model it is not below 8-bit (layers
    // interact): the greedy raises the others first and grows past uniform 8-bit, which meets the target.
    const names = Object.keys(table);
    const misleading = async (wanted: readonly { name: string; precision: Precision }[]) =>
      (await fake().measure(wanted)).map((l, i) =>
        wanted[i].name === 'big' && l
          ? { sqnrDb: 50 + 5 * PRECISIONS.indexOf(wanted[i].precision), cosine: 1 }
          : l,
      );
    const interacting = async (choices: ReadonlyMap<string, Precision>) => {
      const e = await evaluate(choices);
      const bigLow = PRECISIONS.indexOf(choices.get('big')!) < PRECISIONS.indexOf('int8');
      return {
        ...e,
        fidelity: { cosine: 1, sqnrDb: bigLow ? Math.min(e.fidelity.sqnrDb, 10) : e.fidelity.sqnrDb },
      };
    };
    const all8 = new Map(names.map((n) => [n, 'int8' as Precision]));
    const fallback = { label: 'uniform8', choices: all8, evaluation: await interacting(all8) };
    assert.ok(fallback.evaluation.fidelity.sqnrDb >= 25);
    const r = await searchShrink(layers, target('sqnr>=25'), interacting, { measure: misleading, fallback });
    assert.equal(r.met, true);
    assert.equal(r.fallback, 'uniform8');
    const at = r.candidates.findIndex((c) => c.fallback === 'uniform8');
    assert.ok(at > 0);
    assert.ok(r.candidates[at - 1].bytes > fallback.evaluation.bytes, 'fell back once the mix grew past it');
    // Backing off: one layer may go below 8-bit (two may not), and the result is smaller than uniform 8-bit.
    const chosen = r.candidates[r.chosen - 1];
    assert.equal(chosen.met, true);
    assert.ok(chosen.bytes < fallback.evaluation.bytes, `${chosen.bytes}`);
    const below8 = [...r.choices.values()].filter((p) => PRECISIONS.indexOf(p) < PRECISIONS.indexOf('int8'));
    assert.equal(below8.length, 1);
    assert.ok(r.candidates.slice(at + 1).every((c) => c.lowered !== undefined));
  });

  it('--refine backs off from the first candidate that meets the target while it still does', async () => {
    const plain = await searchShrink(layers, target('sqnr>=25'), evaluate, { measure: fake().measure });
    const refined = await searchShrink(layers, target('sqnr>=25'), evaluate, {
      measure: fake().measure,
      refine: true,
    });
    assert.equal(refined.candidates[plain.candidates.length - 1].met, true);
    const chosen = refined.candidates[refined.chosen - 1];
    assert.equal(chosen.met, true);
    assert.ok(chosen.bytes <= plain.candidates.at(-1)!.bytes);
    assert.ok(refined.candidates.length > plain.candidates.length);
    // Every lowering that was kept still met the target; the ones undone missed it.
    for (const c of refined.candidates.slice(plain.candidates.length)) assert.ok(c.lowered);
  });

  it('a ladder drops a precision that is no smaller than a more faithful one', () => {
    const bytes = { int2: 10, int4b128: 70, int4: 64, int8: 116, fp16: 200, float: 400 };
    assert.deepEqual(ladderOf(PRECISIONS, bytes), ['int2', 'int4', 'int8', 'fp16', 'float']);
    assert.deepEqual(ladderOf(['int8', 'float'], bytes), ['int8', 'float']);
    assert.deepEqual(ladderOf(PRECISIONS, { int4: 5, float: 40 }), ['int4', 'float']);
  });
});

describe('planMixed', () => {
  it('quantizes each weight at its own precision, and all-4-bit exactly as quantize does', () => {
    const m = openModel(BERT);
    try {
      const uniform = planQuantize(m.index, m.source, m.resolveExternal, DEFAULT_QUANTIZE_OPTIONS);
      const names = uniform.tensors.map((t) => t.name);
      assert.ok(names.length >= 4);
      const all4 = planMixed(
        m.index,
        m.source,
        m.resolveExternal,
        new Map(names.map((n) => [n, 'int4'])),
        DEFAULT_QUANTIZE_OPTIONS,
      );
      const bytes = (p: typeof uniform) => materialize(planWrite(m.index, m.source, p.edits), m);
      assert.deepEqual(bytes(all4), bytes(uniform));

      const choices = new Map<string, Precision>(
        names.map((n, i) => [n, (['int4', 'int8', 'float'] as const)[i % 3]]),
      );
      const mixed = planMixed(m.index, m.source, m.resolveExternal, choices, DEFAULT_QUANTIZE_OPTIONS);
      assert.deepEqual(mixed.blockers, []);
      const quantized = new Map(mixed.tensors.map((t) => [t.name, t.afterDtype]));
      for (const [n, p] of choices) {
        if (p === 'float') assert.equal(quantized.has(n), false, n);
        else assert.match(quantized.get(n)!, p === 'int4' ? /^uint4 / : /^uint8 /, n);
      }
      assert.equal(mixed.edits.filter((e) => e.kind === 'setOpset').length, 1);
    } finally {
      m.close();
    }
  });
});

describe('planMixed with every precision', () => {
  for (const model of [BERT, GPT2]) {
    it(`${path.basename(model)}: int2, int4 block 128/32, int8, fp16 and float in one model load and run in onnxruntime-node`, async () => {
      const m = openModel(model);
      const file = path.join(tmp, `${path.basename(model, '.onnx')}.mixed-all.onnx`);
      let choices: Map<string, Precision>;
      try {
        const names = planQuantize(
          m.index,
          m.source,
          m.resolveExternal,
          DEFAULT_QUANTIZE_OPTIONS,
        ).tensors.map((t) => t.name);
        assert.ok(names.length >= PRECISIONS.length, `${names.length} layers`);
        choices = new Map(names.map((n, i) => [n, PRECISIONS[i % PRECISIONS.length]]));
        const plan = planMixed(m.index, m.source, m.resolveExternal, choices, DEFAULT_QUANTIZE_OPTIONS);
        assert.deepEqual(plan.blockers, []);
        const rows = new Map(plan.tensors.map((t) => [t.name, t.afterDtype]));
        for (const [n, p] of choices) {
          if (p === 'float') assert.equal(rows.has(n), false, n);
          else if (p === 'fp16') assert.match(rows.get(n)!, /^float16/, n);
          else {
            const spec = PRECISION_SPECS[p];
            assert.ok(spec.kind === 'nbits');
            assert.equal(rows.get(n), `uint${spec.bits} (MatMulNBits, block ${spec.blockSize})`, n);
          }
        }
        writeModel(planWrite(m.index, m.source, plan.edits), m, file, { force: true });
      } finally {
        m.close();
      }
      const out = openModel(file);
      try {
        const attrs = out.index.nodes
          .filter((n) => n.opType === 'MatMulNBits')
          .map(
            (n) =>
              `${n.attributes.find((a) => a.name === 'bits')?.i}/${n.attributes.find((a) => a.name === 'block_size')?.i}`,
          );
        for (const k of ['2/32', '4/128', '4/32', '8/32'])
          assert.ok(attrs.includes(k), `${k} in ${attrs.join()}`);
        assert.ok(out.index.nodes.some((n) => n.opType === 'Cast' && /_fp16$/.test(n.inputs[0] ?? '')));
      } finally {
        out.close();
      }
      const v = await verifyModels(model, file, { runs: 0 });
      assert.ok(v.ok, v.error);
      // A 2-bit layer costs fidelity, but the model still computes the same thing.
      assert.ok(v.minCosine > 0.9, `min cosine ${v.minCosine}`);
    });
  }
});

/** Verification seeds neither the shrink search (seed 1) nor its calibration (1001+) used. */
const HELD_OUT_SEEDS = [7, 501];
/** How far below the target a held-out batch may land: sampling noise, not overfitting. */
const HELD_OUT_SLACK_DB = 1;

describe('big-shrink shrink', () => {
  /** Uniform `quantize --bits N` of the model (an LM head too), written to tmp: its size. */
  const uniformBytes = (model: string, bits: number) => {
    const out = path.join(tmp, `${path.basename(model, '.onnx')}.u${bits}.onnx`);
    const b = String(bits);
    const r = cli('quantize', model, '--bits', b, '--lm-head', b, '-o', out, '--no-verify', '--force');
    assert.equal(r.status, 0, r.stderr);
    return { bytes: fs.statSync(out).size, file: out };
  };

  type Figures = { cosine: number; sqnrDb: number };
  // heldOut: the target with HELD_OUT_SLACK_DB of slack (for cosine, the same factor on the loss 1 - cosine).
  const slack = 10 ** (HELD_OUT_SLACK_DB / 10);
  const cases = [
    {
      model: BERT,
      text: 'cosine>=0.9999',
      heldOut: (v: Figures) => 1 - v.cosine <= (1 - 0.9999) * slack,
    },
    { model: GPT2, text: 'sqnr>=25', heldOut: (v: Figures) => v.sqnrDb >= 25 - HELD_OUT_SLACK_DB },
    // Speech denoiser: LSTMs unrolled to MatMul, two outputs.
    { model: DTLN, text: 'sqnr>=25', heldOut: (v: Figures) => v.sqnrDb >= 25 - HELD_OUT_SLACK_DB },
  ];
  for (const c of cases) {
    it(`${path.basename(c.model)} to ${c.text}: meets it (verified independently), no larger than uniform 8-bit`, async () => {
      const out = path.join(tmp, `${path.basename(c.model, '.onnx')}.shrink.onnx`);
      const r = cli('shrink', c.model, '--target', c.text, '-o', out, '--json');
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout) as ShrinkReport;
      // On the search's own inputs (seed 1) the written file meets the target exactly.
      const own = await verifyModels(c.model, out);
      assert.ok(own.ok, own.error);
      assert.ok(
        meetsTarget(fidelityOf(own.outputs), parseTarget(c.text) as ShrinkTarget),
        JSON.stringify(own.outputs),
      );
      // The search measures on seed 1 (and calibrates on 1001+): check on inputs it never saw, so a search
      // that overfits its own inputs fails here. Another random batch moves the figures a little (DTLN's
      // SQNR by ~0.3 dB between seeds), so held out the target holds within HELD_OUT_SLACK_DB.
      for (const seed of HELD_OUT_SEEDS) {
        const verified = await verifyModels(c.model, out, { seed });
        assert.ok(verified.ok, verified.error);
        const f = fidelityOf(verified.outputs);
        console.log(`${path.basename(c.model)} ${c.text}, held-out seed ${seed}: ${JSON.stringify(f)}`);
        assert.ok(c.heldOut(f), `seed ${seed}: ${JSON.stringify(verified.outputs)}`);
      }
      const u8 = uniformBytes(c.model, 8);
      const u4 = uniformBytes(c.model, 4);
      const bytes = fs.statSync(out).size;
      assert.ok(bytes <= u8.bytes, `${bytes} > uniform 8-bit ${u8.bytes}`);
      // Printed, not asserted: with 2-bit and block-128 rungs the mix may also undercut uniform 4-bit.
      console.log(
        `${path.basename(c.model)} ${c.text}: shrink ${bytes}, uniform 4-bit ${u4.bytes}, 8-bit ${u8.bytes}`,
      );
      // The report's shape the side panel reads: every id counted and labelled, every uniform baseline.
      assert.deepEqual(Object.keys(report.summary.layers), [...PRECISIONS]);
      assert.deepEqual(Object.keys(report.precisionLabels).sort(), [...PRECISIONS].sort());
      for (const k of ['int2', 'int4b128', 'fp16']) assert.ok(report.baselines[k].bytes > 0, k);
      assert.ok(report.baselines.int2.bytes < report.baselines.uniform4.bytes);
      assert.ok(report.baselines.fp16.bytes > report.baselines.uniform8.bytes);
      for (const l of report.layers) {
        assert.ok(PRECISIONS.includes(l.choice as Precision), l.choice);
        assert.ok(l.losses!.length >= 1, l.name);
        assert.ok(l.why.length > 0);
      }
      assert.equal(
        Object.values(report.summary.layers).reduce((a, b) => a + b, 0),
        report.layers.length,
      );
      // Uniform 4-bit misses these targets: the search had to raise layers, and says so.
      assert.equal(report.baselines.uniform4.meetsTarget, false);
      assert.equal(report.baselines.uniform4.bytes, u4.bytes);
      assert.equal(report.baselines.uniform8.bytes, u8.bytes);
      assert.ok(report.candidates.length > 1);
      // The written file is the chosen candidate: it met the target in memory with these very bytes.
      const chosen = report.candidates[report.summary.chosenStep! - 1];
      assert.equal(chosen.met, true);
      assert.equal(chosen.bytes, bytes);
      if (!report.summary.fallback)
        assert.ok(report.candidates.slice(0, chosen.step - 1).every((x) => !x.met));
      assert.ok(report.layers.some((l) => l.choice !== 'int4'));
      assert.equal(report.summary.bytesAfter, bytes);
      // The layers the report says are 8-bit are 8-bit in the file.
      const m = openModel(out);
      try {
        const nbits = m.index.nodes.filter((n) => n.opType === 'MatMulNBits');
        const bits = nbits.map((n) => n.attributes.find((a) => a.name === 'bits')?.i);
        const kinds = nbits.map(
          (n) =>
            `${n.attributes.find((a) => a.name === 'bits')?.i}/${n.attributes.find((a) => a.name === 'block_size')?.i}`,
        );
        const nodes = (k: string) => kinds.filter((x) => x === k).length;
        const l = report.summary.layers;
        // A weight may have several readers: at least one node per layer at each precision.
        assert.ok(nodes('2/32') >= l.int2 && (l.int2 === 0 || nodes('2/32') > 0), kinds.join());
        assert.ok(nodes('4/128') >= l.int4b128, kinds.join());
        assert.ok(nodes('4/32') >= l.int4, kinds.join());
        assert.ok(nodes('8/32') >= l.int8, kinds.join());
        assert.equal(
          m.index.nodes.filter((n) => n.opType === 'Cast' && /_Cast$/.test(n.name)).length >= l.fp16,
          true,
        );
        assert.equal(
          bits.length,
          report.tensors
            .filter((t) => !t.afterDtype.startsWith('float16'))
            .reduce((s, t) => s + t.nodes.length, 0),
        );
      } finally {
        m.close();
      }
      const md = fs.readFileSync(out.replace(/\.onnx$/, '.report.md'), 'utf8');
      assert.match(md, /## Candidates tried/);
      assert.match(md, /\| uniform 8-bit \| \d+ \|/);
    });
  }

  it('with --precisions int4,int8: a target uniform 4-bit already meets gives all 4-bit (the same file as quantize --bits 4)', () => {
    const out = path.join(tmp, 'bert-easy.onnx');
    const r = cli(
      'shrink',
      BERT,
      '--target',
      'cosine>=0.995',
      '--precisions',
      'int4,int8',
      '-o',
      out,
      '--json',
    );
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ShrinkReport;
    assert.equal(report.candidates.length, 1);
    assert.ok(report.layers.every((l) => l.choice === 'int4'));
    assert.equal(sha256(out), sha256(uniformBytes(BERT, 4).file));
  });

  it('--max-bytes: a budget below what the target needs fails with no file; a looser one is kept', () => {
    const tight = path.join(tmp, 'bert-tight.onnx');
    const r = cli('shrink', BERT, '--target', 'cosine>=0.9999', '--max-bytes', '620000', '-o', tight);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not met within --max-bytes 620000/);
    assert.equal(fs.existsSync(tight), false);
    const loose = path.join(tmp, 'bert-loose.onnx');
    const ok = cli(
      'shrink',
      BERT,
      '--target',
      'cosine>=0.9999',
      '--max-bytes',
      '640000',
      '-o',
      loose,
      '--json',
    );
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(fs.statSync(loose).size <= 640000);
  });

  it('--refine backs off from the first hit: no larger; the held-out verdict agrees with a fresh verification', async () => {
    const plain = path.join(tmp, 'bert-plain.onnx');
    const refined = path.join(tmp, 'bert-refined.onnx');
    assert.equal(cli('shrink', BERT, '--target', 'sqnr>=35', '-o', plain).status, 0);
    const r = cli('shrink', BERT, '--target', 'sqnr>=35', '--refine', '-o', refined, '--json');
    // Refining stops just above the target on the calibration samples: the held-out ones may disagree (exit 3).
    assert.ok(r.status === 0 || r.status === 3, r.stderr);
    const report = JSON.parse(r.stdout) as ShrinkReport;
    assert.ok(fs.statSync(refined).size <= fs.statSync(plain).size);
    assert.ok(report.candidates.some((c) => c.lowered));
    assert.equal(report.candidates[report.summary.chosenStep! - 1].bytes, fs.statSync(refined).size);
    const v = await verifyModels(BERT, refined);
    const sqnr = fidelityOf(v.outputs).sqnrDb;
    assert.equal(report.summary.heldOut?.met, sqnr >= 35, JSON.stringify(v.outputs));
    assert.equal(r.status === 0, sqnr >= 35);
  });

  it('an unreachable target ends with every layer in float: exit 1, no file', () => {
    const out = path.join(tmp, 'bert-impossible.onnx');
    const r = cli('shrink', BERT, '--target', 'sqnr>=200', '-o', out);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /sqnr>=200 is met by no candidate: only with every layer in float.*No file written/,
    );
    assert.equal(fs.existsSync(out), false);
    assert.equal(fs.existsSync(out.replace(/\.onnx$/, '.report.json')), false);
  });

  it('bad targets are usage errors (exit 2)', () => {
    for (const t of ['cosine>=1.01', 'cos>0.9', 'sqnr=30']) {
      const r = cli('shrink', BERT, '--target', t, '-o', path.join(tmp, 'bad.onnx'));
      assert.equal(r.status, 2, t);
      assert.match(r.stderr, /--target/);
    }
    assert.equal(cli('shrink', BERT).status, 2);
    assert.equal(fs.existsSync(path.join(tmp, 'bad.onnx')), false);
  });
});
