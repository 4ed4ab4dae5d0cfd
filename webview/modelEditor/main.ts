/**
 * The model editor's webview: asks the host for the document's state (`ready` -> `editor/init`),
 * then fills the overview, the layers table, the detail and the charts as summaries and statistics
 * stream in. UI state (tab, filter, sort, selection, scroll) survives hiding through getState/setState.
 */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { InspectReport } from '../../src/core/inspect/inspectReport';
import {
  summarizeSensitivity,
  sweepFromJson,
  type SensitivitySummary,
} from '../../src/core/sensitivity/sensitivitySummary';
import { isSweepable } from '../../src/core/sensitivity/sweepPoints';
import { assertNever, Messenger } from '../../src/protocol/messaging';
import type {
  EditorError,
  EditorSnapshot,
  EditorStatus,
  FromWebview,
  TensorRowStats,
  TensorSweepRow,
  ToWebview,
} from '../../src/protocol/modelEditor';
import { DEFAULT_GRAPH_STATE, GraphView, type GraphUiState } from '../graph/graphView';
import { ChartsView } from './charts';
import { CoreTab } from './coreTab';
import { DetailView, type DetailState } from './detail';
import { renderErrorView } from './errorView';
import { SensitivityView } from './sensitivityView';
import { h } from './dom';
import { formatBytes, formatCompact, formatCount } from './format';
import { LayersTable } from './layersTable';
import { LayersToolbar } from './layersToolbar';
import { DataCardView } from './dataCard';
import { OverviewView } from './overview';
import { makeSash } from './sash';
import { StatusView } from './statusView';
import {
  buildItems,
  groupOf,
  makeRow,
  matches,
  type ColumnId,
  type GroupBy,
  type Row,
  type Show,
} from './rows';

interface VsCodeApi<S> {
  postMessage(message: unknown): void;
  getState(): S | undefined;
  setState(state: S): void;
}
declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

/** What the webview remembers across hide/show (VS Code keeps it with the editor). */
interface UiState {
  tab: number;
  filter: string;
  show: Show;
  groupBy: GroupBy;
  sort: { column: ColumnId; descending: boolean };
  collapsed: string[];
  selected?: string;
  scrollTop: number;
  detailHeight: number;
  detail: DetailState;
  graph: GraphUiState;
}

const TAB_OVERVIEW = 0;
const TAB_LAYERS = 1;
const TAB_CHARTS = 2;
const TAB_GRAPH = 3;
const TAB_CORE = 4;
const TEXT_COLUMNS: ColumnId[] = ['name', 'op', 'dtype', 'shape', 'order'];
const STATS_COLUMNS: ColumnId[] = ['sparsity', 'min', 'max', 'mean', 'std'];
/** SQNR columns sort lowest first on the first click: the riskiest layers on top. */
const LOW_FIRST: ColumnId[] = ['sqnr4', 'sensitivity'];

// Marks for timing the first paint (read by tests with performance.getEntriesByType('mark')).
performance.mark('modelEditor:script');
const vscode = acquireVsCodeApi<UiState>();
const ui: UiState = {
  tab: TAB_OVERVIEW,
  filter: '',
  show: 'learned',
  groupBy: 'node',
  sort: { column: 'order', descending: false },
  collapsed: [],
  scrollTop: 0,
  detailHeight: 300,
  detail: { log: false, view: 'stored' },
  graph: { ...DEFAULT_GRAPH_STATE, expanded: {} },
  ...vscode.getState(),
};

// ---- document state (from the host) ----
let report: InspectReport | undefined;
let rows: Row[] = [];
let status: EditorStatus = 'indexing';
let fileName = '';
let timings: EditorSnapshot['timings'] = {};
let sensitivity: SensitivitySummary | undefined;
/** Sweeps kept by tensor id (they may arrive before the rows exist, in the init snapshot). */
const sweeps = new Map<number, TensorSweepRow>();
/** Tensors whose sweep this webview asked for (the host computes each once). */
const sweepAsked = new Set<number>();

// ---- views ----
const overview = new OverviewView();
const dataCard = new DataCardView((action) => post({ type: 'data/action', ...action }));
const sensitivityView = new SensitivityView(
  () => post({ type: 'command/run', command: 'measureSensitivity' }),
  (name) => reveal(name),
);
const coreTab = new CoreTab({
  measure: () => post({ type: 'core/action', action: 'measure' }),
  cancel: () => post({ type: 'core/action', action: 'cancel' }),
  compact: (units) => post({ type: 'core/action', action: 'compact', units }),
  rendered: (layers) => post({ type: 'view/rendered', view: 'core', rows: layers }),
});
const detail = new DetailView(ui.detail, saveState);
const charts = new ChartsView((row) => {
  ui.filter = matches(row, ui.show, ui.filter) ? ui.filter : '';
  toolbar.sync();
  setTab(TAB_LAYERS);
  select(row, true);
  rebuild();
});
const table = new LayersTable({
  select: (row) => select(row, false),
  activate: (row) => {
    select(row, false);
    detail.focus();
  },
  toggleGroup: (key) => {
    const set = new Set(ui.collapsed);
    if (set.has(key)) set.delete(key);
    else set.add(key);
    ui.collapsed = [...set];
    rebuild();
  },
  sort: (column) => {
    const s = ui.sort;
    const firstDescending = !TEXT_COLUMNS.includes(column) && !LOW_FIRST.includes(column);
    if (s.column !== column) ui.sort = { column, descending: firstDescending };
    else if (s.descending === firstDescending) ui.sort = { column, descending: !firstDescending };
    else ui.sort = { column: 'order', descending: false };
    rebuild();
  },
});

const graphView = new GraphView(ui.graph, {
  request: (graph, expanded) => messenger.request({ type: 'graph/request', graph, expanded }, 'graph/view'),
  row: (name) => rowsByName().get(name),
  selectWeight: (name) => {
    const row = rowsByName().get(name);
    if (row) select(row, true);
  },
  openDetail: (name) => {
    reveal(name);
    detail.focus();
  },
  showInTable: (name) => reveal(name),
  action: (action, names) => post({ type: 'graph/action', action, names }),
  rendered: (nodes) => post({ type: 'view/rendered', view: 'graph', rows: nodes }),
  saveState: () => saveState(),
});
let byName: { rows: Row[]; map: Map<string, Row> } | undefined;
/** Rows by tensor name (main-graph tensors first), rebuilt when the rows change. */
function rowsByName(): Map<string, Row> {
  if (byName?.rows !== rows) {
    const map = new Map<string, Row>();
    for (const r of rows) if (!map.has(r.tensor.name) || r.tensor.graph === 'main') map.set(r.tensor.name, r);
    byName = { rows, map };
  }
  return byName.map;
}

const post = (message: FromWebview) => vscode.postMessage(message);
const messenger = new Messenger<FromWebview, ToWebview>(post, handle);
window.addEventListener('message', (e: MessageEvent<ToWebview>) => messenger.receive(e.data));

// ---- layout ----
const titleEl = h('h1', { class: 'file-name', 'data-testid': 'file-name' });
const subtitleEl = h('div', { class: 'subtitle', 'data-testid': 'subtitle' });
const statusView = new StatusView();
const layersBadge = h('vscode-badge', { variant: 'counter', slot: 'content-after' });

const toolbar = new LayersToolbar(ui, rebuild);
// Drag the sash to give the table or the detail more room.
const sash = makeSash({
  get: () => ui.detailHeight,
  set: (px) => {
    ui.detailHeight = px;
    layout();
  },
  done: () => saveState(),
});
const layersEl = h(
  'section',
  { class: 'layers', 'data-testid': 'layers', 'aria-label': 'Layers' },
  toolbar.element,
  table.element,
  sash,
  detail.element,
);

const tabs = h(
  'vscode-tabs',
  { class: 'tabs', 'data-testid': 'tabs' },
  h('vscode-tab-header', { slot: 'header', 'data-tab': 'overview' }, 'Overview'),
  h('vscode-tab-panel', {}, overview.element, dataCard.element, sensitivityView.element),
  h('vscode-tab-header', { slot: 'header', 'data-tab': 'layers' }, 'Layers', layersBadge),
  h('vscode-tab-panel', {}, layersEl),
  h('vscode-tab-header', { slot: 'header', 'data-tab': 'charts' }, 'Charts'),
  h('vscode-tab-panel', {}, charts.element),
  h('vscode-tab-header', { slot: 'header', 'data-tab': 'graph' }, 'Graph'),
  h('vscode-tab-panel', { class: 'graph-panel' }, graphView.element),
  h('vscode-tab-header', { slot: 'header', 'data-tab': 'core' }, 'Functional core'),
  h('vscode-tab-panel', {}, coreTab.element),
  h('div', { slot: 'addons', class: 'addons' }, statusView.element),
);
tabs.addEventListener('vsc-tabs-select', (e) => {
  ui.tab = (e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex;
  onTabShown();
});

const errorView = h('section', {
  class: 'error-view',
  'data-testid': 'error-view',
  role: 'alert',
  hidden: true,
});
const app = document.getElementById('app')!;
app.append(
  statusView.progressBar,
  h('header', { class: 'topbar' }, h('div', { class: 'title-block' }, titleEl, subtitleEl)),
  tabs,
  errorView,
);

// ---- state changes ----

function saveState(): void {
  ui.scrollTop = table.scrollTop;
  vscode.setState(ui);
}

function setTab(index: number): void {
  ui.tab = index;
  (tabs as HTMLElement & { selectedIndex: number }).selectedIndex = index;
  onTabShown();
}

function onTabShown(): void {
  charts.setVisible(ui.tab === TAB_CHARTS);
  sensitivityView.setVisible(ui.tab === TAB_OVERVIEW);
  graphView.setVisible(ui.tab === TAB_GRAPH);
  coreTab.setVisible(ui.tab === TAB_CORE);
  layout();
  saveState();
}

function select(row: Row | undefined, reveal: boolean): void {
  ui.selected = row?.tensor.name;
  table.select(row?.tensor.id, reveal);
  detail.setHiddenByFilter(row !== undefined && !matches(row, ui.show, ui.filter));
  detail.show(row);
  post({ type: 'tensor/selected', id: row?.tensor.id, name: row?.tensor.name });
  graphView.selectWeight(row?.tensor.name);
  // The selected weight's sweep is computed now (in a worker), ahead of the background ones.
  if (row && isSweepable(row.tensor) && !row.sweep && !row.sweepError && !sweepAsked.has(row.tensor.id)) {
    sweepAsked.add(row.tensor.id);
    post({ type: 'sweep/request', id: row.tensor.id });
  }
  saveState();
}

/** Filter, sort and group again, and redraw the table. */
function rebuild(): void {
  const items = buildItems(rows, { ...ui, collapsed: new Set(ui.collapsed) });
  const shown = items.filter((it) => it.kind === 'row').length;
  const pool = rows.filter((r) => matches(r, ui.show, '')).length;
  const empty = !report
    ? ''
    : pool === 0
      ? ui.show === 'learned'
        ? 'This model has no learned weights.'
        : 'No tensors of this kind.'
      : 'No tensor matches the filter.';
  table.setItems(items, ui.sort, empty);
  toolbar.setCount(report ? `${formatCount(shown)} of ${formatCount(pool)} tensors` : '');
  const learned = rows.filter((r) => r.tensor.learned).length;
  layersBadge.textContent = String(learned);
  const selected = rows.find((r) => r.tensor.name === ui.selected);
  table.select(selected?.tensor.id, false);
  detail.setHiddenByFilter(selected !== undefined && !matches(selected, ui.show, ui.filter));
  saveState();
}

/** A tensor another view asked to show, kept until the model's tensors are known. */
let pendingReveal: { name: string; graph?: string } | undefined;

/**
 * Show tensor `name` in the layers table, selected: whatever hides its row (the filter, the "which
 * tensors" choice, a collapsed group) gives way.
 */
function reveal(name: string, graph?: string): void {
  const row =
    rows.find((r) => r.tensor.name === name && (graph === undefined || r.tensor.graph === graph)) ??
    rows.find((r) => r.tensor.name === name);
  if (!row) {
    pendingReveal = report ? undefined : { name, graph };
    return;
  }
  pendingReveal = undefined;
  if (!matches(row, ui.show, '')) ui.show = 'all';
  if (!matches(row, ui.show, ui.filter)) ui.filter = '';
  toolbar.sync();
  if (ui.groupBy !== 'none') {
    const key = groupOf(row, ui.groupBy).key;
    ui.collapsed = ui.collapsed.filter((k) => k !== key);
  }
  setTab(TAB_LAYERS);
  rebuild();
  select(row, true);
  // The tab may have just been shown: scroll again once it has its height.
  requestAnimationFrame(() => table.select(row.tensor.id, true));
}

function setReport(next: InspectReport | undefined): void {
  report = next;
  rows = next ? next.tensors.map(makeRow) : [];
  applySweeps([...sweeps.values()]);
  applySensitivity(sensitivity);
  errorView.hidden = true;
  tabs.hidden = false;
  const m = next?.model;
  titleEl.textContent = fileName;
  titleEl.title = next?.file.path ?? fileName;
  if (next && m) {
    const external = next.file.externalFiles.reduce((s, e) => s + e.bytes, 0);
    subtitleEl.textContent = [
      [m.producerName, m.producerVersion].filter(Boolean).join(' ') || 'unknown producer',
      `IR ${m.irVersion}`,
      `${formatCount(m.nodeCount)} nodes`,
      `${formatCompact(m.parameters)} parameters`,
      formatBytes(next.file.bytes + external),
    ].join(' · ');
  } else {
    subtitleEl.textContent = '';
  }
  overview.render(next, rows);
  if (next) graphView.reset();
  rebuild();
  // Keep the restored selection; otherwise select the first row so the detail is never empty.
  const selected = rows.find((r) => r.tensor.name === ui.selected) ?? table.firstRow();
  select(selected, false);
  charts.update(rows);
  app.setAttribute('aria-busy', String(status === 'indexing'));
  if (next) {
    performance.mark('modelEditor:overview');
    post({ type: 'view/rendered', view: 'overview', rows: statsCount() });
    if (pendingReveal) reveal(pendingReveal.name, pendingReveal.graph);
  }
}

function addStats(list: TensorRowStats[]): void {
  for (const r of list) {
    const row = rows[r.id];
    if (!row || row.tensor.id !== r.id) continue;
    row.stats = r.stats;
    row.dequantized = r.dequantized;
    row.error = r.error;
  }
  if (STATS_COLUMNS.includes(ui.sort.column)) rebuild();
  else table.refresh();
  const selected = rows.find((r) => r.tensor.name === ui.selected);
  if (selected && list.some((r) => r.id === selected.tensor.id)) detail.show(selected);
  scheduleSummaries();
  graphView.dataChanged();
  post({ type: 'view/rendered', view: 'rows', rows: statsCount() });
}

/** Sweeps in: the 4-bit SQNR column, and the detail when it shows one of them. */
function applySweeps(list: TensorSweepRow[]): void {
  for (const s of list) {
    sweeps.set(s.id, s);
    const row = rows[s.id];
    if (!row || row.tensor.id !== s.id) continue;
    // postMessage is JSON: an exact (infinite) SQNR arrives as null.
    row.sweep = s.sweep && sweepFromJson(s.sweep);
    row.sweepError = s.error;
  }
  if (rows.length === 0 || list.length === 0) return;
  graphView.dataChanged();
  if (ui.sort.column === 'sqnr4') rebuild();
  else table.refresh();
  const selected = rows.find((r) => r.tensor.name === ui.selected);
  if (selected && list.some((s) => s.id === selected.tensor.id)) {
    detail.show(selected);
    post({ type: 'view/rendered', view: 'sweep', rows: rows.filter((r) => r.sweep).length });
  }
}

/** The measured sensitivity: the Sensitivity column (joined by weight name) and the overview's chart. */
function applySensitivity(wire: SensitivitySummary | undefined): void {
  // Read again as the host read the file: postMessage turned Infinity and NaN into null.
  const next = wire && summarizeSensitivity(wire, wire.file);
  sensitivity = next;
  const byName = new Map((next?.layers ?? []).map((l) => [l.name, l]));
  for (const row of rows) row.sensitivity = row.tensor.learned ? byName.get(row.tensor.name) : undefined;
  sensitivityView.update(next);
  if (rows.length === 0) return;
  graphView.dataChanged();
  if (ui.sort.column === 'sensitivity') rebuild();
  else table.refresh();
  post({ type: 'view/rendered', view: 'sensitivity', rows: rows.filter((r) => r.sensitivity).length });
}

function setDuplicates(duplicates: Record<number, string[]>): void {
  for (const row of rows) row.duplicates = duplicates[row.tensor.id];
  table.refresh();
  const selected = rows.find((r) => r.tensor.name === ui.selected);
  if (selected) detail.show(selected);
}

let summaryTimer: ReturnType<typeof setTimeout> | undefined;
/** Overview zeros and charts follow the statistics about once a second while they stream. */
function scheduleSummaries(now = false): void {
  if (summaryTimer && !now) return;
  if (summaryTimer) clearTimeout(summaryTimer);
  summaryTimer = setTimeout(
    () => {
      summaryTimer = undefined;
      overview.render(report, rows);
      charts.update(rows);
    },
    now ? 0 : 1000,
  );
}

function statsCount(): number {
  return rows.reduce((n, r) => n + (r.stats ? 1 : 0), 0);
}

function setStatus(next: EditorStatus, p?: EditorSnapshot['progress']): void {
  status = next;
  statusView.set(next, timings, p);
}

function showError(e: EditorError): void {
  report = undefined;
  rows = [];
  tabs.hidden = true;
  errorView.hidden = false;
  titleEl.textContent = fileName;
  subtitleEl.textContent = '';
  renderErrorView(errorView, e, (command) => post({ type: 'command/run', command }));
  setStatus('error');
  post({ type: 'view/rendered', view: 'error', rows: 0 });
}

function applySnapshot(s: EditorSnapshot): void {
  fileName = s.fileName;
  // A new analysis (refresh) starts without sweeps; the snapshot holds the ones computed since.
  sweeps.clear();
  sweepAsked.clear();
  for (const r of s.sweeps) sweeps.set(r.id, r);
  sensitivity = s.sensitivity;
  document.title = s.fileName;
  timings = s.timings;
  status = s.status;
  if (s.error) {
    showError(s.error);
    return;
  }
  setStatus(s.status, s.progress);
  setReport(s.report);
  if (s.rows.length) addStats(s.rows);
  setDuplicates(s.duplicates);
  if (s.status === 'done' || s.status === 'cancelled') scheduleSummaries(true);
}

function handle(message: ToWebview): void {
  switch (message.type) {
    case 'editor/init':
      applySnapshot(message.snapshot);
      return;
    case 'model/overview':
      timings = { indexMs: message.indexMs };
      setStatus('computing', {
        done: 0,
        total: message.report.tensors.length,
        bytesDone: 0,
        bytesTotal: 0,
        elapsedMs: 0,
      });
      setReport(message.report);
      return;
    case 'stats/rows':
      setStatus('computing', message.progress);
      addStats(message.rows);
      return;
    case 'stats/done':
      timings = { ...timings, statsMs: message.progress.elapsedMs };
      setStatus(message.status, message.progress);
      setDuplicates(message.duplicates);
      scheduleSummaries(true);
      post({ type: 'view/rendered', view: 'rows', rows: statsCount() });
      return;
    case 'model/error':
      showError(message.error);
      return;
    case 'editor/reveal':
      reveal(message.name, message.graph);
      return;
    case 'sweep/rows':
      applySweeps(message.rows);
      return;
    case 'sensitivity/report':
      applySensitivity(message.sensitivity);
      return;
    case 'data/state':
      dataCard.set(message.state);
      return;
    case 'core/state':
      coreTab.set(message.state);
      return;
    case 'graph/view':
      return; // answers to graph/request (see GraphView)
    default:
      assertNever(message);
  }
}

/** The detail pane keeps the height the user dragged it to, but leaves the table some room. */
function layout(): void {
  const available = layersEl.clientHeight || window.innerHeight;
  detail.element.style.height = `${Math.max(140, Math.min(ui.detailHeight, available - 160))}px`;
}

window.addEventListener('resize', layout);
new ResizeObserver(layout).observe(layersEl);
table.element.addEventListener('scroll', () => {
  ui.scrollTop = table.scrollTop;
  scheduleSave();
});
let saveTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleSave(): void {
  if (saveTimer) return;
  saveTimer = setTimeout(() => {
    saveTimer = undefined;
    saveState();
  }, 300);
}

// Theme switches change the body class; canvases and charts read colours from CSS variables.
new MutationObserver(() => {
  table.themeChanged();
  detail.themeChanged();
  charts.themeChanged();
  sensitivityView.themeChanged();
  graphView.themeChanged();
  coreTab.themeChanged();
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

// ---- start ----
setStatus('indexing');
overview.render(undefined, []);
setTab(ui.tab);
void messenger.request({ type: 'ready' }, 'editor/init').then((init) => {
  performance.mark('modelEditor:init');
  applySnapshot(init.snapshot);
  setTab(ui.tab);
  table.scrollTop = ui.scrollTop;
  const selected = rows.find((r) => r.tensor.name === ui.selected);
  if (selected) table.select(selected.tensor.id, false);
});
