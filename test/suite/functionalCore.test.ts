// Extension-host suite of the model editor's Functional core tab: its "Measure activations" runs the CLI
// child through the provider and posts the summary to the webview (`core/state`); "Compact 25%…" runs
// "Big Shrink: Compact…" (`bigShrink.compact`) as the other transforms run, writing MODEL.compact25.onnx and
// its reports.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { activate, closeAll, copyTestModel, lastState, openModel, readJson, type LastState } from './helpers';

interface CoreState {
  status: string;
  view?: {
    source: string;
    layers: { name: string; fireText: string; curve: { rank: number[] } }[];
    heads: { name: string; heads: number }[];
  };
  error?: string;
}

suite('Functional core', () => {
  suiteSetup(activate);
  teardown(closeAll);

  test('Measure activations posts the summary; Compact 25% writes the compacted model', async () => {
    const { dir, model } = copyTestModel('big-shrink-core-');
    try {
      assert.ok((await vscode.commands.getCommands(true)).includes('bigShrink.compact'));
      const { uri } = await openModel(model);
      const measured = (await vscode.commands.executeCommand(
        'bigShrink._test.coreAction',
        uri,
        'measure',
      )) as CoreState;
      assert.strictEqual(measured.status, 'ready', measured.error);
      assert.strictEqual(measured.view?.source, 'synthetic');
      assert.deepStrictEqual(
        measured.view?.layers.map((l) => l.name),
        ['/layers.0/output/MatMul', '/layers.1/output/MatMul', '/classifier/Gemm'],
      );
      assert.match(measured.view!.layers[0].fireText, /^\d+ of 256 hidden units never fire on \d+ samples$/);
      assert.deepStrictEqual(
        measured.view?.heads.map((h) => h.heads),
        [4, 4],
      );
      const state = (await lastState(uri)) as LastState & { core?: CoreState; posted: string[] };
      assert.strictEqual(state.core?.status, 'ready');
      assert.ok(state.posted.includes('core/state'), state.posted.join(', '));

      const outcome = (await vscode.commands.executeCommand(
        'bigShrink._test.coreAction',
        uri,
        'compact',
        0.25,
      )) as { status: string; output?: string; error?: { reason: string } };
      assert.strictEqual(outcome.status, 'done', outcome.error?.reason);
      assert.strictEqual(outcome.output, path.join(dir, 'bert.compact25.onnx'));
      for (const f of ['bert.compact25.onnx', 'bert.compact25.report.json', 'bert.compact25.report.md'])
        assert.ok(fs.existsSync(path.join(dir, f)), f);
      const report = readJson<{ transform: string; options: { units: number } }>(
        path.join(dir, 'bert.compact25.report.json'),
      );
      assert.strictEqual(report.transform, 'compact');
      assert.strictEqual(report.options.units, 0.25);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
