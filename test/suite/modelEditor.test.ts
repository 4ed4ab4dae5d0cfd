// Extension-host suite of the model editor: activation, the custom editor on the test models
// (inline, external data, fp16, If subgraphs), the ready/init handshake, statistics reaching the
// webview, the state kept for a hidden editor, refresh, and the error view of a file that is no model.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  activate,
  closeAll,
  contributes,
  EXTENSION_ID,
  lastState,
  makeSampleModel,
  openModel,
  testModels,
  tempDir,
  VIEW_TYPE,
  waitFor,
} from './helpers';

suite('Model editor', () => {
  suiteSetup(async () => {
    await activate();
  });
  teardown(closeAll);

  test('activates and contributes the custom editor, commands and settings', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    assert.ok(ext.isActive, 'extension is active');
    const c = contributes<{
      customEditors: { viewType: string; priority: string; selector: { filenamePattern: string }[] }[];
      configuration: { properties: Record<string, unknown> };
    }>();
    const editor = c.customEditors.find((e) => e.viewType === VIEW_TYPE);
    assert.ok(editor, 'customEditors lists bigShrink.modelEditor');
    assert.strictEqual(editor!.priority, 'default');
    assert.deepStrictEqual(editor!.selector, [{ filenamePattern: '*.onnx' }]);
    const commands = await vscode.commands.getCommands(true);
    for (const id of [
      'bigShrink.modelEditor.refresh',
      'bigShrink.modelEditor.copyTensorName',
      'bigShrink.modelEditor.exportStatisticsJson',
      'bigShrink.modelEditor.exportStatisticsCsv',
      'bigShrink.revealReports',
    ]) {
      assert.ok(commands.includes(id), `${id} is registered`);
    }
    assert.ok(c.configuration.properties['bigShrink.modelEditor.histogramBins']);
    assert.ok(c.configuration.properties['bigShrink.workerThreads']);
  });

  const cases: {
    file: string;
    tensors: number;
    check?: (report: Record<string, unknown>) => void;
    what: string;
  }[] = [
    { file: 'tiny_bert_random_inline.onnx', tensors: 40, what: 'inline initializers' },
    { file: 'tiny_bert_random_extdata.onnx', tensors: 40, what: 'external data' },
    { file: 'ortgenai_tiny_random_gpt2_fp16_past.onnx', tensors: 27, what: 'float16 weights' },
    { file: 'silero_vad_legacy.onnx', tensors: 88, what: 'If subgraphs with their own initializers' },
  ];
  for (const c of cases) {
    test(`opens ${c.file} (${c.what}): ready, overview and statistics reach the webview`, async () => {
      const file = path.join(testModels(), c.file);
      assert.ok(fs.existsSync(file), `${file} exists`);
      const { uri, state } = await openModel(file);
      assert.strictEqual(state.status, 'done', JSON.stringify(state.error));
      const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
      assert.ok(tab?.input instanceof vscode.TabInputCustom, 'the active tab is a custom editor');
      assert.strictEqual((tab!.input as vscode.TabInputCustom).viewType, VIEW_TYPE);
      assert.strictEqual((tab!.input as vscode.TabInputCustom).uri.fsPath, uri.fsPath);

      assert.ok(state.received.includes('ready'), 'the webview said ready');
      assert.strictEqual(state.posted[0], 'editor/init', 'the host answered ready with the whole state');
      assert.ok(
        state.rendered.some((r) => r.view === 'overview'),
        'the webview drew the overview',
      );
      assert.ok((state.tensors ?? 0) >= c.tensors, `at least ${c.tensors} tensors, got ${state.tensors}`);
      assert.strictEqual(state.statsCount, state.tensors, 'statistics for every tensor');
      assert.deepStrictEqual(state.rowErrors, []);
      const drawn = state.rendered.filter((r) => r.view === 'rows').pop();
      assert.strictEqual(drawn?.rows, state.statsCount, 'the webview holds every row');
      assert.ok((state.timings.indexMs ?? Infinity) < 5000, `index in ${state.timings.indexMs} ms`);
    });
  }

  test('the exported statistics carry float16 weights, external data and subgraph tensors', async () => {
    const dir = tempDir('big-shrink-export-');
    const expectations: [string, (report: ExportedReport) => void][] = [
      [
        'tiny_bert_random_extdata.onnx',
        (r) => {
          assert.strictEqual(r.file.externalFiles.length, 1, 'one external data file');
          assert.ok(
            r.tensors.some((t) => t.storage === 'external' && t.stats),
            'external tensors have stats',
          );
        },
      ],
      [
        'ortgenai_tiny_random_gpt2_fp16_past.onnx',
        (r) => {
          assert.ok(r.model.byDtype.float16, 'float16 weights in the overview');
          assert.ok(r.tensors.some((t) => t.dtype === 'float16' && t.stats && t.stats.count > 0));
        },
      ],
      [
        'silero_vad_legacy.onnx',
        (r) => {
          assert.ok(r.model.graphs.length > 1, 'subgraphs listed');
          assert.ok(
            r.tensors.some((t) => t.graph !== 'main' && t.stats),
            'subgraph tensors have stats',
          );
        },
      ],
    ];
    for (const [name, check] of expectations) {
      const { uri } = await openModel(path.join(testModels(), name));
      const target = vscode.Uri.file(path.join(dir, `${name}.stats.json`));
      const written = await vscode.commands.executeCommand<vscode.Uri>(
        'bigShrink.modelEditor.exportStatisticsJson',
        uri,
        target,
      );
      assert.strictEqual(written?.fsPath, target.fsPath);
      check(JSON.parse(fs.readFileSync(target.fsPath, 'utf8')) as ExportedReport);
    }
  });

  test('a hidden editor is restored from the cached state, without recomputing', async () => {
    const a = path.join(testModels(), 'tiny_bert_random_inline.onnx');
    const b = path.join(testModels(), 'silero_vad_legacy.onnx');
    const first = await openModel(a);
    await openModel(b); // same group: a's webview is destroyed (no retainContextWhenHidden)
    await vscode.commands.executeCommand('vscode.openWith', first.uri, VIEW_TYPE);
    const again = await waitFor(
      'the shown-again webview to say ready',
      () => lastState(first.uri),
      (s) =>
        !!s &&
        s.received.filter((t) => t === 'ready').length >= 2 &&
        s.rendered.filter((r) => r.view === 'overview').length >= 2,
    );
    assert.strictEqual(again!.status, 'done');
    assert.deepStrictEqual(again!.timings, first.state.timings, 'same statistics run (no recomputation)');
    assert.strictEqual(
      again!.posted.filter((t) => t === 'model/overview').length,
      first.state.posted.filter((t) => t === 'model/overview').length,
    );
    assert.strictEqual(
      again!.posted.filter((t) => t === 'editor/init').length,
      2,
      'a second init, answered from the cache',
    );
    const drawn = again!.rendered.filter((r) => r.view === 'rows').pop();
    assert.strictEqual(drawn?.rows, again!.statsCount, 'the restored webview has every row');
  });

  test('refresh recomputes the statistics', async () => {
    const { uri, state } = await openModel(path.join(testModels(), 'tiny_bert_random_inline.onnx'));
    const inits = state.posted.filter((t) => t === 'editor/init').length;
    await vscode.commands.executeCommand('bigShrink.modelEditor.refresh', uri);
    const after = await waitFor(
      'statistics after refresh',
      () => lastState(uri),
      (s) =>
        !!s &&
        s.status === 'done' &&
        s.posted.filter((t) => t === 'stats/done').length >= 1 &&
        s.posted.filter((t) => t === 'editor/init').length > inits,
    );
    assert.strictEqual(after!.statsCount, after!.tensors);
  });

  test('a file that is not a model shows the error view (file and reason)', async () => {
    const dir = tempDir('big-shrink-invalid-');
    const file = path.join(dir, 'garbage.onnx');
    fs.writeFileSync(file, Buffer.from('this is not an ONNX model, just some text\n'.repeat(20)));
    const { state } = await openModel(file);
    assert.strictEqual(state.status, 'error');
    assert.ok(state.error, 'an error is reported');
    assert.ok(state.error!.file.endsWith('garbage.onnx'), `names the file: ${state.error!.file}`);
    assert.ok(state.error!.reason.length > 0, 'gives a reason');
    assert.ok(state.posted.includes('editor/init') || state.posted.includes('model/error'));
    assert.ok(
      state.rendered.some((r) => r.view === 'error'),
      'the webview drew the error view',
    );
  });

  test('a model whose external data is missing shows the error view', async () => {
    const dir = tempDir('big-shrink-noext-');
    const file = path.join(dir, 'tiny_bert_random_extdata.onnx');
    fs.copyFileSync(path.join(testModels(), 'tiny_bert_random_extdata.onnx'), file);
    const { state } = await openModel(file);
    assert.strictEqual(state.status, 'error');
    assert.match(state.error!.reason, /external/i);
  });
});

interface ExportedReport {
  file: { externalFiles: unknown[] };
  model: { byDtype: Record<string, unknown>; graphs: string[] };
  tensors: { dtype: string; graph: string; storage: string; stats?: { count: number } }[];
}

suite('Model editor cancellation', () => {
  suiteSetup(activate);
  teardown(closeAll);

  test('closing the editor while statistics run stops the workers', async function () {
    this.timeout(120000);
    const file = makeSampleModel(path.join(tempDir('big-shrink-cancel-'), 'big.onnx'), 200);
    const uri = vscode.Uri.file(file);
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
    const running = await waitFor(
      'statistics to start',
      () => lastState(uri),
      (s) => !!s && s.status === 'computing',
      60000,
    );
    assert.ok(running!.statsCount < (running!.tensors ?? 0), 'statistics are still running');
    const busy = await vscode.commands.executeCommand<{ busy: number }>('bigShrink._test.pool');
    assert.ok(busy.busy > 0, 'workers are busy');
    await closeAll();
    const idle = await waitFor(
      'the workers to stop',
      () => vscode.commands.executeCommand<{ busy: number; threads: number }>('bigShrink._test.pool'),
      (p) => p.busy === 0,
      1000,
    );
    assert.strictEqual(idle.busy, 0);
    assert.strictEqual(await lastState(uri), undefined, 'the document is gone');
  });
});
