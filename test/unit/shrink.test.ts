import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_QUANTIZE_OPTIONS, planQuantize } from '../../src/core/quant/planQuantize';
import { planMixed, type Precision } from '../../src/core/shrink/planMixed';
import type { ShrinkReport } from '../../src/core/shrink/shrinkReport';
import { type LayerLoss, mostSensitive, searchShrink } from '../../src/core/shrink/shrinkSearch';
import { fidelityOf, meetsTarget, parseTarget, type ShrinkTarget } from '../../src/core/shrink/shrinkTarget';
import { planWrite } from '../../src/core/write/planWrite';
import { openModel } from '../../src/runtime/openModel';
import { materialize } from '../../src/runtime/sensitivity';
import { verifyModels } from '../../src/runtime/verifyModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = process.env.BIG_SHRINK_MODELS ?? path.resolve(REPO, '..', 'shared', 'models');
const CLI = path.join(REPO, 'dist', 'cli.js');
const BERT = path.join(MODELS, 'tiny_bert_random_inline.onnx');
const GPT2 = path.join(MODELS, 'ortgenai_tiny_random_gpt2_fp32_past.onnx');
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
  const layers: LayerLoss[] = [
    { name: 'a', op: 'MatMul', params: 1, int4: { sqnrDb: 50, cosine: 1 }, int8: { sqnrDb: 90, cosine: 1 } },
    {
      name: 'b',
      op: 'MatMul',
      params: 1,
      int4: { sqnrDb: 20, cosine: 0.99 },
      int8: { sqnrDb: 45, cosine: 1 },
    },
    {
      name: 'c',
      op: 'MatMul',
      params: 1,
      int4: { sqnrDb: 30, cosine: 0.999 },
      int8: { sqnrDb: 60, cosine: 1 },
    },
  ];
  const cost: Record<Precision, number> = { int4: 1, int8: 2, float: 4 };
  /** Fake model: SQNR is the worst layer's loss at its precision; bytes add up per precision. */
  const evaluate = async (choices: ReadonlyMap<string, Precision>) => {
    let sqnrDb = Infinity;
    let bytes = 0;
    for (const l of layers) {
      const p = choices.get(l.name)!;
      bytes += cost[p];
      if (p !== 'float') sqnrDb = Math.min(sqnrDb, l[p]!.sqnrDb);
    }
    return { bytes, fidelity: { cosine: 1, sqnrDb } };
  };

  it('starts at 4-bit and raises the most sensitive layer until the target is met', async () => {
    const r = await searchShrink(layers, target('sqnr>=46'), evaluate);
    assert.equal(r.met, true);
    assert.deepEqual(
      r.candidates.map((c) => c.raised && `${c.raised.name}:${c.raised.to}`),
      [undefined, 'b:int8', 'c:int8', 'b:float'],
    );
    assert.deepEqual(Object.fromEntries(r.choices), { a: 'int4', b: 'float', c: 'int8' });
    assert.deepEqual(
      r.candidates.map((c) => c.met),
      [false, false, false, true],
    );
  });

  it('stops at the first candidate when uniform 4-bit meets the target', async () => {
    const r = await searchShrink(layers, target('sqnr>=20'), evaluate);
    assert.equal(r.candidates.length, 1);
    assert.ok([...r.choices.values()].every((p) => p === 'int4'));
  });

  it('fails rather than return the original, and respects --max-bytes', async () => {
    const all = await searchShrink(layers, target('sqnr>=1000'), evaluate);
    assert.equal(all.met, false);
    assert.match(all.failure!, /every layer in float/);
    assert.equal(all.candidates.length, 6); // 3 layers × 2 raises, the all-float one is never run
    const small = await searchShrink(layers, target('sqnr>=44'), evaluate, { maxBytes: 4 });
    assert.equal(small.met, false);
    assert.match(small.failure!, /--max-bytes 4/);
  });

  it('picks the lowest SQNR at the current precision', () => {
    const choices = new Map<string, Precision>([
      ['a', 'int4'],
      ['b', 'int8'],
      ['c', 'float'],
    ]);
    assert.equal(mostSensitive(layers, choices)?.name, 'b'); // 45 dB at 8-bit < 50 dB at 4-bit
    choices.set('b', 'float');
    assert.equal(mostSensitive(layers, choices)?.name, 'a');
    choices.set('a', 'float');
    assert.equal(mostSensitive(layers, choices), undefined);
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

describe('big-shrink shrink', () => {
  /** Uniform `quantize --bits N` of the model, written to tmp: its size. */
  const uniformBytes = (model: string, bits: number) => {
    const out = path.join(tmp, `${path.basename(model, '.onnx')}.u${bits}.onnx`);
    const r = cli('quantize', model, '--bits', String(bits), '-o', out, '--no-verify', '--force');
    assert.equal(r.status, 0, r.stderr);
    return { bytes: fs.statSync(out).size, file: out };
  };

  const cases = [
    {
      model: BERT,
      text: 'cosine>=0.9999',
      check: (v: { cosine: number; sqnrDb: number }) => v.cosine >= 0.9999,
    },
    { model: GPT2, text: 'sqnr>=25', check: (v: { cosine: number; sqnrDb: number }) => v.sqnrDb >= 25 },
  ];
  for (const c of cases) {
    it(`${path.basename(c.model)} to ${c.text}: meets it (verified independently), no larger than uniform 8-bit`, async () => {
      const out = path.join(tmp, `${path.basename(c.model, '.onnx')}.shrink.onnx`);
      const r = cli('shrink', c.model, '--target', c.text, '-o', out, '--json');
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout) as ShrinkReport;
      const verified = await verifyModels(c.model, out);
      assert.ok(verified.ok, verified.error);
      assert.ok(c.check(fidelityOf(verified.outputs)), JSON.stringify(verified.outputs));
      const u8 = uniformBytes(c.model, 8);
      const u4 = uniformBytes(c.model, 4);
      const bytes = fs.statSync(out).size;
      assert.ok(bytes <= u8.bytes, `${bytes} > uniform 8-bit ${u8.bytes}`);
      assert.ok(bytes >= u4.bytes);
      // Uniform 4-bit misses these targets: the search had to raise layers, and says so.
      assert.equal(report.baselines.uniform4.meetsTarget, false);
      assert.equal(report.baselines.uniform4.bytes, u4.bytes);
      assert.equal(report.baselines.uniform8.bytes, u8.bytes);
      assert.ok(report.candidates.length > 1);
      assert.deepEqual(
        report.candidates.map((x) => x.met),
        [...Array(report.candidates.length - 1).fill(false), true],
      );
      assert.ok(report.layers.some((l) => l.choice !== 'int4'));
      assert.equal(report.summary.bytesAfter, bytes);
      assert.equal(report.candidates.at(-1)!.bytes, bytes);
      // The layers the report says are 8-bit are 8-bit in the file.
      const m = openModel(out);
      try {
        const bits = m.index.nodes
          .filter((n) => n.opType === 'MatMulNBits')
          .map((n) => n.attributes.find((a) => a.name === 'bits')?.i);
        assert.equal(bits.filter((b) => b === 8).length >= report.summary.layers.int8, true);
        assert.equal(bits.filter((b) => b === 4).length >= report.summary.layers.int4, true);
        assert.equal(
          bits.length,
          report.tensors.reduce((s, t) => s + t.nodes.length, 0),
        );
      } finally {
        m.close();
      }
      const md = fs.readFileSync(out.replace(/\.onnx$/, '.report.md'), 'utf8');
      assert.match(md, /## Candidates tried/);
      assert.match(md, /\| uniform 8-bit \| \d+ \|/);
    });
  }

  it('a target uniform 4-bit already meets gives all 4-bit (the same file as quantize --bits 4)', () => {
    const out = path.join(tmp, 'bert-easy.onnx');
    const r = cli('shrink', BERT, '--target', 'cosine>=0.999', '-o', out, '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ShrinkReport;
    assert.equal(report.candidates.length, 1);
    assert.ok(report.layers.every((l) => l.choice === 'int4'));
    assert.equal(sha256(out), sha256(uniformBytes(BERT, 4).file));
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
