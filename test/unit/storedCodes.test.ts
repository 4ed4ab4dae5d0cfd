// Stored quantization codes as `inspect --json` reports them: MatMulNBits codes one per weight in
// [0, 2^bits), parameters counting weights (not packed bytes), and the dequantized view of QOperator
// weights, each checked against test/oracle/codes_oracle.py (numpy unpacking and dequantization).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { InspectReport, TensorSummary } from '../../src/core/inspect/inspectReport';
import type { TensorStats } from '../../src/core/stats/tensorStats';
import { REPO_ROOT, testModel } from '../testModels';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const ORACLE = path.join(REPO_ROOT, 'test', 'oracle', 'codes_oracle.py');
const MAKE_QOPERATOR = path.join(REPO_ROOT, 'test', 'oracle', 'make_qoperator.py');
const BINS = 16;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-codes-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface OracleStats {
  count: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  histogram: number[];
}
interface Oracle {
  weights: number;
  tensors: Record<string, { codes: OracleStats; dequantized: OracleStats }>;
}

function cli(...args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `big-shrink ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const inspect = (file: string) =>
  JSON.parse(cli('inspect', file, '--json', '--bins', String(BINS), '--threads', '1')) as InspectReport;
const oracle = (file: string) =>
  JSON.parse(execFileSync('/usr/bin/python3', [ORACLE, file, String(BINS)]).toString()) as Oracle;

function assertStats(ours: TensorStats | undefined, expected: OracleStats, what: string): void {
  assert.ok(ours, `${what}: no statistics`);
  assert.equal(ours.count, expected.count, `${what}: count`);
  for (const k of ['min', 'max', 'mean', 'std'] as const) {
    const tolerance = 1e-9 * Math.max(1, Math.abs(expected[k]));
    assert.ok(Math.abs(ours[k] - expected[k]) <= tolerance, `${what}: ${k} ${ours[k]} vs ${expected[k]}`);
  }
  assert.deepEqual(ours.histogram.counts, expected.histogram, `${what}: histogram`);
}

describe('MatMulNBits and int4 codes in inspect', () => {
  const sample = path.join(tmp, 'sample.onnx');
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'make-sample-model.js'), sample]);
  const cases = [
    { model: sample, args: ['--bits', '4'], max: 15 },
    { model: sample, args: ['--bits', '2'], max: 3 },
    { model: testModel('tiny_bert_random_inline.onnx'), args: ['--bits', '4', '--block', '16'], max: 15 },
    { model: testModel('tiny_bert_random_inline.onnx'), args: ['--bits', '2'], max: 3 },
  ];
  for (const c of cases) {
    it(`${path.basename(c.model)} ${c.args.join(' ')}: codes in [0, ${c.max}], weights counted once each`, () => {
      const out = path.join(tmp, `${path.basename(c.model, '.onnx')}.${c.args.join('')}.onnx`);
      cli('quantize', c.model, ...c.args, '-o', out, '--no-verify', '--json');
      const before = inspect(c.model);
      const after = inspect(out);
      const expected = oracle(out);
      const report = JSON.parse(fs.readFileSync(out.replace(/\.onnx$/, '.report.json'), 'utf8')) as {
        tensors: { name: string; dims: number[] }[];
      };
      // The quantized layers hold as many weights as the float ones did.
      const quantizedWeights = report.tensors.reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);
      assert.equal(expected.weights, quantizedWeights, 'the oracle sees every quantized weight');
      const codes = after.tensors.filter((t) => t.consumerOps.includes('MatMulNBits') && t.dtype === 'uint8');
      const codeTensors = codes.filter((t) => expected.tensors[t.name]);
      assert.equal(codeTensors.length, report.tensors.length);
      assert.equal(
        codeTensors.reduce((s, t) => s + t.parameters, 0),
        quantizedWeights,
        'parameters of the code tensors',
      );
      assert.equal(after.model.parameters, before.model.parameters, 'model parameters');
      assert.equal(after.model.quantizedParameters, quantizedWeights, 'quantizedParameters');
      const bits = c.max === 15 ? 'uint4' : 'uint2';
      assert.equal(after.model.byDtype[bits].parameters, quantizedWeights, `byDtype.${bits}`);
      for (const t of codeTensors) {
        const stats = t.stats!;
        assert.ok(stats.min >= 0 && stats.max <= c.max, `${t.name}: codes ${stats.min}…${stats.max}`);
        assertStats(stats, expected.tensors[t.name].codes, `${t.name} codes`);
        assertStats(t.dequantized, expected.tensors[t.name].dequantized, `${t.name} dequantized`);
      }
    });
  }

  it('DequantizeLinear int4 / uint4 weights: codes in [-8, 7] / [0, 15], as numpy unpacks them', () => {
    const model = testModel('tiny_bert_random_inline.onnx');
    for (const sym of [true, false]) {
      const out = path.join(tmp, `tiny_bert.qdq4${sym ? 'sym' : ''}.onnx`);
      cli(
        'quantize',
        model,
        '--format',
        'qdq',
        '--bits',
        '4',
        ...(sym ? ['--sym'] : []),
        '-o',
        out,
        '--no-verify',
      );
      const after = inspect(out);
      const expected = oracle(out);
      // The codes DequantizeLinear reads (their zero points are uint4 too).
      const codes = after.tensors.filter(
        (t) => t.dtype === (sym ? 'int4' : 'uint4') && expected.tensors[t.name],
      );
      assert.ok(codes.length >= 12, `${codes.length} 4-bit tensors`);
      for (const t of codes) {
        assert.ok(t.learned, `${t.name} is a learned weight`);
        const [lo, hi] = sym ? [-8, 7] : [0, 15];
        assert.ok(t.stats!.min >= lo && t.stats!.max <= hi, `${t.name}: ${t.stats!.min}…${t.stats!.max}`);
        assertStats(t.stats, expected.tensors[t.name].codes, `${t.name} codes`);
        assertStats(t.dequantized, expected.tensors[t.name].dequantized, `${t.name} dequantized`);
      }
      // int4 dims count elements already: the learned weights of the quantized layers are all there.
      assert.equal(after.model.parameters, inspect(model).model.parameters);
    }
  });
});

describe('QOperator weights get a dequantized view', () => {
  const check = (file: string, names: string[], noScale: string[] = []) => {
    const r = inspect(file);
    const expected = oracle(file);
    const byName = new Map<string, TensorSummary>(r.tensors.map((t) => [t.name, t]));
    for (const name of names) {
      const t = byName.get(name);
      assert.ok(t, `${name} is indexed`);
      assert.equal(t.role, 'weight', `${name} role`);
      assert.ok(t.learned, `${name} learned`);
      assertStats(t.stats, expected.tensors[name].codes, `${name} codes`);
      assertStats(t.dequantized, expected.tensors[name].dequantized, `${name} dequantized`);
    }
    for (const name of noScale) {
      assert.equal(byName.get(name)?.role, 'weight', `${name} role`);
      assert.equal(expected.tensors[name], undefined, `the oracle finds no scale for ${name}`);
      assert.equal(byName.get(name)?.dequantized, undefined, `${name}: no scale, no dequantized view`);
    }
    return r;
  };

  it('QLinearMatMul (per column, per tensor), QLinearConv (per channel), QGemm, MatMulInteger, ConvInteger', () => {
    const file = path.join(tmp, 'qoperator.onnx');
    execFileSync('/usr/bin/python3', [MAKE_QOPERATOR, file]);
    const r = check(file, ['qmm_b', 'qmm2_b', 'qconv_w', 'qgemm_b', 'mmi_b', 'ci_w']);
    assert.equal(r.model.quantizedParameters, 30 + 30 + 108 + 30 + 24 + 54);
  });

  it('the backend test models with their weights as initializers', () => {
    const node = path.join(REPO_ROOT, 'test', 'models', 'onnx-backend', 'node');
    const qlinear = path.join(tmp, 'qlinearmatmul_2D.onnx');
    const dir = path.join(node, 'test_qlinearmatmul_2D');
    const make = (d: string, out: string, names: string) =>
      execFileSync('/usr/bin/python3', [
        MAKE_QOPERATOR,
        'BACKEND',
        path.join(d, 'model.onnx'),
        path.join(d, 'test_data_set_0'),
        out,
        names,
      ]);
    make(dir, qlinear, 'b,b_scale,b_zero_point');
    check(qlinear, ['b']);
    // MatMulInteger alone has no scale: its codes are a weight, with nothing to dequantize them by.
    const integer = path.join(tmp, 'matmulinteger.onnx');
    make(path.join(node, 'test_matmulinteger'), integer, 'B,b_zero_point');
    check(integer, [], ['B']);
  });
});
