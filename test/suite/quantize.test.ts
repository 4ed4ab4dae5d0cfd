// Extension-host suite of the transforms and the side panel: "Quantize to 4-bit" runs the CLI in a
// child process and the report reaches the Big Shrink panel's webview; the presets of "Quantize…" and
// the settings become the CLI's options; a CLI error names the file and leaves nothing; cancelling
// (planning, writing, verifying) leaves the folder as it was; a row of the panel reveals its tensor in
// the model editor; the history follows *.report.json files in the workspace.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  activate,
  assertCancelLeavesNothing,
  closeAll,
  contributes,
  copyTestModel,
  EXTENSION_ID,
  lastState,
  listing,
  makeSampleModel,
  readJson,
  reportsState,
  tempDir,
  waitFor,
  type TransformOutcome,
} from './helpers';

/** The side panel's current report (the parts read here). */
interface Current {
  file: string;
  model: string;
  output: string;
  status: string;
  tensors: string[];
  nodes: number;
}

const panelState = () => reportsState<Current>();
const copyModel = () => copyTestModel('big-shrink-quantize-');
const quantize4bit = (model: string) =>
  vscode.commands.executeCommand<TransformOutcome>('bigShrink.quantize4bit', vscode.Uri.file(model));

interface Report {
  options: Record<string, unknown>;
  summary: { bytesBefore: number; bytesAfter: number; status: string; tensors: number };
  tensors: { name: string }[];
}
const readReport = (file: string) => readJson<Report>(file);

suite('Quantize and the side panel', () => {
  suiteSetup(activate);
  teardown(closeAll);

  test('contributes the commands, menus, the Big Shrink view container and the settings', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const c = contributes<{
      viewsContainers: { activitybar: { id: string; icon: string }[] };
      views: Record<string, { id: string; type: string }[]>;
      menus: Record<string, { command: string; when?: string }[]>;
      configuration: { properties: Record<string, { default: unknown }> };
    }>();
    const container = c.viewsContainers.activitybar.find((v) => v.id === 'bigShrink');
    assert.ok(container && fs.existsSync(path.join(ext.extensionPath, container.icon)), 'activity bar icon');
    assert.deepStrictEqual(c.views.bigShrink, [
      {
        type: 'webview',
        id: 'bigShrink.reports',
        name: 'Reports',
        icon: container!.icon,
        contextualTitle: 'Big Shrink',
      },
    ]);
    const commands = await vscode.commands.getCommands(true);
    for (const id of [
      'bigShrink.quantize4bit',
      'bigShrink.quantize',
      'bigShrink.openReport',
      'bigShrink.reports.refresh',
    ])
      assert.ok(commands.includes(id), `${id} is registered`);
    const onOnnx = (menu: string) =>
      c.menus[menu].filter((m) => m.command.startsWith('bigShrink.quantize')).map((m) => m.when);
    assert.deepStrictEqual(onOnnx('explorer/context'), [
      'resourceExtname == .onnx',
      'resourceExtname == .onnx',
    ]);
    assert.ok(
      onOnnx('editor/title').every((w) => w === 'activeCustomEditorId == bigShrink.modelEditor') &&
        onOnnx('editor/title').length === 2,
    );
    const p = c.configuration.properties;
    assert.deepStrictEqual(
      ['bits', 'format', 'blockSize', 'symmetric', 'accuracyLevel', 'exclude', 'method'].map(
        (k) => p[`bigShrink.quantize.${k}`]?.default,
      ),
      [4, 'nbits', 32, false, 4, '', 'rtn'],
    );
  });

  test('"Quantize to 4-bit" writes the model and both reports; the side panel shows the report', async () => {
    const { dir, model } = copyModel();
    const outcome = await quantize4bit(model);
    assert.strictEqual(outcome.status, 'done', JSON.stringify(outcome.error));
    assert.deepStrictEqual(listing(dir), [
      'bert.int4.onnx',
      'bert.int4.report.json',
      'bert.int4.report.md',
      'bert.onnx',
    ]);
    const report = readReport(outcome.reportJson!);
    assert.deepStrictEqual(
      [report.options.bits, report.options.format, report.options.blockSize, report.options.accuracyLevel],
      [4, 'nbits', 32, 4],
    );
    assert.ok(report.summary.bytesAfter < report.summary.bytesBefore);

    // The panel was revealed, its webview said `ready`, got the state and drew every row.
    const state = await waitFor(
      'the side panel to draw the report',
      panelState,
      (s) => s.rendered?.current === outcome.reportJson && s.rendered?.tensorRows === report.tensors.length,
    );
    assert.ok(state.visible, 'the panel is visible');
    assert.ok(state.received.includes('ready'), 'the webview said ready');
    assert.ok(state.posted.includes('reports/init'), 'the host answered with the whole state');
    assert.strictEqual(state.current?.file, outcome.reportJson);
    assert.deepStrictEqual(
      state.current?.tensors,
      report.tensors.map((t) => t.name),
    );
    assert.strictEqual(state.rendered?.nodeRows, state.current?.nodes);
    assert.ok(
      state.history.includes(outcome.reportJson!),
      'a report outside the workspace is in the history',
    );
  });

  test('a row of the panel opens the input model with that tensor selected', async () => {
    const { model } = copyModel();
    const outcome = await quantize4bit(model);
    assert.strictEqual(outcome.status, 'done');
    await waitFor('the panel to show it', panelState, (s) => s.current?.file === outcome.reportJson);
    const name = 'onnx::MatMul_261';
    await vscode.commands.executeCommand('bigShrink._test.panelMessage', {
      type: 'tensor/reveal',
      file: outcome.reportJson,
      name,
    });
    const uri = vscode.Uri.file(model);
    const s = await waitFor(
      `${name} to be selected in the model editor`,
      () => lastState(uri),
      (st) => st?.selection?.name === name,
      30000,
    );
    assert.ok(s?.posted.includes('editor/reveal'), 'the editor was asked to reveal it');
    const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
    assert.ok(
      tab?.input instanceof vscode.TabInputCustom && tab.input.uri.fsPath === model,
      'the model is the active tab',
    );
  });

  test('"Quantize…" presets and settings become the CLI options', async () => {
    const { dir, model } = copyModel();
    const uri = vscode.Uri.file(model);
    const config = vscode.workspace.getConfiguration('bigShrink.quantize');
    await config.update('symmetric', true, vscode.ConfigurationTarget.Global);
    await config.update('exclude', 'classifier', vscode.ConfigurationTarget.Global);
    try {
      const cases: { preset: string; blockSize?: number; file: string; options: Record<string, unknown> }[] =
        [
          {
            preset: 'nbits8',
            blockSize: 64,
            file: 'bert.int8.onnx',
            options: { bits: 8, format: 'nbits', blockSize: 64, symmetric: true },
          },
          {
            preset: 'qdq4',
            blockSize: 16,
            file: 'bert.int4.qdq.onnx',
            options: { bits: 4, format: 'qdq', blockSize: 16 },
          },
          { preset: 'qdq8', file: 'bert.int8.qdq.onnx', options: { bits: 8, format: 'qdq', method: 'rtn' } },
          {
            preset: 'nbits4gptq',
            file: 'bert.int4.onnx',
            options: { bits: 4, format: 'nbits', blockSize: 32, method: 'gptq' },
          },
          { preset: 'nbits2', file: 'bert.int2.onnx', options: { bits: 2, format: 'nbits', blockSize: 32 } },
          { preset: 'fp16', file: 'bert.fp16.onnx', options: { to: 'float16' } },
        ];
      for (const c of cases) {
        const outcome = await vscode.commands.executeCommand<TransformOutcome>('bigShrink.quantize', uri, {
          preset: c.preset,
          blockSize: c.blockSize,
        });
        assert.strictEqual(outcome.status, 'done', `${c.preset}: ${JSON.stringify(outcome.error)}`);
        assert.strictEqual(path.basename(outcome.output!), c.file);
        const report = readReport(outcome.reportJson!);
        for (const [k, v] of Object.entries(c.options))
          assert.strictEqual(report.options[k], v, `${c.preset} ${k}`);
        assert.strictEqual(report.options.exclude, 'classifier', `${c.preset}: the exclude setting`);
        assert.ok(
          !report.tensors.some((t) => t.name === 'classifier.weight'),
          `${c.preset}: classifier left in float`,
        );
      }
      assert.strictEqual(listing(dir).filter((f) => f.endsWith('.report.json')).length, cases.length);
    } finally {
      await config.update('symmetric', undefined, vscode.ConfigurationTarget.Global);
      await config.update('exclude', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test('a CLI error becomes a message naming the file, and nothing is written', async () => {
    const dir = tempDir('big-shrink-quantize-');
    const model = path.join(dir, 'notes.onnx');
    fs.writeFileSync(model, 'not a model\n');
    const outcome = await quantize4bit(model);
    assert.strictEqual(outcome.status, 'failed');
    assert.strictEqual(outcome.error?.file, model);
    assert.ok(outcome.error!.reason.length > 0);
    assert.deepStrictEqual(listing(dir), ['notes.onnx']);

    const { dir: d2, model: m2 } = copyModel();
    await vscode.workspace
      .getConfiguration('bigShrink.quantize')
      .update('exclude', '.', vscode.ConfigurationTarget.Global);
    try {
      const none = await quantize4bit(m2);
      assert.strictEqual(none.status, 'failed');
      assert.match(none.error!.reason, /no MatMul\/Gemm weights to quantize/);
      assert.deepStrictEqual(listing(d2), ['bert.onnx']);
    } finally {
      await vscode.workspace
        .getConfiguration('bigShrink.quantize')
        .update('exclude', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  suite('cancelling', () => {
    let big = '';
    suiteSetup(function () {
      this.timeout(120000);
      // ~100 MB of MatMul/Gemm weights: about a second to plan and a second to verify.
      big = makeSampleModel(path.join(tempDir('big-shrink-cancel-'), 'bench.onnx'), 100);
    });

    for (const when of ['planning', 'the first file appears', 'verifying'] as const) {
      test(`while ${when} leaves nothing behind`, async () => {
        await assertCancelLeavesNothing(
          big,
          () => quantize4bit(big),
          when === 'planning'
            ? { afterMs: 300 }
            : {
                once: (added) =>
                  when === 'verifying' ? added.includes('bench.int4.onnx') : added.length > 0,
                withinMs: 30000,
              },
        );
      });
    }
  });

  test('"Open Compaction Report" opens the Markdown preview beside the editor', async () => {
    const { model } = copyModel();
    const outcome = await quantize4bit(model);
    const md = await vscode.commands.executeCommand<vscode.Uri>(
      'bigShrink.openReport',
      vscode.Uri.file(outcome.reportJson!),
    );
    assert.strictEqual(md?.fsPath, outcome.reportJson!.replace(/\.json$/, '.md'));
    await waitFor(
      'a tab showing the report',
      async () => vscode.window.tabGroups.all.flatMap((g) => g.tabs.map((t) => t.label)),
      (labels) => labels.some((l) => l.includes('bert.int4.report.md')),
      15000,
    );
    // From the model: its newest report; from the output model: the report beside it.
    const fromModel = await vscode.commands.executeCommand<vscode.Uri>(
      'bigShrink.openReport',
      vscode.Uri.file(model),
    );
    assert.strictEqual(fromModel?.fsPath, md.fsPath);
    const fromOutput = await vscode.commands.executeCommand<vscode.Uri>(
      'bigShrink.openReport',
      vscode.Uri.file(outcome.output!),
    );
    assert.strictEqual(fromOutput?.fsPath, md.fsPath);
  });

  test('the history follows *.report.json files in the workspace', async () => {
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.env.BIG_SHRINK_TEST_WORKSPACE;
    assert.ok(ws, 'a workspace folder is open');
    const { model } = copyModel();
    const outcome = await quantize4bit(model);
    const copy = path.join(ws!, 'copied.int4.report.json');
    const text = fs.readFileSync(outcome.reportJson!, 'utf8');
    fs.writeFileSync(
      copy,
      text.replace(/"createdAt": "[^"]+"/, `"createdAt": "${new Date(Date.now() + 60000).toISOString()}"`),
    );
    try {
      const s = await waitFor(
        'the watcher to list the new report',
        panelState,
        (st) => st.history.includes(copy),
        20000,
      );
      assert.strictEqual(s.history[0], copy, 'newest first');
      // Another tool's *.report.json is not listed.
      fs.writeFileSync(path.join(ws!, 'other.report.json'), '{"tool": "someone else"}');
      await vscode.commands.executeCommand('bigShrink.reports.refresh');
      assert.ok(!(await panelState()).history.some((f) => f.endsWith('other.report.json')));
    } finally {
      fs.rmSync(copy, { force: true });
      fs.rmSync(path.join(ws!, 'other.report.json'), { force: true });
    }
    await waitFor('the watcher to drop it', panelState, (st) => !st.history.includes(copy), 20000);
  });

  test('hidden and shown again, the panel gets the whole state again', async () => {
    const { model } = copyModel();
    const outcome = await quantize4bit(model);
    await waitFor('the panel to draw it', panelState, (s) => s.rendered?.current === outcome.reportJson);
    const inits = (await panelState()).posted.filter((t) => t === 'reports/init').length;
    await vscode.commands.executeCommand('workbench.view.explorer');
    await waitFor('the panel to hide', panelState, (s) => !s.visible, 10000);
    await vscode.commands.executeCommand('bigShrink.reports.focus');
    const s = await waitFor(
      'the panel to draw it again',
      panelState,
      (st) =>
        st.visible &&
        st.posted.filter((t) => t === 'reports/init').length > inits &&
        st.rendered?.current === outcome.reportJson,
    );
    assert.ok(s.rendered!.tensorRows > 0);
  });
});
