import * as path from 'path';
import * as vscode from 'vscode';
import { WorkerPool } from '../runtime/workerPool';
import { registerCommands, registerTestCommands } from './commands';
import { CompareCommands, registerCompareTestCommands } from './compareCommand';
import { ModelEditorProvider } from './modelEditorProvider';
import { ReportIndex } from './reportIndex';
import { ReportsViewProvider } from './reportsViewProvider';
import { readSettings } from './settings';
import { registerSensitivityTestCommands, SensitivityCommand } from './sensitivityCommand';
import { registerShrinkTestCommands, ShrinkCommands } from './shrinkCommands';
import { disableOrtTelemetry } from '../runtime/loadOrt';

let pool: WorkerPool | undefined;
let poolThreads = 0;
/** Pools replaced after a settings change: they finish their jobs, idle out, and are disposed at the end. */
const retired: WorkerPool[] = [];

/** The statistics worker pool, created on first use (and again after a change of `bigShrink.workerThreads`). */
function workerPool(): WorkerPool {
  const threads = readSettings().workerThreads;
  if (pool && threads !== poolThreads) {
    retired.push(pool);
    pool = undefined;
  }
  if (!pool) {
    pool = new WorkerPool(path.join(__dirname, 'worker.js'), { size: threads });
    poolThreads = threads;
  }
  return pool;
}

export function activate(context: vscode.ExtensionContext): void {
  disableOrtTelemetry();
  const { provider, registration } = ModelEditorProvider.register(
    context,
    workerPool,
    () => readSettings().histogramBins,
  );
  context.subscriptions.push(registration, ...registerCommands(provider), { dispose: disposePools });

  // The side panel and the transforms (run by the CLI in a child process).
  const index = new ReportIndex();
  const panel = new ReportsViewProvider(context.extensionUri, index, {
    revealTensor: async (model, name, graph) => {
      await vscode.commands.executeCommand('vscode.openWith', model, ModelEditorProvider.viewType, {
        preview: false,
      });
      provider.revealTensor(model, name, graph);
    },
    openMarkdown: (report) => vscode.commands.executeCommand('bigShrink.openReport', report),
  });
  const shrink = new ShrinkCommands(context.extensionUri, provider, panel, index);
  const sensitivity = new SensitivityCommand(context.extensionUri, provider);
  context.subscriptions.push(...sensitivity.register());
  context.subscriptions.push(...new CompareCommands(context.extensionUri, provider).register());
  context.subscriptions.push(
    index,
    panel,
    ReportsViewProvider.register(panel),
    ...shrink.register(),
    vscode.commands.registerCommand('bigShrink.reports.refresh', () => panel.refresh()),
    vscode.commands.registerCommand('bigShrink.reports.openInEditor', () => panel.openInEditor()),
  );
  if (context.extensionMode !== vscode.ExtensionMode.Production) {
    context.subscriptions.push(
      ...registerTestCommands(provider, workerPool),
      ...registerShrinkTestCommands(shrink, panel, index),
      ...registerSensitivityTestCommands(sensitivity, provider),
      ...registerCompareTestCommands(),
    );
  }
}

function disposePools(): void {
  for (const p of retired.splice(0)) p.dispose();
  pool?.dispose();
  pool = undefined;
}

export function deactivate(): void {
  disposePools();
}
