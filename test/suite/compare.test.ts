// Compare with… / Compare with HEAD: the compare view's state equals `big-shrink diff --json`, its webview
// draws those rows and the selected tensor's histograms; the git: side of a diff opens in the model editor.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { ModelDiff } from '../../src/core/diff/modelDiff';
import type { CompareRenderedMessage, CompareState } from '../../src/protocol/compareView';
import { testModel } from '../testModels';
import {
  activate,
  closeAll,
  contributes,
  EXTENSION_ID,
  lastState,
  tempDir,
  VIEW_TYPE,
  waitFor,
} from './helpers';

interface CompareProbe {
  state: CompareState;
  comparison?: ModelDiff;
  received: string[];
  rendered?: CompareRenderedMessage;
}

const compareState = () =>
  vscode.commands.executeCommand<CompareProbe | undefined>('bigShrink._test.compareState');

/** `node dist/cli.js ARGS` on VS Code's own Node, stdout as text. */
function cli(args: string[]): string {
  const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
  return execFileSync(process.execPath, [path.join(ext.extensionPath, 'dist', 'cli.js'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    maxBuffer: 1 << 28,
  });
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=Big Shrink', '-c', 'user.email=tests@invalid', ...args], {
    cwd,
    encoding: 'utf8',
  });

/** The rows the view lists: every tensor that is not the same (or was renamed), in the diff's order. */
const listed = (d: ModelDiff) =>
  d.tensors.filter((t) => t.status !== 'same' || t.nameB !== undefined).map((t) => t.name);

suite('compare view', function () {
  this.timeout(120000);
  let dir: string;
  let original: string;
  let quantized: string;

  suiteSetup(async () => {
    await activate();
    dir = tempDir('big-shrink-compare-');
    original = path.join(dir, 'bert.onnx');
    fs.copyFileSync(testModel('tiny_bert_random_inline.onnx'), original);
    cli(['quantize', original, '--bits', '4', '--no-verify']);
    quantized = path.join(dir, 'bert.int4.onnx');
    assert.ok(fs.existsSync(quantized));
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('bigShrink._test.closeCompare');
    await closeAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the commands are contributed where the issue asks', () => {
    const c = contributes<{ menus: Record<string, { command: string; when?: string }[]> }>();
    const where = (menu: string, command: string) =>
      (c.menus[menu] ?? []).filter((m) => m.command === command);
    assert.deepStrictEqual(
      where('explorer/context', 'bigShrink.compareWith').map((m) => m.when),
      ['resourceExtname == .onnx'],
    );
    assert.strictEqual(
      where('editor/title', 'bigShrink.compareWith')[0]?.when,
      'activeCustomEditorId == bigShrink.modelEditor',
    );
    assert.match(
      where('scm/resourceState/context', 'bigShrink.compareWithHead')[0]?.when ?? '',
      /resourceExtname == \.onnx/,
    );
  });

  test('Compare with… on two models shows what big-shrink diff --json finds', async () => {
    const a = vscode.Uri.file(original);
    const b = vscode.Uri.file(quantized);
    await vscode.commands.executeCommand('bigShrink.compareWith', a, [a, b]);
    const probe = (await compareState())!;
    assert.strictEqual(probe.state.status, 'done', probe.state.error);
    const expected = JSON.parse(cli(['diff', original, quantized, '--json'])) as ModelDiff;
    assert.deepStrictEqual(probe.state.diff, expected);
    assert.ok(expected.summary.changed >= 10);

    // The webview drew those rows, worst first, and the first one's two histograms.
    const rendered = await waitFor(
      'the compare view to draw its rows and histograms',
      compareState,
      (p) => !!p?.rendered?.histogramA && p.rendered.rows.length > 0,
    );
    assert.deepStrictEqual(rendered!.rendered!.rows, listed(expected));
    const first = rendered!.comparison!.tensors.find((t) => t.name === rendered!.rendered!.selected)!;
    assert.strictEqual(first.name, listed(expected)[0]);
    assert.deepStrictEqual(rendered!.rendered!.histogramA, first.histogramA!.counts);
    assert.deepStrictEqual(rendered!.rendered!.histogramB, first.histogramB!.counts);
    assert.ok(rendered!.received.includes('compare/select'));
  });

  test("the reports panel's Compare with Original opens the view of the report's input and output", async () => {
    const report = path.join(dir, 'bert.int4.report.json');
    assert.ok(fs.existsSync(report));
    await vscode.commands.executeCommand('bigShrink._test.panelMessage', {
      type: 'report/open',
      file: report,
      what: 'compare',
    });
    const probe = (await compareState())!;
    assert.strictEqual(probe.state.status, 'done', probe.state.error);
    assert.deepStrictEqual([probe.state.pathA, probe.state.pathB], [original, quantized]);
    assert.deepStrictEqual(probe.state.diff, JSON.parse(cli(['diff', original, quantized, '--json'])));
  });

  test('Compare with HEAD compares a changed model with its committed version', async () => {
    const repo = tempDir('big-shrink-compare-git-');
    try {
      const model = path.join(repo, 'model.onnx');
      fs.copyFileSync(original, model);
      git(repo, 'init', '-q');
      git(repo, 'add', 'model.onnx');
      git(repo, 'commit', '-q', '-m', 'model');
      fs.copyFileSync(quantized, model);
      await vscode.commands.executeCommand('bigShrink.compareWithHead', vscode.Uri.file(model));
      const probe = (await compareState())!;
      assert.strictEqual(probe.state.status, 'done', probe.state.error);
      assert.strictEqual(probe.state.labelA, 'model.onnx (HEAD)');
      const expected = JSON.parse(cli(['diff', original, model, '--json'])) as ModelDiff;
      assert.deepStrictEqual(probe.state.diff!.tensors, expected.tensors);
      assert.deepStrictEqual(probe.state.diff!.nodes, expected.nodes);
      await vscode.commands.executeCommand('bigShrink._test.closeCompare');
      // The temporary HEAD copy goes with the view.
      await waitFor(
        'the HEAD copy to be removed',
        async () => fs.existsSync(probe.state.pathA),
        (x) => !x,
        10000,
      );
    } finally {
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });

  test('a model that is not a file on disk (the git: side of a diff) opens in the model editor', async () => {
    // Any readable scheme will do: VS Code's own vscode-userdata is not writable here, so use a
    // custom read-only file system that serves the model's bytes.
    const bytes = fs.readFileSync(original);
    const scheme = 'big-shrink-test';
    const provider: vscode.FileSystemProvider = {
      onDidChangeFile: new vscode.EventEmitter<vscode.FileChangeEvent[]>().event,
      watch: () => new vscode.Disposable(() => undefined),
      stat: () => ({ type: vscode.FileType.File, ctime: 0, mtime: 0, size: bytes.length }),
      readDirectory: () => [],
      createDirectory: () => undefined,
      readFile: () => bytes,
      writeFile: () => undefined,
      delete: () => undefined,
      rename: () => undefined,
    };
    const registration = vscode.workspace.registerFileSystemProvider(scheme, provider, { isReadonly: true });
    try {
      const uri = vscode.Uri.from({ scheme, path: '/HEAD/bert.onnx' });
      await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
      const state = await waitFor(
        'the resource to be analysed',
        () => lastState(uri),
        (s) => s?.status === 'done' || s?.status === 'error',
        60000,
      );
      assert.strictEqual(state!.status, 'done', JSON.stringify(state!.error));
      const expected = JSON.parse(cli(['diff', original, original, '--json'])) as ModelDiff;
      assert.strictEqual(state!.tensors, expected.tensors.length);
    } finally {
      await closeAll();
      registration.dispose();
    }
  });
});
