import * as path from 'path';
import * as vscode from 'vscode';
import type { CoreActionMessage, DataActionMessage } from '../protocol/modelEditor';
import type { ModelDocument } from './modelDocument';
import type { ModelEditorProvider } from './modelEditorProvider';
import { reportWithStats, statisticsCsv } from './exportStatistics';

/** The context a `webview/context` menu passes (from a row's `data-vscode-context`). */
interface WebviewContext {
  webviewSection?: string;
  tensorName?: string;
}

/** The model a command acts on: the resource it was invoked for, else the focused model editor. */
function targetUri(provider: ModelEditorProvider, resource: unknown): vscode.Uri | undefined {
  if (resource instanceof vscode.Uri) return resource;
  return provider.activeDocument?.uri;
}

function targetDocument(provider: ModelEditorProvider, resource: unknown): ModelDocument | undefined {
  const uri = targetUri(provider, resource);
  return uri ? provider.documentFor(uri) : undefined;
}

export function noModel(): undefined {
  void vscode.window.showInformationMessage('Open an ONNX model in the Big Shrink model editor first.');
  return undefined;
}

/** Compaction reports beside a model: `<stem>.<anything>.report.md|json` (e.g. model.int4.report.md). */
export async function findReports(model: vscode.Uri): Promise<vscode.Uri[]> {
  const folder = vscode.Uri.joinPath(model, '..');
  const stem = path.basename(model.path).replace(/\.onnx$/i, '');
  const escaped = stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^${escaped}\\..+\\.report\\.(md|json)$`, 'i');
  let entries: [string, vscode.FileType][];
  try {
    entries = await vscode.workspace.fs.readDirectory(folder);
  } catch {
    return [];
  }
  return entries
    .filter(([name, type]) => type === vscode.FileType.File && pattern.test(name))
    .map(([name]) => vscode.Uri.joinPath(folder, name))
    .sort((a, b) => a.path.localeCompare(b.path));
}

/** Wait for the statistics (with a cancellable notification) before exporting them. */
async function settledSnapshot(document: ModelDocument) {
  if (document.getSnapshot().status === 'computing' || document.getSnapshot().status === 'indexing') {
    await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Big Shrink: computing statistics of ${document.fileName}`,
        cancellable: false,
      },
      () => document.whenSettled(),
    );
  }
  return document.getSnapshot();
}

async function exportStatistics(
  provider: ModelEditorProvider,
  format: 'json' | 'csv',
  resource: unknown,
  destination: unknown,
): Promise<vscode.Uri | undefined> {
  const document = targetDocument(provider, resource);
  if (!document) return noModel();
  const snapshot = await settledSnapshot(document);
  const report = reportWithStats(snapshot);
  if (!report) {
    void vscode.window.showErrorMessage(
      `${document.fileName}: ${snapshot.error?.reason ?? 'no statistics to export'}`,
    );
    return undefined;
  }
  let target = destination instanceof vscode.Uri ? destination : undefined;
  if (!target) {
    const stem = document.fileName.replace(/\.onnx$/i, '');
    target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.joinPath(document.uri, '..', `${stem}.stats.${format}`),
      filters: format === 'json' ? { JSON: ['json'] } : { CSV: ['csv'] },
      title: `Export statistics of ${document.fileName}`,
    });
    if (!target) return undefined;
  }
  const text = format === 'json' ? JSON.stringify(report, null, 2) + '\n' : statisticsCsv(report);
  await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(text));
  if (!(destination instanceof vscode.Uri)) {
    void vscode.window.showInformationMessage(
      `Statistics of ${document.fileName} saved to ${path.basename(target.path)}.`,
    );
  }
  return target;
}

async function revealReports(
  provider: ModelEditorProvider,
  resource: unknown,
): Promise<vscode.Uri[] | undefined> {
  const model = targetUri(provider, resource);
  if (!model) return noModel();
  const reports = await findReports(model);
  const name = path.basename(model.path);
  if (reports.length === 0) {
    void vscode.window.showInformationMessage(
      `No compaction reports beside ${name} yet. Shrinking the model writes <model>.<variant>.report.md and .json next to it.`,
    );
    return reports;
  }
  const picked = await vscode.window.showQuickPick(
    reports.map((uri) => ({
      label: path.basename(uri.path),
      description: vscode.workspace.asRelativePath(uri, false),
      uri,
    })),
    { title: `Compaction reports of ${name}`, placeHolder: 'Open a report' },
  );
  if (picked) {
    if (/\.md$/i.test(picked.uri.path))
      await vscode.commands.executeCommand('markdown.showPreview', picked.uri);
    else await vscode.window.showTextDocument(picked.uri);
  }
  return reports;
}

async function copyTensorName(provider: ModelEditorProvider, arg: unknown): Promise<string | undefined> {
  const fromMenu = (arg as WebviewContext | undefined)?.tensorName;
  const name = typeof fromMenu === 'string' ? fromMenu : targetDocument(provider, arg)?.selection?.name;
  if (name === undefined) {
    void vscode.window.showInformationMessage('Select a tensor in the Big Shrink model editor first.');
    return undefined;
  }
  await vscode.env.clipboard.writeText(name);
  vscode.window.setStatusBarMessage(`Copied ${name}`, 3000);
  return name;
}

/** The palette / editor-title commands of the model editor. Each takes an optional resource first. */
export function registerCommands(provider: ModelEditorProvider): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('bigShrink.modelEditor.refresh', (resource?: unknown) => {
      const document = targetDocument(provider, resource);
      return document ? document.analyze() : noModel();
    }),
    vscode.commands.registerCommand('bigShrink.modelEditor.copyTensorName', (arg?: unknown) =>
      copyTensorName(provider, arg),
    ),
    vscode.commands.registerCommand(
      'bigShrink.modelEditor.exportStatisticsJson',
      (resource?: unknown, to?: unknown) => exportStatistics(provider, 'json', resource, to),
    ),
    vscode.commands.registerCommand(
      'bigShrink.modelEditor.exportStatisticsCsv',
      (resource?: unknown, to?: unknown) => exportStatistics(provider, 'csv', resource, to),
    ),
    vscode.commands.registerCommand('bigShrink.revealReports', (resource?: unknown) =>
      revealReports(provider, resource),
    ),
  ];
}

/**
 * Test-only (registered outside production mode, not in package.json): what the host sent to and
 * heard from the webview of `uri`'s editor with a small digest of the document's state, and how
 * busy the worker pool is.
 */
export function registerTestCommands(
  provider: ModelEditorProvider,
  pool: () => { threads: number; busyThreads: number },
): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('bigShrink._test.pool', () => ({
      threads: pool().threads,
      busy: pool().busyThreads,
    })),
    vscode.commands.registerCommand('bigShrink._test.lastState', (uri?: vscode.Uri) => {
      const document = uri ? provider.documentFor(uri) : provider.activeDocument;
      if (!document) return undefined;
      const snapshot = document.getSnapshot();
      return {
        fileName: snapshot.fileName,
        status: snapshot.status,
        error: snapshot.error,
        tensors: snapshot.report?.tensors.length,
        nodeCount: snapshot.report?.model.nodeCount,
        statsCount: snapshot.rows.filter((r) => r.stats).length,
        rowErrors: snapshot.rows.filter((r) => r.error).map((r) => r.error),
        timings: snapshot.timings,
        selection: document.selection,
        sweeps: snapshot.sweeps,
        sensitivity: snapshot.sensitivity,
        data: provider.dataStateFor(document.uri),
        core: provider.coreStateFor(document.uri),
        ...provider.probeFor(document),
      };
    }),
    vscode.commands.registerCommand(
      'bigShrink._test.dataAction',
      async (uri: vscode.Uri, action: DataActionMessage['action'], picked?: string) => {
        const document = provider.documentFor(uri);
        if (document) await provider.dataAction(document, { type: 'data/action', action }, picked);
        return provider.dataStateFor(uri);
      },
    ),
    vscode.commands.registerCommand(
      'bigShrink._test.coreAction',
      async (uri: vscode.Uri, action: CoreActionMessage['action'], units?: number) => {
        const document = provider.documentFor(uri);
        return document && provider.coreAction(document, { type: 'core/action', action, units });
      },
    ),
  ];
}
