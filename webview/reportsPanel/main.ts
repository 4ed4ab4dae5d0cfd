/**
 * The Big Shrink side panel's webview: the diff of the last transform (summary, changed weights,
 * rewritten nodes) and the history of compaction reports. It asks the host for the state with
 * `ready` (naming the report it showed before, from getState) and keeps its own UI state (sort,
 * sections, "show all") across hiding with getState/setState.
 */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import { assertNever, Messenger } from '../../src/protocol/messaging';
import type {
  FromPanel,
  NodeChangeRow,
  PanelState,
  TensorChange,
  ToPanel,
} from '../../src/protocol/reportsPanel';
import { h, replace } from '../modelEditor/dom';
import { formatBytes, formatCount, formatPercent } from '../modelEditor/format';
import type { ShrinkCandidate, ShrinkLayer } from '../../src/protocol/shrinkFigures';
import { ChangeTable, type Column, nameText, type Sort } from './changeTable';
import { HistoryView } from './history';
import { candidateAttrs, candidateColumns, layerAttrs, layerColumns, lossPrecisions } from './shrinkColumns';
import { formatDb, SummaryView } from './summary';
import { TradeoffChart } from './tradeoffChart';

interface VsCodeApi<S> {
  postMessage(message: unknown): void;
  getState(): S | undefined;
  setState(state: S): void;
}
declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

type Section = 'tradeoff' | 'layers' | 'tensors' | 'nodes' | 'history';

/** What the panel remembers across hide/show. */
interface UiState {
  selected?: string;
  sort: { tensors: Sort; nodes: Sort; layers?: Sort; candidates?: Sort };
  showAll: { tensors: boolean; nodes: boolean; layers?: boolean; candidates?: boolean };
  open: Record<Section, boolean>;
  scrollTop: number;
}

const ROW_LIMIT = 200;
const vscode = acquireVsCodeApi<UiState>();
const saved = vscode.getState();
const ui: UiState = {
  sort: { tensors: undefined, nodes: undefined },
  showAll: { tensors: false, nodes: false },
  scrollTop: 0,
  ...saved,
  // Sections added later are open unless the saved state says otherwise.
  open: { tradeoff: true, layers: true, tensors: true, nodes: false, history: true, ...saved?.open },
};
let state: PanelState = { history: [], scanned: false };

const post = (message: FromPanel) => vscode.postMessage(message);
const messenger = new Messenger<FromPanel, ToPanel>(post, handle);
window.addEventListener('message', (e: MessageEvent<ToPanel>) => messenger.receive(e.data));

function saveState(): void {
  ui.scrollTop = document.scrollingElement?.scrollTop ?? 0;
  vscode.setState(ui);
}

// ---- cells ----

/** "uint4 (MatMulNBits, block 32)" -> "uint4"; "com.microsoft::MatMulNBits" -> "MatMulNBits". */
const shortType = (t: string) => t.replace(/\s*\(.*\)$/, '');
const shortOp = (op: string) => op.replace(/^.*::/, '');

/** A share for a narrow sub-line: "50%", "5.5%", "0%", "?". */
const shortPercent = (r: number | undefined) =>
  r === undefined ? '?' : formatPercent(r, r >= 0.1 && r < 1 ? 0 : 1);

/** A weight's SQNR in dB: `null` stands for an unchanged weight, whose SQNR is infinite. */
const sqnrOf = (t: TensorChange): number | undefined => (t.weightSqnrDb === null ? Infinity : t.weightSqnrDb);

/** "2:4 along axis 1", "16 of 64 channels", "sparse_initializer", "dense": how a pruned weight came out. */
function pruneForm(t: TensorChange): string {
  if (t.channels) return `${t.channels.zeroed.length} of ${t.channels.total} channels`;
  if (t.pattern) return t.pattern.replace(/ along axis \d+$/, '');
  return t.storage === 'sparse_initializer' ? 'sparse' : 'dense';
}

/** The tooltip of a pruned weight's name: what was zeroed and how it is stored. */
function pruneTitle(t: TensorChange): string {
  const c = t.channels;
  const shown = c ? c.zeroed.slice(0, 32).join(', ') + (c.zeroed.length > 32 ? ', …' : '') : '';
  return [
    t.pattern ? `Pattern ${t.pattern}` : '',
    c ? `Zeroed ${c.zeroed.length} of ${c.total} channels along axis ${c.axis}: ${shown}` : '',
    t.storage ? `Stored ${t.storage === 'sparse_initializer' ? 'as a sparse_initializer' : 'dense'}` : '',
    t.note ?? '',
  ]
    .filter(Boolean)
    .join('\n');
}

/**
 * The tensor table's columns. A prune report's rows say how each weight was pruned and its sparsity; their
 * size only when some weight was stored otherwise (sparse): dense pruning keeps every size, and the side
 * bar is narrow.
 */
function tensorColumns(prune: boolean, withSparsity = prune, withSize = true): Column<TensorChange>[] {
  const columns: Column<TensorChange>[] = [
    {
      id: 'name',
      label: 'Weight',
      title: prune ? 'The weight and how it was pruned' : 'The weight and how its type changed',
      value: (t) => t.name.toLowerCase(),
      cell: (t) => [
        nameText(t.name),
        h(
          'div',
          { class: 'sub' },
          h('span', { class: 'op-inline' }, `${t.op} · `),
          prune ? pruneForm(t) : `${t.beforeDtype} → ${shortType(t.afterDtype)}`,
          // A narrow side bar hides a prune report's Size column: its figure moves here.
          prune && withSize ? h('span', { class: 'size-inline' }, ` ${formatBytes(t.afterBytes)}`) : null,
          prune ? ` · ${t.dims.join('×')}` : null,
        ),
      ],
      cellTitle: (t) =>
        [
          t.name,
          `${t.op} [${t.dims.join(' × ')}]${t.graph !== 'main' ? ` in ${t.graph}` : ''}`,
          prune ? pruneTitle(t) : `${t.beforeDtype} → ${t.afterDtype}`,
          t.removed === false && !prune ? 'The original is kept: another node still reads it' : '',
        ]
          .filter(Boolean)
          .join('\n'),
    },
    { id: 'op', label: 'Op', title: 'The op that reads the weight', value: (t) => t.op, cell: (t) => t.op },
  ];
  if (withSparsity) {
    columns.push({
      id: 'sparsity',
      label: 'Sparsity',
      title: 'Share of zeros in the weight, after (and before) pruning',
      numeric: true,
      value: (t) => t.sparsityAfter,
      cell: (t) => [
        formatPercent(t.sparsityAfter),
        h('div', { class: 'sub' }, `was ${shortPercent(t.sparsityBefore)}`),
      ],
      cellTitle: (t) =>
        `${formatPercent(t.sparsityBefore, 2) || '?'} → ${formatPercent(t.sparsityAfter, 2)} zeros`,
    });
  }
  if (withSize)
    columns.push({
      id: 'size',
      label: 'Size',
      title: prune
        ? 'Stored bytes after pruning (dense, or as a sparse_initializer where that is smaller)'
        : 'Stored bytes after (and before) the transform',
      numeric: true,
      value: (t) => t.afterBytes,
      cell: (t) => [
        formatBytes(t.afterBytes),
        h(
          'div',
          { class: 'sub' },
          prune && t.afterBytes === t.beforeBytes ? 'same' : `of ${formatBytes(t.beforeBytes)}`,
        ),
      ],
      cellTitle: (t) =>
        prune && t.denseBytes !== undefined && t.sparseBytes !== undefined
          ? `${formatCount(t.afterBytes)} bytes written\ndense ${formatCount(t.denseBytes)} bytes · as sparse tensor ${formatCount(t.sparseBytes)} bytes`
          : `${formatCount(t.beforeBytes)} → ${formatCount(t.afterBytes)} bytes (${formatPercent(
              t.beforeBytes ? t.afterBytes / t.beforeBytes : undefined,
            )})`,
    });
  columns.push({
    id: 'sqnr',
    label: 'SQNR',
    title: 'Weight SQNR in dB: 10·log10(Σw² / Σ(w − ŵ)²); higher is closer to the original',
    numeric: true,
    value: sqnrOf,
    cell: (t) => formatDb(sqnrOf(t)),
  });
  return columns;
}

const nodeColumns: Column<NodeChangeRow>[] = [
  {
    id: 'node',
    label: 'Node',
    value: (n) => n.node.toLowerCase(),
    cell: (n) => [nameText(n.node), n.note ? h('div', { class: 'sub' }, n.note) : null],
    cellTitle: (n) =>
      [n.node, n.graph !== 'main' ? `in ${n.graph}` : '', n.note ?? ''].filter(Boolean).join('\n'),
  },
  {
    id: 'change',
    label: 'Change',
    value: (n) => `${n.from}→${n.to}`,
    cell: (n) => [n.from, h('span', { class: 'arrow' }, ' → '), shortOp(n.to)],
    cellTitle: (n) => `${n.from} → ${n.to}\nweight ${n.weight}`,
  },
];

// ---- views ----

const reveal = (name: string) => {
  if (state.current) post({ type: 'tensor/reveal', file: state.current.file, name });
};

const summary = new SummaryView(
  (what) => {
    if (state.current) post({ type: 'report/open', file: state.current.file, what });
  },
  (kind) => {
    if (state.current) post({ type: 'nextStep/run', file: state.current.file, kind });
  },
);
const tensorTable = new ChangeTable<TensorChange>({
  testId: 'tensor-table',
  label: 'Changed weights',
  columns: tensorColumns(false),
  rowAttrs: (t) => ({
    'data-tensor-name': t.name,
    'data-graph': t.graph,
    'data-op': t.op,
    'data-before-dtype': t.beforeDtype,
    'data-after-dtype': t.afterDtype,
    'data-before-bytes': t.beforeBytes,
    'data-after-bytes': t.afterBytes,
    'data-sqnr': t.weightSqnrDb === undefined ? undefined : String(sqnrOf(t)),
    'data-sparsity-before': t.sparsityBefore,
    'data-sparsity-after': t.sparsityAfter,
    'data-storage': t.storage,
    'data-dense-bytes': t.denseBytes,
    'data-sparse-bytes': t.sparseBytes,
  }),
  activate: (t) => reveal(t.name),
  activateHint: 'Show this weight in the model editor',
  limit: ROW_LIMIT,
  sort: ui.sort.tensors,
  showAll: ui.showAll.tensors,
  changed: (sort, showAll) => {
    ui.sort.tensors = sort;
    ui.showAll.tensors = showAll;
    saveState();
    rendered();
  },
});
const nodeTable = new ChangeTable<NodeChangeRow>({
  testId: 'node-table',
  label: 'Rewritten nodes',
  columns: nodeColumns,
  rowAttrs: (n) => ({ 'data-node': n.node, 'data-from': n.from, 'data-to': n.to, 'data-weight': n.weight }),
  activate: (n) => reveal(n.weight),
  activateHint: 'Show this node’s weight in the model editor',
  limit: ROW_LIMIT,
  sort: ui.sort.nodes,
  showAll: ui.showAll.nodes,
  changed: (sort, showAll) => {
    ui.sort.nodes = sort;
    ui.showAll.nodes = showAll;
    saveState();
    rendered();
  },
});
/** A sortable table whose sort and "show all" are kept in the webview's state under `key`. */
function savedTable<T>(
  key: 'layers' | 'candidates',
  options: Omit<ConstructorParameters<typeof ChangeTable<T>>[0], 'limit' | 'sort' | 'showAll' | 'changed'>,
): ChangeTable<T> {
  return new ChangeTable<T>({
    ...options,
    limit: ROW_LIMIT,
    sort: ui.sort[key],
    showAll: ui.showAll[key] ?? false,
    changed: (sort, showAll) => {
      ui.sort[key] = sort;
      ui.showAll[key] = showAll;
      saveState();
      rendered();
    },
  });
}
const tradeoff = new TradeoffChart(reveal);
const candidateTable = savedTable<ShrinkCandidate>('candidates', {
  testId: 'candidate-table',
  label: 'Candidates tried',
  columns: [],
  rowAttrs: (c) => (state.current?.shrink ? candidateAttrs(state.current.shrink, c) : {}),
  activate: (c) => {
    const layer = (c.raised ?? c.lowered)?.name;
    if (layer) reveal(layer);
  },
  activateHint: 'Show the layer raised or lowered at this step in the model editor',
});
const layerTable = savedTable<ShrinkLayer>('layers', {
  testId: 'layer-table',
  label: 'Layers',
  columns: [],
  rowAttrs: layerAttrs,
  activate: (l) => reveal(l.name),
  activateHint: 'Show this layer’s weight in the model editor',
});
const history = new HistoryView((file) => {
  ui.selected = file;
  saveState();
  post({ type: 'report/select', file });
});

function section(
  id: Section,
  heading: string,
  body: HTMLElement,
): { element: HTMLElement; count: HTMLElement } {
  const count = h('vscode-badge', { variant: 'counter', slot: 'decorations' });
  const element = h(
    'vscode-collapsible',
    { class: 'section', heading, open: ui.open[id], 'data-section': id, 'data-testid': `section-${id}` },
    count,
    body,
  );
  element.addEventListener('vsc-collapsible-toggle', (e) => {
    ui.open[id] = (e as CustomEvent<{ open: boolean }>).detail.open;
    saveState();
  });
  return { element, count };
}

const progress = h('vscode-progress-bar', { class: 'progress', indeterminate: true, hidden: true });
const running = h('div', { class: 'running', role: 'status', 'data-testid': 'running', hidden: true });
const errorBox = h('div', { class: 'error-box', role: 'alert', 'data-testid': 'error', hidden: true });
const empty = h(
  'section',
  { class: 'empty-state', 'data-testid': 'empty', hidden: true },
  h('p', {}, 'No compaction report yet.'),
  h(
    'p',
    { class: 'muted' },
    'Right-click an ONNX model in the Explorer and choose Quantize to 4-bit, Prune… or Shrink to Target…, and Big Shrink writes a smaller model beside it, checks it with ONNX Runtime and shows here what changed.',
  ),
  h(
    'vscode-button',
    { onclick: () => post({ type: 'command/run', command: 'quantize' }) },
    'Quantize a Model…',
  ),
  h(
    'vscode-button',
    { secondary: true, onclick: () => post({ type: 'command/run', command: 'prune' }) },
    'Prune a Model…',
  ),
  h(
    'vscode-button',
    { secondary: true, onclick: () => post({ type: 'command/run', command: 'shrink' }) },
    'Shrink to Target…',
  ),
);
const tradeoffSection = section(
  'tradeoff',
  'Size / fidelity trade-off',
  h('div', { class: 'tradeoff-wrap' }, tradeoff.element, candidateTable.element),
);
const layers = section('layers', 'Layers', layerTable.element);
const tensors = section('tensors', 'Changed weights', tensorTable.element);
const nodes = section('nodes', 'Rewritten nodes', nodeTable.element);
const historySection = section('history', 'History', history.element);
const diff = h(
  'div',
  { class: 'diff', 'data-testid': 'diff' },
  summary.element,
  tradeoffSection.element,
  layers.element,
  tensors.element,
  nodes.element,
);

/** The side bar is narrow: the same panel opens in an editor tab, where its tables have room. */
const openInEditor = h(
  'div',
  { class: 'open-in-editor' },
  h(
    'button',
    {
      type: 'button',
      class: 'link-button',
      'data-testid': 'open-in-editor',
      title: 'Show this panel in an editor tab, with room for its tables and plot',
      onclick: () => post({ type: 'command/run', command: 'openInEditor' }),
    },
    'Open in Editor',
  ),
);

const app = document.getElementById('app')!;
app.append(progress, running, errorBox, empty, openInEditor, diff, historySection.element);

// ---- state ----

function renderCurrent(): void {
  const current = state.current;
  errorBox.hidden = !state.error;
  if (state.error) {
    replace(
      errorBox,
      h('strong', {}, 'This report cannot be shown'),
      h('div', { class: 'mono wrap' }, state.error.file),
      h('div', {}, state.error.reason),
    );
  }
  diff.hidden = !current;
  empty.hidden = !!current || !!state.error || !state.scanned || state.history.length > 0;
  if (current) {
    ui.selected = current.file;
    summary.render(current);
    const prune = current.transform === 'prune';
    const withSparsity = prune || current.tensors.some((t) => t.sparsityAfter !== undefined);
    const withSize = !prune || current.tensors.some((t) => t.afterBytes !== t.beforeBytes);
    tensorTable.setRows(current.tensors, tensorColumns(prune, withSparsity, withSize));
    tensorTable.element.dataset.kind = prune ? 'prune' : current.transform;
    nodeTable.setRows(current.nodes);
    tensors.count.textContent = String(current.tensors.length);
    nodes.count.textContent = String(current.nodes.length);
    nodes.element.hidden = current.nodes.length === 0;
    renderShrink();
  }
  renderHistory();
  saveState();
}

/** The trade-off plot, the candidates and the layers of a shrink report (hidden for other reports). */
function renderShrink(): void {
  const s = state.current?.shrink;
  tradeoffSection.element.hidden = !s;
  layers.element.hidden = !s;
  if (!s) {
    tradeoff.clear();
    return;
  }
  tradeoff.render(s);
  candidateTable.setRows(s.candidates, candidateColumns(s));
  layerTable.setRows(s.layers, layerColumns(s));
  // The table keeps a readable name column however many precisions were measured (see the CSS).
  layerTable.element.style.setProperty('--loss-columns', String(lossPrecisions(s).length));
  tradeoffSection.count.textContent = String(s.candidates.length);
  layers.count.textContent = String(s.layers.length);
}

function renderHistory(): void {
  history.render(state.history, state.current?.file, state.scanned);
  historySection.count.textContent = String(state.history.length);
  // With no report at all, the empty state above says everything.
  historySection.element.hidden = state.scanned && state.history.length === 0;
}

function renderRunning(): void {
  const r = state.running;
  progress.hidden = !r;
  running.hidden = !r;
  if (r)
    replace(running, h('div', { class: 'running-title' }, r.title), h('div', { class: 'muted' }, r.message));
}

/** Tell the host what is on screen (tests read it through a test-only command). */
function rendered(): void {
  post({
    type: 'view/rendered',
    current: state.current?.file,
    tensorRows: state.current ? tensorTable.renderedRows : 0,
    tensorColumns: state.current ? tensorTable.columnIds : [],
    figures: state.current ? summary.figures : [],
    nextSteps: state.current ? summary.nextSteps : [],
    nodeRows: state.current ? nodeTable.renderedRows : 0,
    historyRows: history.renderedRows,
    shrink: state.current?.shrink
      ? {
          layerRows: layerTable.renderedRows,
          candidateRows: candidateTable.renderedRows,
          plotted: tradeoff.plotted,
          comparison: summary.figures,
          layerColumns: layerTable.columnIds,
        }
      : undefined,
  });
}

function handle(message: ToPanel): void {
  switch (message.type) {
    case 'reports/init':
      state = message.state;
      openInEditor.hidden = !!state.inEditor;
      app.classList.toggle('in-editor', !!state.inEditor);
      renderRunning();
      renderCurrent();
      break;
    case 'reports/history':
      state = { ...state, history: message.history, scanned: true };
      renderHistory();
      empty.hidden = !!state.current || !!state.error || state.history.length > 0;
      break;
    case 'reports/current':
      state = { ...state, current: message.current, error: message.error };
      renderCurrent();
      break;
    case 'reports/running':
      state = { ...state, running: message.running };
      renderRunning();
      return;
    default:
      assertNever(message);
  }
  rendered();
}

// Theme switches change the body class; the plot reads its colours from CSS variables.
new MutationObserver(() => tradeoff.themeChanged()).observe(document.body, {
  attributes: true,
  attributeFilter: ['class'],
});

let scrollTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('scroll', () => {
  scrollTimer ??= setTimeout(() => {
    scrollTimer = undefined;
    saveState();
  }, 300);
});

// The answer to `ready` settles the request (it does not reach `handle` by itself).
void messenger.request({ type: 'ready', selected: saved?.selected }, 'reports/init').then((init) => {
  handle(init);
  if (document.scrollingElement) document.scrollingElement.scrollTop = ui.scrollTop;
});
