// Weights a layer reads through Slice/Split/Concat/Unsqueeze count as learned weights, and the transforms
// still only rewrite what they can: quantize leaves them in float, prune zeroes them where it prunes
// values in place and skips them where it needs a layer's layout.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { summarizeModel } from '../../src/core/inspect/summarizeModel';
import { indexModel } from '../../src/core/onnx/indexModel';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import { openModel } from '../../src/runtime/openModel';
import { REPO_ROOT, testModel } from '../testModels';
import { slicedWeightsModel } from './modelFixtures';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-sliced-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const SLICED = ['decoder.rnn.weight_ih', 'decoder.rnn.weight_hh', 'proj.weight'];

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, stderr: r.stderr, json: r.stdout ? JSON.parse(r.stdout) : undefined };
}

interface Report {
  tensors: { name: string }[];
  skipped: { name: string; reason: string }[];
  verification?: { ok: boolean; error?: string };
}

describe('weights read through Slice/Split chains', () => {
  const bytes = slicedWeightsModel();
  const file = path.join(tmp, 'sliced.onnx');
  fs.writeFileSync(file, bytes);

  it('are learned weights; a table sliced into an elementwise Mul is not', () => {
    const index = indexModel(new MemoryByteSource(bytes));
    const role = (name: string) => index.tensors.find((t) => t.name === name)?.role;
    for (const name of SLICED) assert.equal(role(name), 'weight', name);
    assert.equal(role('fc.weight'), 'weight');
    assert.equal(role('gain'), 'constant');
    assert.equal(role('four'), 'shape');
    const summary = summarizeModel(index, { path: file, bytes: bytes.length, externalFiles: [] });
    const learned = summary.tensors.filter((t) => t.learned).map((t) => t.name);
    assert.deepEqual(learned.sort(), [...SLICED, 'fc.weight'].sort());
    assert.equal(summary.model.parameters, 32 + 16 + 24 + 32);
  });

  for (const format of ['nbits', 'qdq']) {
    it(`quantize --format ${format} rewrites only the MatMul weight, and the result runs`, () => {
      const out = path.join(tmp, `sliced.${format}.onnx`);
      const r = cli(
        'quantize',
        file,
        '--format',
        format,
        '--bits',
        '8',
        '--block',
        '16',
        '-o',
        out,
        '--json',
      );
      const report = r.json as Report;
      assert.ok(report, r.stderr);
      assert.deepEqual(
        report.tensors.map((t) => t.name),
        ['fc.weight'],
      );
      assert.ok(report.verification?.ok, report.verification?.error);
      const model = openModel(out);
      try {
        for (const name of SLICED) {
          const t = model.index.tensors.find((x) => x.name === name);
          assert.equal(t?.dtype, 1, `${name} stays float32`);
        }
      } finally {
        model.close();
      }
    });
  }

  it('prune --method magnitude zeroes them in place (the graph is untouched and runs)', () => {
    const out = path.join(tmp, 'sliced.sparse.onnx');
    const r = cli('prune', file, '--method', 'magnitude', '--sparsity', '0.5', '-o', out, '--json');
    const report = r.json as Report;
    assert.ok(report, r.stderr);
    const pruned = report.tensors.map((t) => t.name);
    for (const name of SLICED) assert.ok(pruned.includes(name), `${name} pruned`);
    assert.ok(!pruned.includes('gain'));
    assert.ok(report.verification?.ok, report.verification?.error);
  });

  it('prune --method nm leaves them alone: no layer layout reaches through the Slice', () => {
    const out = path.join(tmp, 'sliced.2of4.onnx');
    const r = cli('prune', file, '--method', 'nm', '-o', out, '--json');
    const report = r.json as Report;
    assert.ok(report, r.stderr);
    const pruned = report.tensors.map((t) => t.name);
    for (const name of SLICED) {
      assert.ok(!pruned.includes(name), `${name} not N:M-pruned`);
      assert.ok(
        report.skipped.some((s) => s.name === name && /reduction axis/.test(s.reason)),
        `${name} skipped with the reason`,
      );
    }
  });
});

describe('silero VAD (legacy): LSTM weights in If branches', () => {
  it('every LSTM W, R and B is a learned weight, in every branch', () => {
    const model = openModel(testModel('silero_vad_legacy.onnx'));
    try {
      const lstm = model.index.tensors.filter((t) =>
        t.consumers.some(
          (c) => model.index.nodes[c.nodeId].opType === 'LSTM' && c.input >= 1 && c.input <= 3,
        ),
      );
      assert.equal(lstm.length, 24);
      for (const t of lstm) assert.equal(t.role, 'weight', t.name);
    } finally {
      model.close();
    }
  });
});
