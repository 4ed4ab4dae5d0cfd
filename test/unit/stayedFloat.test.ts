// The quantize summary says which learned weights stayed float and why (report JSON, Markdown, CLI line).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { QuantizeReport } from '../../src/core/quant/quantizeReport';
import { REPO_ROOT, testModel } from '../testModels';
import { slicedWeightsModel } from './modelFixtures';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-stayed-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function quantize(model: string, out: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'quantize', model, ...args, '-o', out, '--no-verify'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(
    fs.readFileSync(out.replace(/\.onnx$/, '.report.json'), 'utf8'),
  ) as QuantizeReport;
  return {
    report,
    stdout: r.stdout,
    markdown: fs.readFileSync(out.replace(/\.onnx$/, '.report.md'), 'utf8'),
  };
}

describe('what stayed float after quantize', () => {
  it('silero --format qdq: 4-bit is larger than 8-bit, and the summary says the STFT bases stayed float', () => {
    const model = testModel('silero_vad_legacy.onnx');
    const four = quantize(model, path.join(tmp, 'silero.q4.onnx'), '--format', 'qdq', '--bits', '4');
    const eight = quantize(model, path.join(tmp, 'silero.q8.onnx'), '--format', 'qdq', '--bits', '8');
    assert.ok(four.report.summary.bytesAfter > eight.report.summary.bytesAfter, 'the case this is about');
    const f4 = four.report.stayedFloat!;
    const f8 = eight.report.stayedFloat!;
    const bases = [
      'model.feature_extractor.forward_basis_buffer',
      'model_8k.feature_extractor.forward_basis_buffer',
    ];
    const fixed = f4.groups.find((g) => g.kind === 'fixed-constant');
    assert.ok(fixed, f4.summary);
    assert.deepEqual([...fixed.names].sort(), bases);
    assert.equal(fixed.bytes, 2 * 258 * 256 * 4, 'two float32 [258, 1, 256] bases');
    for (const name of bases) {
      const row = f4.rows.find((r) => r.name === name)!;
      assert.match(row.reason, /scales would cost more/);
      assert.ok(!f8.rows.some((r) => r.name === name), `${name} is 8-bit in the 8-bit model`);
    }
    // The LSTM weights stay float in both: the difference between the two is what 4-bit could not take.
    const lstm = (f: typeof f4) => f.groups.find((g) => g.kind === 'not-rewritten');
    assert.match(lstm(f4)!.label, /LSTM/);
    assert.equal(lstm(f4)!.bytes, lstm(f8)!.bytes);
    assert.ok(f4.bytes - f8.bytes >= fixed.bytes);
    assert.equal(f4.tensors, f4.rows.length);
    assert.equal(
      f4.bytes,
      f4.rows.reduce((s, r) => s + r.bytes, 0),
    );
    // Skipped rows carry the weight and its bytes.
    for (const s of four.report.skipped) assert.ok(s.tensor && s.bytes! > 0, JSON.stringify(s));
    // Said in the CLI's lines and the Markdown report.
    assert.match(f4.summary, /^66 tensors \(1\.54 MiB\) stayed float: .*2 fixed constants/);
    assert.ok(four.stdout.includes(f4.summary), four.stdout);
    assert.ok(four.markdown.includes(`\n${f4.summary}.\n`));
    assert.match(
      four.markdown,
      /## Left in float[\s\S]*\| model\.feature_extractor\.forward_basis_buffer \| Conv \|/,
    );
  });

  it('weights read only through Slice/Split are listed as not rewritten; a weight also read in float is "still read"', () => {
    const model = path.join(tmp, 'sliced.onnx');
    fs.writeFileSync(model, slicedWeightsModel());
    const { report } = quantize(model, path.join(tmp, 'sliced.int8.onnx'), '--bits', '8', '--block', '16');
    const f = report.stayedFloat!;
    const group = f.groups.find((g) => g.kind === 'not-rewritten')!;
    assert.equal(group.label, 'weights read by Slice, Split, which MatMulNBits does not rewrite');
    assert.deepEqual(
      f.rows.map((r) => r.name),
      ['decoder.rnn.weight_ih', 'decoder.rnn.weight_hh', 'proj.weight'],
    );
    assert.match(f.summary, /^3 tensors \(0\.3 KiB\) stayed float: 3 weights read by Slice, Split/);
    assert.equal(f.bytes, (32 + 16 + 24) * 4);
  });
});
