import * as vscode from 'vscode';
import type {
  CoreActionMessage,
  CoreState,
  DataCardState,
  EditorCommand,
  FromWebview,
  GraphRequestMessage,
  RenderedMessage,
  RevealTensorMessage,
  ToWebview,
} from '../protocol/modelEditor';
import { assertNever, Messenger } from '../protocol/messaging';
import { GraphLayoutWorker } from '../runtime/graphLayoutWorker';
import type { WorkerPool } from '../runtime/workerPool';
import { dataCardAction, loadDataCard } from './dataCard';
import { FunctionalCore } from './functionalCore';
import { excludeFromQuantization, lastReportOf, quantizeOnly } from './graphActions';
import { ModelDocument } from './modelDocument';
import { webviewHtml, webviewRoots } from './webviewHtml';

/** Test-only: what crossed one document's webview channel (read through `bigShrink._test.lastState`). */
export interface EditorProbe {
  posted: string[];
  received: string[];
  rendered: RenderedMessage[];
}

/** Commands the provider forwards (the webview's own buttons run the palette commands). */
const COMMAND_IDS: Record<Exclude<EditorCommand, 'reopenWithText'>, string> = {
  refresh: 'bigShrink.modelEditor.refresh',
  exportJson: 'bigShrink.modelEditor.exportStatisticsJson',
  exportCsv: 'bigShrink.modelEditor.exportStatisticsCsv',
  revealReports: 'bigShrink.revealReports',
  measureSensitivity: 'bigShrink.measureSensitivity',
};

/**
 * The read-only custom editor for .onnx files. One ModelDocument per file holds the summary and the
 * statistics; each editor is a webview that restores its UI state itself (getState/setState) and
 * asks for the document's state with `ready`. No retainContextWhenHidden.
 */
export class ModelEditorProvider implements vscode.CustomReadonlyEditorProvider<ModelDocument> {
  static readonly viewType = 'bigShrink.modelEditor';

  private readonly documents = new Map<string, ModelDocument>();
  private readonly probes = new WeakMap<ModelDocument, EditorProbe>();
  /** A tensor to select once an editor of the document is ready (asked before its webview said `ready`). */
  private readonly pendingReveal = new WeakMap<ModelDocument, RevealTensorMessage>();
  private readonly onRevealEmitter = new vscode.EventEmitter<ModelDocument>();
  /** The Data card's state per document (read through the CLI child once, then after each action). */
  private readonly dataStates = new WeakMap<ModelDocument, DataCardState>();
  private readonly onDataEmitter = new vscode.EventEmitter<ModelDocument>();
  /** The Functional core tab's measurements, by model path. */
  readonly core = new FunctionalCore(
    () => this.cli,
    (model) => this.onCoreEmitter.fire(model),
  );
  private readonly onCoreEmitter = new vscode.EventEmitter<string>();
  private active: ModelDocument | undefined;
  /** Lays out the Graph tab (started on first use). */
  private graphWorker: GraphLayoutWorker | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly pool: () => WorkerPool,
    private readonly bins: () => number,
  ) {}

  static register(
    context: vscode.ExtensionContext,
    pool: () => WorkerPool,
    bins: () => number,
  ): { provider: ModelEditorProvider; registration: vscode.Disposable } {
    const provider = new ModelEditorProvider(context.extensionUri, pool, bins);
    const registration = vscode.window.registerCustomEditorProvider(ModelEditorProvider.viewType, provider, {
      supportsMultipleEditorsPerDocument: true,
    });
    const graphWorker = { dispose: () => provider.graphWorker?.dispose() };
    const core = { dispose: () => provider.core.dispose() };
    return { provider, registration: vscode.Disposable.from(registration, graphWorker, core) };
  }

  /** The document of the focused model editor (or the last one focused). */
  get activeDocument(): ModelDocument | undefined {
    return this.active;
  }

  /** The open document for `uri`, if any. */
  documentFor(uri: vscode.Uri): ModelDocument | undefined {
    return this.documents.get(uri.toString());
  }

  /**
   * Select tensor `name` in the open editors of `uri` (open it first, e.g. with `vscode.openWith`).
   * An editor whose webview is not ready yet gets it right after its `editor/init`.
   */
  revealTensor(uri: vscode.Uri, name: string, graph?: string): boolean {
    const document = this.documentFor(uri);
    if (!document) return false;
    this.pendingReveal.set(document, { type: 'editor/reveal', name, graph });
    this.onRevealEmitter.fire(document);
    return true;
  }

  /** Test-only view of a document's channel. */
  probeFor(document: ModelDocument): EditorProbe | undefined {
    return this.probes.get(document);
  }

  openCustomDocument(uri: vscode.Uri): ModelDocument {
    const document = new ModelDocument(uri, this.pool, this.bins);
    const key = uri.toString();
    this.documents.set(key, document);
    this.probes.set(document, { posted: [], received: [], rendered: [] });
    document.onDidDispose(() => {
      if (this.documents.get(key) === document) this.documents.delete(key);
      if (this.active === document) this.active = undefined;
    });
    void document.analyze();
    return document;
  }

  resolveCustomEditor(document: ModelDocument, panel: vscode.WebviewPanel): void {
    const probe = this.probes.get(document)!;
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: webviewRoots(this.extensionUri) };
    webview.html = webviewHtml(webview, this.extensionUri, 'modelEditor', document.fileName);

    let ready = false;
    const send = (message: ToWebview) => {
      probe.posted.push(message.type);
      void webview.postMessage(message);
    };
    const messenger = new Messenger<ToWebview, FromWebview>(send, (message) =>
      this.handle(document, message, messenger),
    );
    const sendReveal = () => {
      const reveal = this.pendingReveal.get(document);
      if (!reveal || !ready || !panel.visible) return;
      this.pendingReveal.delete(document);
      messenger.post(reveal);
    };
    const subscriptions: vscode.Disposable[] = [
      webview.onDidReceiveMessage((message: FromWebview) => {
        probe.received.push(message.type);
        if (message.type === 'ready') {
          ready = true;
          messenger.reply(message, { type: 'editor/init', snapshot: document.getSnapshot() });
          sendReveal();
          const data = this.dataStates.get(document);
          if (data) messenger.post({ type: 'data/state', state: data });
          else void this.refreshData(document);
          const core = this.core.stateOf(document.uri.fsPath);
          if (core) messenger.post({ type: 'core/state', state: core });
          return;
        }
        messenger.receive(message);
      }),
      // Until the webview is ready it gets everything at once in the answer to `ready`.
      document.onDidChange((message) => {
        if (ready && panel.visible) messenger.post(message);
      }),
      this.onRevealEmitter.event((revealed) => {
        if (revealed === document) sendReveal();
      }),
      this.onDataEmitter.event((changed) => {
        const state = this.dataStates.get(document);
        if (changed === document && state && ready && panel.visible)
          messenger.post({ type: 'data/state', state });
      }),
      this.onCoreEmitter.event((model) => {
        const state = this.core.stateOf(model);
        if (model === document.uri.fsPath && state && ready && panel.visible)
          messenger.post({ type: 'core/state', state });
      }),
      panel.onDidChangeViewState(() => {
        // A hidden webview is destroyed (no retainContextWhenHidden); it says `ready` again when shown.
        if (!panel.visible) ready = false;
        if (panel.active) this.active = document;
      }),
    ];
    if (panel.active) this.active = document;
    panel.onDidDispose(() => {
      messenger.close();
      subscriptions.forEach((s) => s.dispose());
    });
  }

  /**
   * A Functional core action (the tab's buttons; tests through `bigShrink._test.coreAction`): the state
   * after a measurement, whether a cancel found one running, or the outcome of "Compact…".
   */
  async coreAction(document: ModelDocument, message: CoreActionMessage): Promise<unknown> {
    const model = document.uri.fsPath;
    if (message.action === 'measure') return this.core.measure(model);
    if (message.action === 'cancel') return this.core.cancel(model);
    return vscode.commands.executeCommand('bigShrink.compact', document.uri, { units: message.units });
  }

  /** Test-only: the Functional core tab's last state for `uri`. */
  coreStateFor(uri: vscode.Uri): CoreState | undefined {
    return this.core.stateOf(uri.fsPath);
  }

  /** Test-only: the Data card's last state for `uri`. */
  dataStateFor(uri: vscode.Uri): DataCardState | undefined {
    const document = this.documentFor(uri);
    return document && this.dataStates.get(document);
  }

  private get cli(): string {
    return vscode.Uri.joinPath(this.extensionUri, 'dist', 'cli.js').fsPath;
  }

  private setData(document: ModelDocument, state: DataCardState): void {
    this.dataStates.set(document, state);
    this.onDataEmitter.fire(document);
  }

  /** Reads the model's data (the recipe beside it) in the CLI child and shows it in the Data card. */
  async refreshData(document: ModelDocument): Promise<void> {
    this.setData(document, { status: 'loading' });
    this.setData(document, await loadDataCard(this.cli, document.uri.fsPath));
  }

  /** A Data card action; `picked` answers its dialog (tests, through `bigShrink._test.dataAction`). */
  async dataAction(
    document: ModelDocument,
    message: Extract<FromWebview, { type: 'data/action' }>,
    picked?: string,
  ): Promise<void> {
    const previous = this.dataStates.get(document);
    try {
      const next = await dataCardAction(this.cli, document.uri.fsPath, message, picked);
      if (next) this.setData(document, next);
    } catch (e) {
      this.setData(document, {
        ...(previous ?? { status: 'none' }),
        status: 'error',
        error: (e as Error).message,
      });
    }
  }

  /** Builds and lays out the graph in the worker; the answer carries the newest report's per-layer figures. */
  private async graph(
    document: ModelDocument,
    message: GraphRequestMessage,
    messenger: Messenger<ToWebview, FromWebview>,
  ): Promise<void> {
    const modelPath = document.uri.fsPath;
    this.graphWorker ??= new GraphLayoutWorker();
    try {
      const [laid, lastReport] = await Promise.all([
        this.graphWorker.layout({ path: modelPath, graph: message.graph, expanded: message.expanded }),
        lastReportOf(modelPath),
      ]);
      messenger.reply(message, {
        type: 'graph/view',
        graph: message.graph,
        model: laid.model,
        layout: laid.layout,
        buildMs: laid.buildMs,
        layoutMs: laid.layoutMs,
        lastReport,
      });
    } catch (error) {
      messenger.reply(message, {
        type: 'graph/view',
        graph: message.graph,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private handle(
    document: ModelDocument,
    message: FromWebview,
    messenger: Messenger<ToWebview, FromWebview>,
  ): void {
    switch (message.type) {
      case 'graph/request':
        void this.graph(document, message, messenger);
        return;
      case 'graph/action':
        if (message.action === 'exclude') void excludeFromQuantization(document.uri, message.names);
        else void quantizeOnly(document.uri, message.names);
        return;
      case 'ready':
        return; // answered in resolveCustomEditor
      case 'tensor/selected':
        document.selection =
          message.id === undefined || message.name === undefined
            ? undefined
            : { id: message.id, name: message.name };
        return;
      case 'command/run':
        if (message.command === 'reopenWithText') {
          // "Open With… Text Editor" for a file that is not a model.
          void vscode.commands.executeCommand('vscode.openWith', document.uri, 'default');
        } else {
          void vscode.commands.executeCommand(COMMAND_IDS[message.command], document.uri);
        }
        return;
      case 'view/rendered':
        this.probes.get(document)?.rendered.push(message);
        return;
      case 'sweep/request':
        void document.requestSweeps([message.id], true);
        return;
      case 'data/action':
        void this.dataAction(document, message);
        return;
      case 'core/action':
        void this.coreAction(document, message);
        return;
      default:
        return assertNever(message);
    }
  }
}
