/**
 * The compare view's webview: two models' overviews side by side, the tensors that differ (worst weight SQNR
 * first, sortable) and, for the selected tensor, both histograms overlaid. It asks the host for the state
 * with `ready`, and for a row's histograms when the row is selected; sort and selection survive hiding
 * (getState/setState).
 */
import { assertNever, Messenger } from '../../src/protocol/messaging';
import type { CompareState, FromCompare, HistogramsMessage, ToCompare } from '../../src/protocol/compareView';
import type { ModelDiff, TensorDiff } from '../../src/core/diff/modelDiff';
import { h, replace } from '../modelEditor/dom';
import { formatBytes, formatPercent } from '../modelEditor/format';
import { ChangeTable, type Column, nameText, type Sort } from '../reportsPanel/changeTable';
import { renderModelChanges, renderOverviews } from './overviews';
import { drawOverlay } from './overlayHistogram';

interface VsCodeApi<S> {
  postMessage(message: unknown): void;
  getState(): S | undefined;
  setState(state: S): void;
}
declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

/** What the view remembers across hide/show. */
interface UiState {
  sort: Sort;
  showAll: boolean;
  selected?: string;
  log: boolean;
}

const ROW_LIMIT = 500;
const vscode = acquireVsCodeApi<UiState>();
const ui: UiState = { sort: undefined, showAll: false, log: true, ...vscode.getState() };
let state: CompareState | undefined;
let histograms: HistogramsMessage | undefined;

const post = (message: FromCompare) => vscode.postMessage(message);
const messenger = new Messenger<FromCompare, ToCompare>(post, handle);
window.addEventListener('message', (e: MessageEvent<ToCompare>) => messenger.receive(e.data));

const fmtDims = (d: number[] | null) => (d ? `[${d.join('×')}]` : '—');
const fmtDb = (x: number | null, t: TensorDiff) =>
  x !== null ? x.toFixed(2) : t.maxAbsError === 0 ? '∞' : '—';
const fmtErr = (x: number | null) => (x === null ? '—' : x === 0 ? '0' : x.toPrecision(3));
const pct = (x: number | null) => (x === null ? '—' : formatPercent(x));
const both = (a: string, b: string) => (a === b ? a : `${a} → ${b}`);

const columns: Column<TensorDiff>[] = [
  {
    id: 'status',
    label: 'Status',
    value: (t) => t.status,
    cell: (t) => h('span', { class: `status status-${t.status}` }, t.status),
  },
  {
    id: 'name',
    label: 'Tensor',
    value: (t) => t.name.toLowerCase(),
    cell: (t) => [
      nameText(t.name),
      h(
        'div',
        { class: 'sub' },
        t.nameB ? `→ ${t.nameB}` : '',
        t.opA && t.opB ? ` ${both(t.opA, t.opB)}` : ` ${t.opA ?? t.opB ?? ''}`,
      ),
    ],
    cellTitle: (t) =>
      [t.name, t.nameB ? `B: ${t.nameB} (matched by ${t.matchedBy})` : '', t.note ?? '']
        .filter(Boolean)
        .join('\n'),
  },
  {
    id: 'dtype',
    label: 'Type',
    value: (t) => `${t.dtypeA}→${t.dtypeB}`,
    cell: (t) => [
      both(t.dtypeA ?? '—', t.dtypeB ?? '—'),
      h('div', { class: 'sub' }, both(fmtDims(t.dimsA), fmtDims(t.dimsB))),
    ],
  },
  {
    id: 'bytes',
    label: 'Bytes',
    numeric: true,
    value: (t) => t.bytesB ?? t.bytesA ?? undefined,
    cell: (t) => [
      t.bytesB === null ? '—' : formatBytes(t.bytesB),
      h('div', { class: 'sub' }, t.bytesA === null ? 'new' : `of ${formatBytes(t.bytesA)}`),
    ],
  },
  {
    id: 'sqnr',
    label: 'SQNR dB',
    title: 'Weight SQNR: 10·log10(Σa² / Σ(a − b)²) of the dequantized values; lower is worse',
    numeric: true,
    value: (t) => t.weightSqnrDb ?? undefined,
    cell: (t) => fmtDb(t.weightSqnrDb, t),
  },
  {
    id: 'error',
    label: 'Max error',
    numeric: true,
    value: (t) => t.maxAbsError ?? undefined,
    cell: (t) => fmtErr(t.maxAbsError),
  },
  {
    id: 'sparsity',
    label: 'Sparsity',
    numeric: true,
    value: (t) => t.sparsityB ?? t.sparsityA ?? undefined,
    cell: (t) => [
      pct(t.sparsityB ?? t.sparsityA),
      h(
        'div',
        { class: 'sub' },
        t.sparsityA !== null && t.sparsityB !== null ? `was ${pct(t.sparsityA)}` : '',
      ),
    ],
  },
];

const table = new ChangeTable<TensorDiff>({
  testId: 'compare-table',
  label: 'Tensors that differ',
  columns,
  rowAttrs: (t) => ({
    'data-tensor-name': t.name,
    'data-name-b': t.nameB,
    'data-status': t.status,
    'data-sqnr': t.weightSqnrDb === null ? 'null' : String(t.weightSqnrDb),
    'data-max-abs-error': t.maxAbsError === null ? 'null' : String(t.maxAbsError),
    'aria-selected': t.name === ui.selected ? 'true' : 'false',
    class: t.name === ui.selected ? 'selected' : '',
  }),
  activate: (t) => select(t.name),
  activateHint: 'Show both histograms',
  limit: ROW_LIMIT,
  sort: ui.sort,
  showAll: ui.showAll,
  changed: (sort, showAll) => {
    ui.sort = sort;
    ui.showAll = showAll;
    vscode.setState(ui);
    reportRendered();
  },
});

const app = document.getElementById('app')!;
const header = h('section', { class: 'overviews', 'data-testid': 'overviews' });
const changes = h('section', { class: 'model-changes', 'data-testid': 'model-changes' });
const status = h('div', { class: 'status-line', 'data-testid': 'compare-status', role: 'status' });
const canvas = h('canvas', { class: 'overlay', role: 'img', 'aria-label': 'No tensor selected' });
const caption = h('div', { class: 'caption', 'data-testid': 'histogram-caption' });
const logToggle = h('input', {
  type: 'checkbox',
  id: 'log-counts',
  onchange: () => {
    ui.log = logToggle.checked;
    vscode.setState(ui);
    drawSelected();
  },
});
logToggle.checked = ui.log;
const detail = h(
  'section',
  { class: 'detail', 'data-testid': 'compare-detail' },
  h(
    'div',
    { class: 'detail-head' },
    h('h3', { class: 'detail-title' }, 'Histograms'),
    h(
      'span',
      { class: 'legend' },
      h('span', { class: 'swatch swatch-a' }),
      'A ',
      h('span', { class: 'swatch swatch-b' }),
      'B ',
      h('label', { for: 'log-counts' }, logToggle, ' log counts'),
    ),
  ),
  canvas,
  caption,
);
replace(app, status, header, changes, h('section', { class: 'tensors' }, table.element), detail);

function rowsOf(diff: ModelDiff): TensorDiff[] {
  return diff.tensors.filter((t) => t.status !== 'same' || t.nameB !== undefined);
}

function render(): void {
  app.setAttribute('aria-busy', String(state?.status === 'running'));
  if (!state) return;
  const { diff } = state;
  const progress = state.progress ? ` ${state.progress.done} of ${state.progress.total} tensors` : '';
  status.dataset.status = state.status;
  replace(
    status,
    state.status === 'running'
      ? `Comparing ${state.labelA} with ${state.labelB}…${progress}`
      : state.status === 'failed'
        ? h('span', { class: 'error' }, `Could not compare: ${state.error ?? 'unknown error'}`)
        : state.status === 'cancelled'
          ? 'Cancelled.'
          : diff?.identical
            ? 'Identical: no tensor, node, opset, IR version or metadata differs.'
            : `${diff?.summary.changed} changed, ${diff?.summary.added} added, ${diff?.summary.removed} removed, ${diff?.summary.same} same tensors`,
  );
  renderOverviews(header, state);
  if (diff) renderModelChanges(changes, diff);
  else replace(changes);
  const rows = diff ? rowsOf(diff) : [];
  table.setRows(rows);
  detail.hidden = rows.length === 0;
  if (rows.length && !rows.some((r) => r.name === ui.selected)) ui.selected = rows[0].name;
  if (ui.selected && diff) select(ui.selected, false);
  reportRendered();
}

function select(name: string, focus = true): void {
  ui.selected = name;
  vscode.setState(ui);
  for (const tr of table.element.querySelectorAll<HTMLElement>('tbody tr')) {
    const on = tr.dataset.tensorName === name;
    tr.classList.toggle('selected', on);
    tr.setAttribute('aria-selected', String(on));
    if (on && focus) tr.focus();
  }
  if (histograms?.name !== name) {
    histograms = undefined;
    drawSelected();
    messenger.post({ type: 'compare/select', name });
  }
}

function drawSelected(): void {
  const row = state?.diff?.tensors.find((t) => t.name === ui.selected);
  const hist = histograms && histograms.name === ui.selected ? histograms : undefined;
  drawOverlay(canvas, hist?.histogramA, hist?.histogramB, { log: ui.log });
  if (!row) {
    canvas.setAttribute('aria-label', 'No tensor selected');
    replace(caption);
    return;
  }
  const label = `${row.name}${row.nameB ? ` → ${row.nameB}` : ''}`;
  const range = hist?.histogramA ?? hist?.histogramB;
  const text = !hist
    ? `${label}: loading histograms…`
    : !range
      ? `${label}: no histogram (values not compared)`
      : `${label}: ${range.counts.length} bins over [${range.min.toPrecision(4)}, ${range.max.toPrecision(4)}]; A filled, B outlined`;
  canvas.setAttribute('aria-label', text);
  replace(caption, text);
}

function reportRendered(): void {
  const names = [...table.element.querySelectorAll<HTMLElement>('tbody tr')].map(
    (tr) => tr.dataset.tensorName ?? '',
  );
  const hist = histograms && histograms.name === ui.selected ? histograms : undefined;
  post({
    type: 'view/rendered',
    rows: names,
    selected: ui.selected,
    histogramA: hist?.histogramA?.counts,
    histogramB: hist?.histogramB?.counts,
  });
}

function handle(message: ToCompare): void {
  switch (message.type) {
    case 'compare/init':
      state = message.state;
      render();
      return;
    case 'compare/progress':
      if (state) state.progress = { done: message.done, total: message.total };
      render();
      return;
    case 'compare/histograms':
      histograms = message;
      drawSelected();
      reportRendered();
      return;
    default:
      return assertNever(message);
  }
}

window.addEventListener('resize', () => drawSelected());
void messenger.request({ type: 'ready' }, 'compare/init').then((m) => handle(m));
