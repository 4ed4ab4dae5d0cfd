import * as path from 'path';
import * as vscode from 'vscode';
import { ModelError } from '../core/errors';
import {
  sensitivityFileOf,
  summarizeSensitivity,
  type SensitivitySummary,
} from '../core/sensitivity/sensitivitySummary';
import { writeFileAtomic } from '../runtime/writeFileAtomic';
import { noModel } from './commands';
import type { ModelEditorProvider } from './modelEditorProvider';
import { readSensitivitySettings } from './settings';
import { runSensitivity, type SensitivityRunResult } from './sensitivityRunner';

/** What a run returned (the command's result, for tests). */
export interface SensitivityOutcome {
  status: SensitivityRunResult['status'] | 'skipped';
  model?: string;
  /** `<model>.sensitivity.json`, written when the run succeeded. */
  file?: string;
  layers?: number;
  error?: { file: string; reason: string };
}

/** A second argument that overrides the settings (tests, other extensions). */
interface SensitivityRequest {
  bits?: 2 | 4 | 8;
  blockSize?: number;
}

/**
 * "Big Shrink: Measure Sensitivity": runs `big-shrink sensitivity MODEL --json` in the CLI's process under
 * a cancellable progress notification, saves the report beside the model as `<model>.sensitivity.json`
 * (written atomically, replacing an earlier measurement) and shows it in the open model editors.
 */
export class SensitivityCommand {
  private readonly runs = new Map<string, AbortController>();
  lastOutcome: SensitivityOutcome | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly editors: ModelEditorProvider,
  ) {}

  register(): vscode.Disposable[] {
    return [
      vscode.commands.registerCommand(
        'bigShrink.measureSensitivity',
        (resource?: unknown, request?: unknown) => this.measure(resource, request),
      ),
    ];
  }

  /** Test-only: cancel every run in flight, as the notification's Cancel button does. */
  cancelAll(): number {
    for (const run of this.runs.values()) run.abort();
    return this.runs.size;
  }

  async measure(resource: unknown, arg?: unknown): Promise<SensitivityOutcome> {
    const uri = resource instanceof vscode.Uri ? resource : this.editors.activeDocument?.uri;
    if (!uri || uri.scheme !== 'file') return noModel() ?? { status: 'skipped' };
    const model = uri.fsPath;
    if (this.runs.has(model)) {
      void vscode.window.showInformationMessage(
        `The sensitivity of ${path.basename(model)} is being measured.`,
      );
      return { status: 'skipped', model };
    }
    const request = (typeof arg === 'object' && arg !== null ? arg : {}) as SensitivityRequest;
    const settings = readSensitivitySettings();
    const bits = request.bits ?? settings.bits;
    const blockSize = request.blockSize ?? settings.blockSize;
    const controller = new AbortController();
    this.runs.set(model, controller);
    const name = path.basename(model);
    let result: SensitivityRunResult;
    try {
      result = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `Big Shrink: measuring the ${bits}-bit sensitivity of ${name}`,
          cancellable: true,
        },
        (progress, token) => {
          token.onCancellationRequested(() => controller.abort());
          progress.report({ message: 'running the original model…' });
          let reported = 0;
          return runSensitivity(this.cli, model, {
            bits,
            blockSize,
            signal: controller.signal,
            onProgress: (done, total) => {
              const percent = total > 0 ? (100 * done) / total : 0;
              progress.report({ message: `${done} of ${total} layers`, increment: percent - reported });
              reported = percent;
            },
          });
        },
      );
    } finally {
      this.runs.delete(model);
    }
    const outcome = this.finish(model, result);
    this.lastOutcome = outcome;
    return outcome;
  }

  private get cli(): string {
    return vscode.Uri.joinPath(this.extensionUri, 'dist', 'cli.js').fsPath;
  }

  /** Save and show a finished run, or say why there is nothing. */
  private finish(model: string, result: SensitivityRunResult): SensitivityOutcome {
    const name = path.basename(model);
    if (result.status === 'cancelled') {
      vscode.window.setStatusBarMessage(`Big Shrink: sensitivity of ${name} cancelled`, 8000);
      return { status: 'cancelled', model };
    }
    const document = this.editors.documentFor(vscode.Uri.file(model));
    const file = sensitivityFileOf(model);
    let summary: SensitivitySummary | undefined;
    let error = result.error;
    if (result.status === 'done') {
      try {
        summary = summarizeSensitivity(JSON.parse(result.json ?? ''), file);
        // Replaces an earlier measurement: the file is this command's own output, never the model.
        writeFileAtomic(file, result.json!.endsWith('\n') ? result.json! : `${result.json}\n`, {
          force: true,
        });
      } catch (e) {
        summary = undefined;
        error = { file, reason: e instanceof ModelError ? e.reason : (e as Error).message };
      }
    }
    if (!summary) {
      const where = error?.file && error.file !== model ? ` (${path.basename(error.file)})` : '';
      void vscode.window.showErrorMessage(
        `Big Shrink could not measure the sensitivity of ${name}${where}: ${error?.reason ?? 'unknown error'}`,
      );
      return { status: 'failed', model, error };
    }
    document?.setSensitivity(summary);
    const worst = summary.layers.find((l) => !l.error);
    const most = worst ? `; most sensitive: ${worst.name} (${worst.outputSqnrDb.toFixed(1)} dB)` : '';
    void vscode.window.showInformationMessage(
      `Big Shrink: ${summary.layers.length} layers of ${name} measured at ${summary.bits}-bit${most}. Saved ${path.basename(file)}.`,
    );
    return { status: 'done', model, file, layers: summary.layers.length };
  }
}

/**
 * Test-only (registered outside production mode, not in package.json): the last outcome, a cancel that
 * does what the notification's Cancel button does, and a tensor selection made as the side panel makes it
 * (the webview selects the row and asks for its sweep).
 */
export function registerSensitivityTestCommands(
  command: SensitivityCommand,
  editors: ModelEditorProvider,
): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('bigShrink._test.sensitivityState', () => command.lastOutcome),
    vscode.commands.registerCommand('bigShrink._test.cancelSensitivity', () => command.cancelAll()),
    vscode.commands.registerCommand('bigShrink._test.revealTensor', (uri: vscode.Uri, name: string) =>
      editors.revealTensor(uri, name),
    ),
  ];
}
