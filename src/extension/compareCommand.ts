import * as path from 'path';
import * as vscode from 'vscode';
import { ComparePanel, type CompareSide } from './comparePanel';
import { runDiff, type DiffRunResult } from './diffRunner';
import { headCopy } from './gitHead';
import { localCopy } from './localCopy';
import type { ModelEditorProvider } from './modelEditorProvider';

/** Bins of the histograms the compare view overlays. */
const HISTOGRAM_BINS = 64;
/** External data files fetched from HEAD before giving up (a model names only a few). */
const MAX_FETCHES = 16;
const MISSING_EXTERNAL = /external data file "([^"]+)" does not exist/;

/** A resource given to a command: a Uri, or an SCM resource state (which carries one). */
function uriOf(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  const state = arg as { resourceUri?: unknown } | undefined;
  return state?.resourceUri instanceof vscode.Uri ? state.resourceUri : undefined;
}

const isOnnx = (uri: vscode.Uri) => /\.onnx$/i.test(uri.path);

/**
 * "Big Shrink: Compare with…" (two models selected in the explorer, one model and a file picker, or the
 * model editor's title bar) and "Big Shrink: Compare with HEAD" (the SCM view's changed .onnx files): each
 * opens a compare view (comparePanel.ts) over `big-shrink diff --json` run in the CLI's process.
 */
export class CompareCommands {
  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly editors: ModelEditorProvider,
  ) {}

  register(): vscode.Disposable[] {
    return [
      vscode.commands.registerCommand('bigShrink.compareWith', (resource?: unknown, selected?: unknown) =>
        this.compareWith(resource, selected),
      ),
      vscode.commands.registerCommand('bigShrink.compareWithHead', (resource?: unknown) =>
        this.compareWithHead(resource),
      ),
    ];
  }

  /**
   * Compare two models: the two selected (explorer multi-selection), or `resource` (else the focused model
   * editor's) with one picked in a file dialog. Resolves once the comparison has ended.
   */
  async compareWith(resource?: unknown, selected?: unknown): Promise<ComparePanel | undefined> {
    const many = Array.isArray(selected)
      ? selected.filter((u): u is vscode.Uri => u instanceof vscode.Uri)
      : [];
    let a: vscode.Uri | undefined;
    let b: vscode.Uri | undefined;
    if (many.length >= 2) [a, b] = many;
    else {
      a = uriOf(resource) ?? this.editors.activeDocument?.uri;
      if (!a) {
        [a] =
          (await vscode.window.showOpenDialog({
            title: 'Big Shrink: the first model to compare',
            filters: { 'ONNX models': ['onnx'] },
            canSelectMany: false,
          })) ?? [];
      }
      if (!a) return undefined;
      [b] =
        (await vscode.window.showOpenDialog({
          title: `Big Shrink: compare ${path.basename(a.path)} with…`,
          defaultUri: vscode.Uri.joinPath(a, '..'),
          filters: { 'ONNX models': ['onnx'] },
          canSelectMany: false,
          openLabel: 'Compare',
        })) ?? [];
    }
    if (!a || !b) return undefined;
    if (!isOnnx(a) || !isOnnx(b)) {
      void vscode.window.showInformationMessage('Big Shrink compares two .onnx models.');
      return undefined;
    }
    const copies: { dispose(): void }[] = [];
    const side = async (uri: vscode.Uri): Promise<CompareSide> => {
      if (uri.scheme === 'file') return { path: uri.fsPath, label: path.basename(uri.fsPath) };
      const copy = await localCopy(uri);
      copies.push(copy);
      return { path: copy.file, label: `${path.basename(uri.path)} (${uri.scheme})` };
    };
    let sides: [CompareSide, CompareSide];
    try {
      sides = [await side(a), await side(b)];
    } catch (e) {
      copies.forEach((c) => c.dispose());
      void vscode.window.showErrorMessage(
        `Big Shrink could not read the models to compare: ${(e as Error).message}`,
      );
      return undefined;
    }
    if (sides[0].label === sides[1].label) {
      sides[0].label = `${sides[0].label} (${path.basename(path.dirname(sides[0].path))})`;
      sides[1].label = `${sides[1].label} (${path.basename(path.dirname(sides[1].path))})`;
    }
    return this.open(sides[0], sides[1], () => copies.forEach((c) => c.dispose()));
  }

  /** Compare HEAD's version of a changed .onnx (an SCM resource, a Uri, or the focused model) with the working tree's. */
  async compareWithHead(resource?: unknown): Promise<ComparePanel | undefined> {
    const uri = uriOf(resource) ?? this.editors.activeDocument?.uri;
    if (!uri || uri.scheme !== 'file' || !isOnnx(uri)) {
      void vscode.window.showInformationMessage(
        'Big Shrink compares a changed .onnx file on disk with HEAD.',
      );
      return undefined;
    }
    const name = path.basename(uri.fsPath);
    let head: Awaited<ReturnType<typeof headCopy>>;
    try {
      head = await headCopy(uri);
    } catch (e) {
      void vscode.window.showErrorMessage(`Big Shrink could not get HEAD's ${name}: ${(e as Error).message}`);
      return undefined;
    }
    return this.open(
      { path: head.file, label: `${name} (HEAD)` },
      { path: uri.fsPath, label: `${name} (working tree)` },
      head.dispose,
      async (result) => {
        // HEAD's model names external data the copy does not have yet: fetch it and run again.
        const missing =
          result.error && result.error.file === head.file && MISSING_EXTERNAL.exec(result.error.reason);
        if (!missing) return false;
        await head.fetchExternal(missing[1]);
        return true;
      },
    );
  }

  /** Open a compare view of two files on disk and wait for the comparison. */
  async open(
    a: CompareSide,
    b: CompareSide,
    cleanup?: () => void,
    retry?: (result: DiffRunResult) => Promise<boolean>,
  ): Promise<ComparePanel> {
    const cli = vscode.Uri.joinPath(this.extensionUri, 'dist', 'cli.js').fsPath;
    const panel = new ComparePanel(
      this.extensionUri,
      a,
      b,
      async (signal, onProgress) => {
        for (let attempt = 0; ; attempt++) {
          const result = await runDiff(cli, a.path, b.path, { bins: HISTOGRAM_BINS, signal, onProgress });
          if (result.status !== 'failed' || !retry || attempt >= MAX_FETCHES) return result;
          try {
            if (!(await retry(result))) return result;
          } catch (e) {
            return { ...result, error: { file: a.path, reason: (e as Error).message } };
          }
        }
      },
      cleanup,
    );
    await panel.finished;
    return panel;
  }
}

/**
 * Test-only (registered outside production mode, not in package.json): the last compare view's state, its
 * comparison with histograms, and what its webview drew.
 */
export function registerCompareTestCommands(): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('bigShrink._test.compareState', () => {
      const panel = ComparePanel.last;
      if (!panel) return undefined;
      return {
        state: panel.current,
        comparison: panel.comparison,
        received: panel.probe.received,
        rendered: panel.probe.rendered,
      };
    }),
    vscode.commands.registerCommand('bigShrink._test.closeCompare', () => ComparePanel.last?.dispose()),
  ];
}
