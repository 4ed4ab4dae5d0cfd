import * as fs from 'fs';
import * as vscode from 'vscode';
import { assertNever, Messenger } from '../protocol/messaging';
import type {
  FromPanel,
  PanelError,
  PanelState,
  RenderedMessage,
  ReportView,
  RunningInfo,
  ToPanel,
} from '../protocol/reportsPanel';
import { nextStepsFor, runNextStep } from './nextStepActions';
import type { ReportIndex } from './reportIndex';
import { webviewHtml, webviewRoots } from './webviewHtml';

/** Test-only: what crossed the panel's channel (read through `bigShrink._test.reportsState`). */
export interface PanelProbe {
  posted: string[];
  received: string[];
  rendered?: RenderedMessage;
}

/** One webview showing the panel: the side bar view or an editor tab. */
interface PanelHost {
  kind: 'view' | 'editor';
  messenger: Messenger<ToPanel, FromPanel>;
  /** True once it said `ready` and got the state (until it is hidden, which destroys it). */
  ready: boolean;
  visible(): boolean;
}

/** What the panel asks the rest of the extension to do. */
export interface PanelActions {
  /** Open `model` in the model editor with tensor `name` selected. */
  revealTensor(model: vscode.Uri, name: string, graph?: string): Promise<void>;
  /** Open a report's Markdown beside the editor. */
  openMarkdown(report: vscode.Uri): Thenable<unknown>;
}

/**
 * The Big Shrink side panel (a webview view in the Big Shrink view container): the diff of the last
 * transform and the history of compaction reports in the workspace. The host keeps the state; the
 * webview is thrown away when hidden (no retainContextWhenHidden) and gets it all again on `ready`.
 */
export class ReportsViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewType = 'bigShrink.reports';
  /** The editor tab "Open in Editor" shows the panel in. */
  static readonly editorViewType = 'bigShrink.reportsEditor';

  private view: vscode.WebviewView | undefined;
  /** The side bar view and any copies opened in the editor area ("Open in Editor"): all show the same. */
  private readonly hosts = new Set<PanelHost>();
  private editorPanel: vscode.WebviewPanel | undefined;
  private current: ReportView | undefined;
  /** True once a transform or the user chose what to show (then a newer report does not replace it). */
  private pinned = false;
  private error: PanelError | undefined;
  private running: RunningInfo | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];
  readonly probe: PanelProbe = { posted: [], received: [] };

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly index: ReportIndex,
    private readonly actions: PanelActions,
  ) {
    this.subscriptions.push(index.onDidChange((e) => void this.onIndexChange(e.changed, e.created)));
  }

  static register(provider: ReportsViewProvider): vscode.Disposable {
    return vscode.window.registerWebviewViewProvider(ReportsViewProvider.viewType, provider);
  }

  /** The report shown now. */
  get currentReport(): ReportView | undefined {
    return this.current;
  }

  get isVisible(): boolean {
    return !!this.view?.visible;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.attach(view.webview, 'view', () => view.visible, view.onDidChangeVisibility, view.onDidDispose);
    view.onDidDispose(() => {
      if (this.view === view) this.view = undefined;
    });
  }

  /**
   * Shows the panel's content in an editor tab (wide, beside nothing), the same bundle and state as the
   * side bar's; a second call brings that tab forward.
   */
  openInEditor(): void {
    if (this.editorPanel) {
      this.editorPanel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      ReportsViewProvider.editorViewType,
      'Big Shrink Reports',
      vscode.ViewColumn.Active,
      { enableScripts: true, localResourceRoots: webviewRoots(this.extensionUri) },
    );
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'bigShrink.svg');
    this.editorPanel = panel;
    this.attach(panel.webview, 'editor', () => panel.visible, panel.onDidChangeViewState, panel.onDidDispose);
    panel.onDidDispose(() => {
      if (this.editorPanel === panel) this.editorPanel = undefined;
    });
  }

  /** Wires one webview to the state: it says `ready` whenever it is (re)created and gets everything. */
  private attach(
    webview: vscode.Webview,
    kind: PanelHost['kind'],
    visible: () => boolean,
    onVisibility: vscode.Event<unknown>,
    onDispose: vscode.Event<void>,
  ): void {
    webview.options = { enableScripts: true, localResourceRoots: webviewRoots(this.extensionUri) };
    webview.html = webviewHtml(webview, this.extensionUri, 'reportsPanel', 'Big Shrink reports');
    const host: PanelHost = {
      kind,
      visible,
      ready: false,
      messenger: new Messenger<ToPanel, FromPanel>(
        (message) => {
          this.probe.posted.push(message.type);
          void webview.postMessage(message);
        },
        (message) => void this.handle(message),
      ),
    };
    this.hosts.add(host);
    const subscriptions = [
      webview.onDidReceiveMessage((message: FromPanel) => {
        this.probe.received.push(message.type);
        if (message.type === 'ready') {
          void this.answerReady(host, message);
          return;
        }
        host.messenger.receive(message);
      }),
      // Hidden, the webview is destroyed; shown again, it says `ready` and gets the whole state.
      onVisibility(() => {
        if (!visible()) host.ready = false;
      }),
    ];
    onDispose(() => {
      host.messenger.close();
      subscriptions.forEach((s) => s.dispose());
      this.hosts.delete(host);
    });
  }

  /** Show report `file` (after a transform, or a pick); `reveal` brings the panel into view. */
  async showReport(
    file: string,
    options: { reveal?: boolean; add?: boolean } = {},
  ): Promise<ReportView | undefined> {
    this.pinned = true;
    try {
      this.current = options.add ? await this.index.add(file) : await this.index.get(file);
      this.error = undefined;
    } catch (e) {
      this.error = { file, reason: (e as Error).message };
    }
    this.post({ type: 'reports/current', current: this.current, error: this.error });
    if (options.reveal) await this.reveal();
    return this.current;
  }

  /** A transform started (with what it is doing) or ended (`undefined`). */
  setRunning(running: RunningInfo | undefined): void {
    this.running = running;
    this.post({ type: 'reports/running', running });
  }

  /** Bring the panel into view without taking the focus from the editor. */
  async reveal(): Promise<void> {
    if (this.view) this.view.show(true);
    else await vscode.commands.executeCommand(`${ReportsViewProvider.viewType}.focus`);
  }

  /** Search the workspace again and refresh the list. */
  async refresh(): Promise<void> {
    await this.index.refresh();
    if (this.current) await this.showReport(this.current.file).catch(() => undefined);
  }

  /** Test-only: handle `message` as if the webview had sent it (a click on a row, a link). */
  receiveForTest(message: FromPanel): Promise<void> {
    this.probe.received.push(message.type);
    return this.handle(message);
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
  }

  private post(message: ToPanel): void {
    const out =
      message.type === 'reports/current' ? { ...message, current: withNextSteps(message.current) } : message;
    for (const host of this.hosts) if (host.ready && host.visible()) host.messenger.post(out);
  }

  private async answerReady(host: PanelHost, message: FromPanel & { type: 'ready' }) {
    const history = await this.index.entries();
    if (!this.current && message.selected && history.some((h) => h.file === message.selected)) {
      await this.index
        .get(message.selected)
        .then((v) => (this.current = v))
        .catch(() => undefined);
    }
    if (!this.current && !this.error) this.current = await this.index.newest();
    const state: PanelState = {
      history,
      current: withNextSteps(this.current),
      running: this.running,
      error: this.error,
      scanned: this.index.isScanned,
      inEditor: host.kind === 'editor',
    };
    host.ready = true;
    host.messenger.reply(message, { type: 'reports/init', state });
  }

  private async onIndexChange(changed: string[], created: string[]): Promise<void> {
    const history = await this.index.entries();
    this.post({ type: 'reports/history', history });
    const file = this.current?.file;
    if (file && changed.includes(file)) {
      // The shown report changed on disk, or went away.
      if (fs.existsSync(file)) await this.showReport(file);
      else {
        this.current = await this.index.newest();
        this.post({ type: 'reports/current', current: this.current });
      }
      return;
    }
    // A transform outside the extension (the CLI in a terminal, CI) wrote a newer report: show it,
    // unless the user picked one to look at.
    const newest = history[0];
    if (newest && created.includes(newest.file) && (!this.pinned || !this.current)) {
      this.current = await this.index.get(newest.file).catch(() => this.current);
      this.post({ type: 'reports/current', current: this.current });
    } else if (!this.current && newest) {
      this.current = await this.index.get(newest.file).catch(() => undefined);
      this.post({ type: 'reports/current', current: this.current });
    }
  }

  private async handle(message: FromPanel): Promise<void> {
    switch (message.type) {
      case 'ready':
        return; // answered in resolveWebviewView
      case 'report/select':
        await this.showReport(message.file);
        return;
      case 'report/open': {
        const view = this.current?.file === message.file ? this.current : await this.index.get(message.file);
        switch (message.what) {
          case 'markdown':
            await this.actions.openMarkdown(vscode.Uri.file(message.file));
            return;
          case 'json':
            await vscode.window.showTextDocument(vscode.Uri.file(message.file), { preview: true });
            return;
          case 'compare':
            await vscode.commands.executeCommand('bigShrink.compareWith', vscode.Uri.file(view.inputPath), [
              vscode.Uri.file(view.inputPath),
              vscode.Uri.file(view.outputPath),
            ]);
            return;
          case 'input':
          case 'output': {
            const model = message.what === 'input' ? view.inputPath : view.outputPath;
            await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(model));
            return;
          }
          default:
            return assertNever(message.what);
        }
      }
      case 'tensor/reveal': {
        const view = this.current?.file === message.file ? this.current : await this.index.get(message.file);
        const tensor = view.tensors.find((t) => t.name === message.name);
        if (!view.inputPath || !fs.existsSync(view.inputPath)) {
          void vscode.window.showWarningMessage(
            `${view.model || 'The input model'} of this report is no longer at ${view.inputPath}.`,
          );
          return;
        }
        await this.actions.revealTensor(vscode.Uri.file(view.inputPath), message.name, tensor?.graph);
        return;
      }
      case 'command/run':
        switch (message.command) {
          case 'quantize':
            await vscode.commands.executeCommand('bigShrink.quantize');
            return;
          case 'prune':
            await vscode.commands.executeCommand('bigShrink.prune');
            return;
          case 'shrink':
            await vscode.commands.executeCommand('bigShrink.shrinkToTarget');
            return;
          case 'refresh':
            await vscode.commands.executeCommand('bigShrink.reports.refresh');
            return;
          case 'openInEditor':
            this.openInEditor();
            return;
          default:
            return assertNever(message.command);
        }
      case 'nextStep/run': {
        const view = this.current?.file === message.file ? this.current : await this.index.get(message.file);
        const step = nextStepsFor(view).find((s) => s.kind === message.kind);
        if (step) await runNextStep(step, view.inputPath);
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

/** The view with the next steps it offers after a fidelity FAIL (what the panel's buttons run). */
function withNextSteps(view: ReportView | undefined): ReportView | undefined {
  if (!view || view.status !== 'fail') return view;
  const steps = nextStepsFor(view).map(({ kind, label, detail }) => ({ kind, label, detail }));
  return steps.length ? { ...view, nextSteps: steps } : view;
}
