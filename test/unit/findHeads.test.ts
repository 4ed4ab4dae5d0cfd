// Attention heads where the graph shows them: found from the Reshape/Transpose pattern (a constant shape,
// or a Concat as exporters write it), measured per head by activations; never removed by compact.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ActivationsReport } from '../../src/core/compact/activationSummary';
import { findHeadGroups, HEADS_LEFT_WHOLE } from '../../src/core/compact/findHeads';
import { weightCache } from '../../src/core/compact/readWeight';
import { openModel } from '../../src/runtime/openModel';
import { testModel } from '../testModels';
import { attentionFixture, SILENT_HEAD } from './compactFixtures';
import { cli, tempDir } from './dataTestKit';

function groupsOf(file: string) {
  const model = openModel(file);
  try {
    return findHeadGroups(model.index, weightCache(model.source, model.resolveExternal));
  } finally {
    model.close();
  }
}

describe('attention heads', () => {
  const dir = tempDir('heads');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const model = path.join(dir, 'attention.onnx');
  fs.writeFileSync(model, attentionFixture());

  it('finds the heads an output projection reads, from constant shapes and from Concat shapes', () => {
    const [g, ...rest] = groupsOf(model);
    assert.deepEqual(rest, []);
    assert.deepEqual(
      { name: g.name, op: g.op, heads: g.heads, headDim: g.headDim, input: g.input, axis: g.channelAxis },
      { name: 'out_mm', op: 'MatMul', heads: 4, headDim: 4, input: 'cm', axis: 0 },
    );
    // A BERT export: the split shape is Concat(batch, sequence, 4, 16).
    const bert = groupsOf(testModel('tiny_bert_random_inline.onnx'));
    assert.deepEqual(
      bert.map((b) => [b.name, b.heads, b.headDim]),
      [
        ['/layers.0/attn_out/MatMul', 4, 16],
        ['/layers.1/attn_out/MatMul', 4, 16],
      ],
    );
  });

  it('finds none where the merge does not undo the split', () => {
    const other = path.join(dir, 'other.onnx');
    fs.writeFileSync(other, attentionFixture([0, 1, 2, 3]));
    assert.deepEqual(groupsOf(other), []);
  });

  it('activations measures each head: the one whose values are zero carries nothing', () => {
    const r = cli(['activations', model, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const measured = JSON.parse(r.stdout) as ActivationsReport;
    const [h] = measured.heads!;
    assert.equal(h.name, 'out_mm');
    assert.equal(h.heads, 4);
    assert.equal(h.importance.length, 4);
    assert.equal(h.importance[SILENT_HEAD], 0);
    for (let i = 0; i < 4; i++) if (i !== SILENT_HEAD) assert.ok(h.importance[i] > 0, `head ${i}`);
    assert.ok(h.share90 > 0 && h.share90 <= h.share99 && h.share99 <= 0.75);
    assert.equal(h.leftWhole, HEADS_LEFT_WHOLE);
    // The head's channels are the output projection's input channels: zero there too.
    const input = measured.inputs.find((l) => l.name === 'out_mm')!;
    assert.equal(input.alwaysZero, 4);
    // compact lists them as left whole, with the reason.
    const compact = cli(['compact', model, '--units', '0.25', '-o', path.join(dir, 'c.onnx'), '--json']);
    assert.equal(compact.status, 1);
    assert.match(
      compact.stderr,
      /nothing to compact.*left whole: out_mm \(4 attention heads × 4: attention heads are measured, not removed/,
    );
    const bert = path.join(dir, 'bert.onnx');
    fs.copyFileSync(testModel('tiny_bert_random_inline.onnx'), bert);
    const kept = cli(['compact', bert, '--units', '0.25', '--no-verify', '--json']);
    assert.equal(kept.status, 0, kept.stderr);
    const report = JSON.parse(kept.stdout) as { leftWhole: { name: string; reason: string }[] };
    assert.deepEqual(
      report.leftWhole.map((l) => l.name),
      ['/layers.0/attn_out/MatMul', '/layers.1/attn_out/MatMul'],
    );
    assert.match(report.leftWhole[0].reason, /^4 attention heads × 16: /);
    const text = cli(['activations', model]);
    assert.match(text.stdout, /out_mm \(MatMul\): 4 heads × 4: [\d. ]+; \d+\.\d% of the heads carry 90%/);
  });
});
