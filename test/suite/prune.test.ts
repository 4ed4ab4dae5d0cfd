// Extension-host suite of "Prune…": the command runs `big-shrink prune` in a child process through the
// same runner as quantization and writes MODEL.sparse50.onnx with both reports; the Big Shrink panel
// receives the rows with their sparsity before/after and draws the sparsity column and the size figures;
// the quick pick's default and its follow-up steps; every preset and the `bigShrink.prune.*` settings
// become the CLI's options; cancelling (pruning, writing, verifying) leaves the folder as it was.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  acceptQuickPick,
  activate,
  assertCancelLeavesNothing,
  assertTransformCommand,
  closeAll,
  contributes,
  copyTestModel,
  listing,
  makeSampleModel,
  readJson,
  reportsState,
  tempDir,
  waitFor,
  type TransformOutcome,
} from './helpers';

interface Sizes {
  inputBytes: number;
  inputGzipBytes: number;
  outputBytes: number;
  outputGzipBytes: number;
  prunedDenseBytes: number;
  prunedSparseBytes: number;
  prunedStoredBytes: number;
  runtimeBytesBefore: number;
  runtimeBytesAfter: number;
  quantizedDenseBytes?: number;
  quantizedBytes?: number;
}

/** The side panel's current report (the parts read here). */
interface Current {
  file: string;
  transform: string;
  variant: string;
  tensors: string[];
  sparsity: { name: string; before?: number; after?: number; storage?: string }[];
  prune?: {
    sparsityBefore: number;
    sparsityAfter: number;
    target?: number;
    weights: number;
    sizes?: Sizes;
  };
}

interface Report {
  options: Record<string, unknown>;
  summary: {
    status: string;
    tensors: number;
    sparsityBefore: number;
    sparsityAfter: number;
    target?: number;
    weights: number;
  };
  sizes: Sizes;
  tensors: {
    name: string;
    sparsityBefore: number;
    sparsityAfter: number;
    storage: string;
    pattern?: string;
    channels?: { zeroed: number[]; total: number };
  }[];
  nodes: { to: string; weight: string }[];
  quantized?: { name: string; afterBytes: number }[];
}

const panelState = () => reportsState<Current>();
const readReport = (file: string) => readJson<Report>(file);
const prune = (model: string, request?: Record<string, unknown>) =>
  vscode.commands.executeCommand<TransformOutcome>('bigShrink.prune', vscode.Uri.file(model), request);

const copyModel = () => copyTestModel('big-shrink-prune-');

suite('Prune and the side panel', () => {
  suiteSetup(activate);
  teardown(closeAll);

  test('contributes "Prune…" to the Explorer, the model editor title and the palette, with settings', async () => {
    await assertTransformCommand('bigShrink.prune', 'Prune…');
    const c = contributes<{
      configuration: { properties: Record<string, { default: unknown; enum?: unknown[] }> };
    }>();
    const p = c.configuration.properties;
    assert.deepStrictEqual(
      ['method', 'sparsity', 'scope', 'storage', 'keepFirstLast'].map(
        (k) => p[`bigShrink.prune.${k}`]?.default,
      ),
      ['magnitude', 0.5, 'layer', 'dense', false],
    );
    assert.deepStrictEqual(p['bigShrink.prune.method'].enum, ['magnitude', '2:4', '4:8', 'channel']);
    assert.deepStrictEqual(p['bigShrink.prune.storage'].enum, ['dense', 'sparse', 'int4']);
  });

  test('"Prune…" writes MODEL.sparse50.onnx and both reports; the panel gets the rows with their sparsity', async () => {
    const { dir, model } = copyModel();
    const outcome = await prune(model, { preset: 'magnitude-layer' });
    assert.strictEqual(outcome.status, 'done', JSON.stringify(outcome.error));
    assert.deepStrictEqual(listing(dir), [
      'bert.onnx',
      'bert.sparse50.onnx',
      'bert.sparse50.report.json',
      'bert.sparse50.report.md',
    ]);
    const report = readReport(outcome.reportJson!);
    assert.deepStrictEqual(
      [report.options.method, report.options.sparsity, report.options.scope, report.options.storage],
      ['magnitude', 0.5, 'layer', 'dense'],
    );
    assert.ok(report.tensors.length > 0);
    for (const t of report.tensors) assert.ok(Math.abs(t.sparsityAfter - 0.5) < 0.01, t.name);

    // The host sent the rows with sparsity before/after and the figures; the webview drew them.
    const state = await waitFor(
      'the side panel to draw the prune report',
      panelState,
      (s) => s.rendered?.current === outcome.reportJson && s.rendered?.tensorRows === report.tensors.length,
    );
    assert.ok(state.visible, 'the panel is visible');
    assert.strictEqual(state.current?.transform, 'prune');
    assert.strictEqual(state.current?.variant, 'magnitude 50%, per layer');
    assert.deepStrictEqual(
      state.current?.sparsity,
      report.tensors.map((t) => ({
        name: t.name,
        before: t.sparsityBefore,
        after: t.sparsityAfter,
        storage: t.storage,
      })),
    );
    const s = report.summary;
    assert.deepStrictEqual(
      {
        before: state.current?.prune?.sparsityBefore,
        after: state.current?.prune?.sparsityAfter,
        target: state.current?.prune?.target,
        weights: state.current?.prune?.weights,
      },
      { before: s.sparsityBefore, after: s.sparsityAfter, target: s.target, weights: s.weights },
    );
    assert.deepStrictEqual(state.current?.prune?.sizes, report.sizes);
    assert.ok(state.rendered!.tensorColumns.includes('sparsity'), state.rendered!.tensorColumns.join());
    assert.deepStrictEqual(state.rendered!.figures, ['gzip', 'dense', 'sparse', 'runtime']);
    // The sizes in the report are the files on disk.
    assert.strictEqual(report.sizes.outputBytes, fs.statSync(outcome.output!).size);
    assert.strictEqual(report.sizes.inputBytes, fs.statSync(model).size);
  });

  test('the quick pick: Enter runs its default, magnitude 50% per layer', async () => {
    const { dir, model } = copyModel();
    const running = prune(model);
    await acceptQuickPick();
    const outcome = await running;
    assert.strictEqual(outcome.status, 'done', JSON.stringify(outcome));
    assert.strictEqual(path.basename(outcome.output!), 'bert.sparse50.onnx');
    assert.ok(listing(dir).includes('bert.sparse50.report.md'));
  });

  test('the quick pick: "Magnitude, global…" asks the sparsity and the storage', async () => {
    const { model } = copyModel();
    const running = prune(model);
    await new Promise((r) => setTimeout(r, 1200));
    await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    // Method "Magnitude, global…", then the default sparsity (50%) and storage (dense).
    await acceptQuickPick(3);
    const outcome = await running;
    assert.strictEqual(outcome.status, 'done', JSON.stringify(outcome));
    const report = readReport(outcome.reportJson!);
    assert.deepStrictEqual(
      [report.options.method, report.options.scope, report.options.sparsity, report.options.storage],
      ['magnitude', 'global', 0.5, 'dense'],
    );
  });

  test('presets and settings become the CLI options and the output names', async () => {
    const { dir, model } = copyModel();
    const config = vscode.workspace.getConfiguration('bigShrink.prune');
    await config.update('keepFirstLast', true, vscode.ConfigurationTarget.Global);
    await config.update('storage', 'sparse', vscode.ConfigurationTarget.Global);
    try {
      const cases: {
        request: Record<string, unknown>;
        file: string;
        options: Record<string, unknown>;
        check?: (r: Report) => string | undefined;
      }[] = [
        {
          request: { preset: 'magnitude-global', sparsity: 0.9 },
          file: 'bert.sparse90.sparseinit.onnx',
          options: {
            method: 'magnitude',
            scope: 'global',
            sparsity: 0.9,
            storage: 'sparse',
            keepFirstLast: true,
          },
          check: (r) =>
            Math.abs(r.summary.sparsityAfter - 0.9) < 0.001 && r.sizes.outputBytes < r.sizes.inputBytes
              ? undefined
              : `global 90% sparse: ${r.summary.sparsityAfter}, ${r.sizes.outputBytes} B`,
        },
        {
          request: { preset: 'nm-2:4', storage: 'dense' },
          file: 'bert.2of4.onnx',
          options: { method: 'nm', n: 2, m: 4, storage: 'dense', keepFirstLast: true },
          check: (r) =>
            r.tensors.every((t) => /^2:4/.test(t.pattern ?? '')) &&
            !r.tensors.some((t) => t.name === 'classifier.weight')
              ? undefined
              : 'pattern 2:4 with the last layer (classifier.weight) left dense',
        },
        {
          request: { preset: 'nm-4:8', storage: 'dense', keepFirstLast: false },
          file: 'bert.4of8.onnx',
          options: { method: 'nm', n: 4, m: 8, keepFirstLast: false },
        },
        {
          request: { preset: 'channel', sparsity: 0.25, storage: 'dense' },
          file: 'bert.channels25.onnx',
          options: { method: 'channel', sparsity: 0.25, storage: 'dense' },
          check: (r) =>
            r.tensors.every((t) => t.channels && t.channels.zeroed.length === t.channels.total / 4)
              ? undefined
              : 'a quarter of the channels zeroed',
        },
        {
          request: { preset: 'magnitude-layer', sparsity: 0.75, storage: 'dense' },
          file: 'bert.sparse75.onnx',
          options: { method: 'magnitude', scope: 'layer', sparsity: 0.75, storage: 'dense' },
        },
      ];
      for (const c of cases) {
        const outcome = await prune(model, c.request);
        const what = JSON.stringify(c.request);
        assert.strictEqual(outcome.status, 'done', `${what}: ${JSON.stringify(outcome.error)}`);
        assert.strictEqual(path.basename(outcome.output!), c.file, what);
        const report = readReport(outcome.reportJson!);
        for (const [k, v] of Object.entries(c.options))
          assert.strictEqual(report.options[k], v, `${what}: ${k}`);
        const problem = c.check?.(report);
        assert.ok(!problem, `${what}: ${problem}`);
      }
      assert.strictEqual(listing(dir).filter((f) => f.endsWith('.report.json')).length, cases.length);
    } finally {
      await config.update('keepFirstLast', undefined, vscode.ConfigurationTarget.Global);
      await config.update('storage', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test('then 4-bit: the quick pick offers it after the sparsity; the setting makes it the default', async () => {
    const { dir, model } = copyModel();
    const running = prune(model);
    await new Promise((r) => setTimeout(r, 1200));
    await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    // "Magnitude, global…", the default sparsity (50%), then the third storage: "Then 4-bit (MatMulNBits)".
    await acceptQuickPick(2);
    await new Promise((r) => setTimeout(r, 1200));
    await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    const picked = await running;
    assert.strictEqual(picked.status, 'done', JSON.stringify(picked));
    assert.strictEqual(path.basename(picked.output!), 'bert.sparse50.int4.onnx');
    const global = readReport(picked.reportJson!);
    assert.deepStrictEqual(
      [global.options.scope, global.options.storage, global.options.blockSize],
      ['global', 'int4', 32],
    );

    const config = vscode.workspace.getConfiguration('bigShrink.prune');
    await config.update('storage', 'int4', vscode.ConfigurationTarget.Global);
    try {
      const outcome = await prune(model, { preset: 'nm-2:4' });
      assert.strictEqual(outcome.status, 'done', JSON.stringify(outcome.error));
      assert.strictEqual(path.basename(outcome.output!), 'bert.2of4.int4.onnx');
      const report = readReport(outcome.reportJson!);
      assert.strictEqual(report.options.storage, 'int4');
      assert.ok(report.quantized && report.quantized.length > 0, 'weights were quantized');
      assert.strictEqual(
        report.nodes.filter((n) => n.to === 'com.microsoft::MatMulNBits').length,
        report.quantized.length,
      );
      assert.ok(
        report.tensors.every((t) => t.storage === 'MatMulNBits'),
        'every pruned weight of BERT is a MatMul/Gemm',
      );
      assert.strictEqual(
        report.sizes.quantizedBytes,
        report.quantized.reduce((s, q) => s + q.afterBytes, 0),
      );
      assert.ok(report.sizes.runtimeBytesAfter < report.sizes.runtimeBytesBefore / 1.4, 'memory shrinks too');
      assert.strictEqual(report.sizes.outputBytes, fs.statSync(outcome.output!).size);
      // The panel shows the 4-bit size row.
      const state = await waitFor(
        'the side panel to draw the prune + 4-bit report',
        panelState,
        (s) => s.rendered?.current === outcome.reportJson,
      );
      assert.deepStrictEqual(state.rendered!.figures, ['gzip', 'dense', 'sparse', 'int4', 'runtime']);
      assert.deepStrictEqual(state.current?.prune?.sizes, report.sizes);
      assert.ok(listing(dir).includes('bert.2of4.int4.report.md'));
    } finally {
      await config.update('storage', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test('again with force replaces the output; a CLI error leaves nothing', async () => {
    const { dir, model } = copyModel();
    const first = await prune(model, { preset: 'magnitude-layer' });
    assert.strictEqual(first.status, 'done');
    const stamp = fs.statSync(first.reportJson!).mtimeMs;
    const again = await prune(model, { preset: 'magnitude-layer', force: true });
    assert.strictEqual(again.status, 'done');
    assert.notStrictEqual(fs.statSync(again.reportJson!).mtimeMs, stamp);
    assert.strictEqual(listing(dir).length, 4);

    const bad = path.join(dir, 'notes.onnx');
    fs.writeFileSync(bad, 'not a model\n');
    const before = listing(dir);
    const failed = await prune(bad, { preset: 'nm-2:4' });
    assert.strictEqual(failed.status, 'failed');
    assert.strictEqual(failed.error?.file, bad);
    assert.deepStrictEqual(listing(dir), before);
  });

  suite('cancelling', () => {
    let big = '';
    suiteSetup(function () {
      this.timeout(120000);
      // ~100 MB of MatMul/Gemm weights: a second or two to prune, several to verify and measure.
      big = makeSampleModel(path.join(tempDir('big-shrink-prune-cancel-'), 'bench.onnx'), 100);
    });

    for (const when of ['pruning', 'the first file appears', 'verifying'] as const) {
      test(`while ${when} leaves nothing behind`, async () => {
        await assertCancelLeavesNothing(
          big,
          () => prune(big, { preset: 'magnitude-global', sparsity: 0.5 }),
          when === 'pruning'
            ? { afterMs: 300 }
            : {
                once: (added) =>
                  when === 'verifying' ? added.includes('bench.sparse50.onnx') : added.length > 0,
                withinMs: 30000,
              },
        );
      });
    }
  });
});
