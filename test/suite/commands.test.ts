// Extension-host suite of the model editor's commands: export (JSON equal to the engine's inspect
// report, CSV), compaction reports beside the model, copy tensor name.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { InspectReport } from '../../src/core/inspect/inspectReport';
import { findReports } from '../../src/extension/commands';
import { inspectModel } from '../../src/runtime/inspectModel';
import { activate, closeAll, openModel, testModels, tempDir } from './helpers';

const close = (a: number, b: number) =>
  a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

suite('Model editor commands', () => {
  suiteSetup(activate);
  teardown(closeAll);

  test('export as JSON writes what `big-shrink inspect --json` computes', async () => {
    const model = path.join(testModels(), 'tiny_bert_random_inline.onnx');
    const { uri } = await openModel(model);
    const target = vscode.Uri.file(path.join(tempDir('big-shrink-json-'), 'stats.json'));
    await vscode.commands.executeCommand('bigShrink.modelEditor.exportStatisticsJson', uri, target);
    const exported = JSON.parse(fs.readFileSync(target.fsPath, 'utf8')) as InspectReport;
    const expected = await inspectModel(model, { threads: 1 });
    assert.strictEqual(exported.tensors.length, expected.tensors.length);
    assert.strictEqual(exported.model.parameters, expected.model.parameters);
    for (const [i, t] of expected.tensors.entries()) {
      const e = exported.tensors[i];
      assert.strictEqual(e.name, t.name);
      for (const k of ['count', 'min', 'max', 'mean', 'std', 'zeros', 'sparsity'] as const) {
        const a = e.stats?.[k] as number;
        const b = t.stats?.[k] as number;
        assert.ok(close(a, b), `${t.name}.${k}: ${a} vs ${b}`);
      }
      assert.deepStrictEqual(e.stats?.histogram.counts, t.stats?.histogram.counts, `${t.name} histogram`);
      assert.deepStrictEqual(e.duplicates, t.duplicates, `${t.name} duplicates`);
    }
  });

  test('export as CSV writes a header and one line per tensor', async () => {
    const { uri, state } = await openModel(path.join(testModels(), 'silero_vad_legacy.onnx'));
    const target = vscode.Uri.file(path.join(tempDir('big-shrink-csv-'), 'stats.csv'));
    await vscode.commands.executeCommand('bigShrink.modelEditor.exportStatisticsCsv', uri, target);
    const lines = fs.readFileSync(target.fsPath, 'utf8').trimEnd().split('\n');
    assert.ok(lines[0].startsWith('name,graph,where,role,learned,dtype,shape,bytes'), lines[0]);
    assert.strictEqual(lines.length, 1 + (state.tensors ?? 0));
  });

  test('compaction reports: none yet, then the ones beside the model', async () => {
    const dir = tempDir('big-shrink-reports-');
    const model = path.join(dir, 'model.onnx');
    fs.copyFileSync(path.join(testModels(), 'tiny_bert_random_inline.onnx'), model);
    const none = await vscode.commands.executeCommand<vscode.Uri[]>(
      'bigShrink.revealReports',
      vscode.Uri.file(model),
    );
    assert.deepStrictEqual(none, []);
    for (const f of [
      'model.int4.report.md',
      'model.int4.report.json',
      'model.fp16.report.md',
      'other.int4.report.md',
      'model.onnx.md',
    ]) {
      fs.writeFileSync(path.join(dir, f), '# report\n');
    }
    const found = (await findReports(vscode.Uri.file(model))).map((u) => path.basename(u.fsPath));
    assert.deepStrictEqual(found, ['model.fp16.report.md', 'model.int4.report.json', 'model.int4.report.md']);
  });

  test('copy tensor name copies the name given by the row context menu', async () => {
    const { uri } = await openModel(path.join(testModels(), 'tiny_bert_random_inline.onnx'));
    assert.ok(uri);
    const name = 'encoder.layer.0.attention.self.query.weight';
    const copied = await Promise.race([
      vscode.commands.executeCommand<string>('bigShrink.modelEditor.copyTensorName', {
        webviewSection: 'tensor',
        tensorName: name,
      }),
      new Promise<string>((_, reject) => setTimeout(() => reject(new Error('clipboard write hung')), 10000)),
    ]);
    assert.strictEqual(copied, name);
  });
});
