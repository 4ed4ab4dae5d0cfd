import * as path from 'path';
import * as vscode from 'vscode';
import type { ModelDiff, TensorDiff } from '../core/diff/modelDiff';
import { assertNever, Messenger } from '../protocol/messaging';
import type { CompareRenderedMessage, CompareState, FromCompare, ToCompare } from '../protocol/compareView';
import type { DiffRunResult } from './diffRunner';
import { webviewHtml, webviewRoots } from './webviewHtml';

/** One side of a comparison: the file the CLI reads and how the view names it. */
export interface CompareSide {
  path: string;
  label: string;
}

/** Runs the comparison (the CLI child); the panel gives it the cancel signal and a progress callback. */
export type CompareRun = (
  signal: AbortSignal,
  onProgress: (done: number, total: number) => void,
) => Promise<DiffRunResult>;

/** Test-only: what crossed the panel's channel. */
export interface ComparePanelProbe {
  posted: string[];
  received: string[];
  rendered?: CompareRenderedMessage;
}

/**
 * The compare view: a webview panel showing two models side by side, their changed tensors sorted by error
 * and the selected tensor's histograms overlaid. The comparison runs in the CLI's process under a
 * cancellable progress notification; the host keeps it (with histograms) and gives the webview the rows
 * without histograms, then the selected tensor's pair on request. No retainContextWhenHidden: a webview
 * shown again says `ready` and gets the whole state.
 */
export class ComparePanel {
  static readonly viewType = 'bigShrink.compare';
  /** The most recently opened panel (tests). */
  static last: ComparePanel | undefined;

  private readonly panel: vscode.WebviewPanel;
  private readonly messenger: Messenger<ToCompare, FromCompare>;
  private readonly abort = new AbortController();
  private ready = false;
  private state: CompareState;
  /** The comparison as the CLI printed it (histograms included). */
  private full: ModelDiff | undefined;
  private readonly onDidFinishEmitter = new vscode.EventEmitter<CompareState>();
  readonly probe: ComparePanelProbe = { posted: [], received: [] };
  /** Fired when the run ended (done, failed or cancelled). */
  readonly onDidFinish = this.onDidFinishEmitter.event;
  readonly finished: Promise<CompareState>;

  constructor(
    extensionUri: vscode.Uri,
    readonly a: CompareSide,
    readonly b: CompareSide,
    run: CompareRun,
    private readonly cleanup: () => void = () => undefined,
  ) {
    this.state = { status: 'running', labelA: a.label, labelB: b.label, pathA: a.path, pathB: b.path };
    this.panel = vscode.window.createWebviewPanel(
      ComparePanel.viewType,
      `${a.label} ↔ ${b.label}`,
      vscode.ViewColumn.Active,
      { enableScripts: true, localResourceRoots: webviewRoots(extensionUri) },
    );
    const webview = this.panel.webview;
    webview.html = webviewHtml(webview, extensionUri, 'compare', `Compare ${a.label} with ${b.label}`);
    this.messenger = new Messenger<ToCompare, FromCompare>(
      (message) => {
        this.probe.posted.push(message.type);
        void webview.postMessage(message);
      },
      (message) => this.handle(message),
    );
    const subscriptions = [
      webview.onDidReceiveMessage((message: FromCompare) => {
        this.probe.received.push(message.type);
        if (message.type === 'ready') {
          this.ready = true;
          this.messenger.reply(message, { type: 'compare/init', state: this.state });
          return;
        }
        this.messenger.receive(message);
      }),
      this.panel.onDidChangeViewState(() => {
        if (!this.panel.visible) this.ready = false;
      }),
    ];
    this.panel.onDidDispose(() => {
      this.abort.abort();
      this.messenger.close();
      subscriptions.forEach((s) => s.dispose());
      if (ComparePanel.last === this) ComparePanel.last = undefined;
      // A temporary copy (HEAD's version) is removed once the run has let go of it.
      void this.finished.finally(() => this.cleanup());
    });
    ComparePanel.last = this;
    this.finished = this.start(run);
  }

  /** The state the view shows now. */
  get current(): CompareState {
    return this.state;
  }

  /** The comparison with histograms, once done. */
  get comparison(): ModelDiff | undefined {
    return this.full;
  }

  /** Test-only: cancel the run, as the notification's Cancel button does. */
  cancel(): void {
    this.abort.abort();
  }

  dispose(): void {
    this.panel.dispose();
  }

  private async start(run: CompareRun): Promise<CompareState> {
    const result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Big Shrink: comparing ${this.a.label} with ${this.b.label}`,
        cancellable: true,
      },
      (progress, token) => {
        token.onCancellationRequested(() => this.abort.abort());
        let reported = 0;
        return run(this.abort.signal, (done, total) => {
          const percent = total > 0 ? (100 * done) / total : 0;
          progress.report({ message: `${done} of ${total} tensors`, increment: percent - reported });
          reported = percent;
          this.state.progress = { done, total };
          this.post({ type: 'compare/progress', done, total });
        });
      },
    );
    if (result.status === 'done') {
      try {
        this.full = JSON.parse(result.json ?? '') as ModelDiff;
        this.state = { ...this.state, status: 'done', diff: withoutHistograms(this.full) };
      } catch (e) {
        this.state = {
          ...this.state,
          status: 'failed',
          error: `unreadable comparison: ${(e as Error).message}`,
        };
      }
    } else if (result.status === 'cancelled') {
      this.state = { ...this.state, status: 'cancelled' };
    } else {
      const file = result.error?.file ? `${path.basename(result.error.file)}: ` : '';
      this.state = {
        ...this.state,
        status: 'failed',
        error: `${file}${result.error?.reason ?? 'unknown error'}`,
      };
    }
    if (this.state.status === 'failed') {
      void vscode.window.showErrorMessage(
        `Big Shrink could not compare ${this.a.label} with ${this.b.label}: ${this.state.error}`,
      );
    }
    this.post({ type: 'compare/init', state: this.state });
    this.onDidFinishEmitter.fire(this.state);
    return this.state;
  }

  private post(message: ToCompare): void {
    if (this.ready && this.panel.visible) this.messenger.post(message);
  }

  private handle(message: FromCompare): void {
    switch (message.type) {
      case 'ready':
        return; // answered on receipt
      case 'compare/select': {
        const row = this.full?.tensors.find((t) => t.name === message.name);
        this.messenger.post({
          type: 'compare/histograms',
          name: message.name,
          histogramA: row?.histogramA,
          histogramB: row?.histogramB,
        });
        return;
      }
      case 'view/rendered':
        this.probe.rendered = message;
        return;
      default:
        return assertNever(message);
    }
  }
}

/** The comparison as the webview gets it: rows without their histograms. */
function withoutHistograms(diff: ModelDiff): ModelDiff {
  return {
    ...diff,
    tensors: diff.tensors.map((t: TensorDiff) => {
      const { histogramA: _a, histogramB: _b, ...rest } = t;
      return rest;
    }),
  };
}
