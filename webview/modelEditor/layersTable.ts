/**
 * The layers table: a virtualized grid (only the rows in view exist in the DOM, so 10,000 tensors
 * scroll smoothly), sortable by column, keyboard navigable. Cells carry `data-col` and, for numbers,
 * the exact value in `data-value` (tests read them).
 */
import { h, themeColor } from './dom';
import {
  formatBytes,
  formatCount,
  formatDb,
  formatDims,
  formatPercent,
  formatShape,
  formatStat,
} from './format';
import { drawSparkline } from './histogram';
import type { ColumnId, Item, Row } from './rows';

const ROW_HEIGHT = 22;
/** Columns filled by the statistics (shown as pending until they arrive). */
const STAT_COLUMNS = new Set<string>(['sparsity', 'min', 'max', 'mean', 'std']);
const OVERSCAN = 8;

interface Column {
  id: ColumnId | 'histogram';
  label: string;
  title: string;
  numeric: boolean;
  /** Exact value for `data-value`, and the text shown. */
  cell(row: Row): { value?: string | number; text: string; title?: string };
}

const stat = (key: 'min' | 'max' | 'mean' | 'std') => (row: Row) => {
  const v = row.stats?.[key];
  return {
    value: v,
    text: v === undefined ? '' : formatStat(v),
    title: v === undefined ? undefined : String(v),
  };
};

export const COLUMNS: Column[] = [
  {
    id: 'name',
    label: 'Name',
    title: 'Tensor name (a Constant node’s output for Constant weights)',
    numeric: false,
    cell: (r) => ({ value: r.tensor.name, text: r.tensor.name, title: r.tensor.name }),
  },
  {
    id: 'op',
    label: 'Op',
    title: 'Op type of the node that reads the tensor',
    numeric: false,
    cell: (r) => ({ value: r.op, text: r.op, title: [r.op, ...r.tensor.consumers].join('\n') }),
  },
  {
    id: 'shape',
    label: 'Shape',
    title: 'Dimensions',
    numeric: false,
    cell: (r) => ({
      value: JSON.stringify(r.tensor.dims),
      text: formatDims(r.tensor.dims),
      title: formatShape(r.tensor.dims),
    }),
  },
  {
    id: 'dtype',
    label: 'Type',
    title: 'Element type',
    numeric: false,
    cell: (r) => ({ value: r.tensor.dtype, text: r.tensor.dtype }),
  },
  {
    id: 'params',
    label: 'Params',
    title: 'Elements',
    numeric: true,
    cell: (r) => ({ value: r.params, text: formatCount(r.params) }),
  },
  {
    id: 'bytes',
    label: 'Bytes',
    title: 'Stored bytes (raw, typed or external)',
    numeric: true,
    cell: (r) => ({
      value: r.tensor.bytes,
      text: formatBytes(r.tensor.bytes),
      title: `${formatCount(r.tensor.bytes)} bytes`,
    }),
  },
  {
    id: 'sqnr4',
    label: '4b SQNR',
    title: 'Data-free weight SQNR (dB) after 4-bit blockwise round-to-nearest (higher is safer)',
    numeric: true,
    cell: (r) => ({ value: r.sweep?.bits[4], text: formatDb(r.sweep?.bits[4]) }),
  },
  {
    id: 'sensitivity',
    label: 'Sensitivity',
    title:
      'Measured: the worst model output’s SQNR (dB) with only this weight quantized (lower is more sensitive). Empty until "Measure Sensitivity" ran.',
    numeric: true,
    cell: (r) => {
      const s = r.sensitivity;
      if (!s) return { text: '' };
      if (s.error) return { text: 'error', title: s.error };
      return {
        value: s.outputSqnrDb,
        text: formatDb(s.outputSqnrDb),
        title: `output SQNR ${s.outputSqnrDb} dB, cosine loss ${s.cosineLoss}`,
      };
    },
  },
  {
    id: 'sparsity',
    label: 'Zeros',
    title: 'Sparsity: share of elements equal to zero',
    numeric: true,
    cell: (r) => ({ value: r.stats?.sparsity, text: formatPercent(r.stats?.sparsity) }),
  },
  { id: 'min', label: 'Min', title: 'Smallest finite value', numeric: true, cell: stat('min') },
  { id: 'max', label: 'Max', title: 'Largest finite value', numeric: true, cell: stat('max') },
  { id: 'mean', label: 'Mean', title: 'Mean of the finite values', numeric: true, cell: stat('mean') },
  { id: 'std', label: 'Std', title: 'Population standard deviation', numeric: true, cell: stat('std') },
  {
    id: 'histogram',
    label: 'Histogram',
    title: 'Distribution of values (log counts)',
    numeric: false,
    cell: () => ({ text: '' }),
  },
];

export interface TableCallbacks {
  select(row: Row): void;
  /** Enter or double-click on a row. */
  activate(row: Row): void;
  toggleGroup(key: string): void;
  sort(column: ColumnId): void;
}

export class LayersTable {
  readonly element: HTMLElement;
  private readonly header: HTMLElement;
  private readonly canvas: HTMLElement;
  private readonly empty: HTMLElement;
  private items: Item[] = [];
  private selectedId: number | undefined;
  private frame = 0;
  private rendered = new Map<string, { el: HTMLElement; version: string }>();
  private sparkColor = '';
  private sparkSelectedColor = '';

  constructor(private readonly callbacks: TableCallbacks) {
    this.header = h('div', { class: 'grid-header', role: 'row', 'aria-rowindex': 1 });
    this.canvas = h('div', { class: 'grid-canvas', role: 'rowgroup' });
    this.empty = h('div', { class: 'grid-empty', hidden: true });
    this.element = h(
      'div',
      {
        class: 'grid',
        role: 'grid',
        tabindex: 0,
        'aria-label': 'Tensors',
        'data-testid': 'layers-table',
        onscroll: () => this.schedule(),
        onfocus: () => this.schedule(),
        onblur: () => this.schedule(),
        onkeydown: (e: Event) => this.onKey(e as KeyboardEvent),
      },
      this.header,
      this.canvas,
      this.empty,
    );
    new ResizeObserver(() => this.schedule()).observe(this.element);
    this.renderHeader(undefined);
  }

  /** New list of items (filter, sort or data changed). */
  setItems(items: Item[], sort: { column: ColumnId; descending: boolean }, emptyText: string): void {
    this.items = items;
    this.renderHeader(sort);
    this.canvas.style.height = `${items.length * ROW_HEIGHT}px`;
    this.element.setAttribute('aria-rowcount', String(items.length + 1));
    this.empty.hidden = items.length > 0;
    this.empty.textContent = emptyText;
    this.renderRows();
  }

  /** Statistics arrived for rows already listed: redraw what is in view. */
  refresh(): void {
    this.schedule();
  }

  /** Colours are read from the theme; call again when the theme changes. */
  themeChanged(): void {
    this.sparkColor = '';
    this.schedule();
  }

  get selected(): number | undefined {
    return this.selectedId;
  }

  select(id: number | undefined, reveal = true): void {
    this.selectedId = id;
    const index = this.items.findIndex((it) => it.kind === 'row' && it.row.tensor.id === id);
    if (index >= 0) {
      this.element.setAttribute('aria-activedescendant', `row-${id}`);
      if (reveal) this.reveal(index);
    } else {
      this.element.removeAttribute('aria-activedescendant');
    }
    this.renderRows();
  }

  /** The first tensor row in display order. */
  firstRow(): Row | undefined {
    const item = this.items.find((it) => it.kind === 'row');
    return item?.kind === 'row' ? item.row : undefined;
  }

  /** Position of the row of tensor `id` among the items (-1 when not shown). */
  rowIndexOf(id: number | undefined): number {
    return this.items.findIndex((it) => it.kind === 'row' && it.row.tensor.id === id);
  }

  get scrollTop(): number {
    return this.element.scrollTop;
  }

  set scrollTop(value: number) {
    this.element.scrollTop = value;
    this.renderRows();
  }

  private reveal(index: number): void {
    const top = index * ROW_HEIGHT;
    const view = this.element.clientHeight - this.header.offsetHeight;
    if (top < this.element.scrollTop) this.element.scrollTop = top;
    else if (top + ROW_HEIGHT > this.element.scrollTop + view)
      this.element.scrollTop = top + ROW_HEIGHT - view;
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderRows();
    });
  }

  private renderHeader(sort: { column: ColumnId; descending: boolean } | undefined): void {
    this.header.replaceChildren(
      ...COLUMNS.map((c) => {
        const sorted = sort && sort.column === c.id;
        const sortable = c.id !== 'histogram';
        return h(
          'div',
          {
            class: `cell head${c.numeric ? ' num' : ''}${sorted ? ' sorted' : ''}`,
            role: 'columnheader',
            'data-col': c.id,
            // The full label too: a narrow column may cut it.
            title: `${c.label}: ${c.title}`,
            'aria-sort': sorted
              ? sort.descending
                ? 'descending'
                : 'ascending'
              : sortable
                ? 'none'
                : undefined,
            onclick: sortable ? () => this.callbacks.sort(c.id as ColumnId) : undefined,
          },
          h('span', { class: 'label' }, c.label),
          sorted
            ? h('span', { class: 'sort-indicator', 'aria-hidden': 'true' }, sort.descending ? '▼' : '▲')
            : null,
        );
      }),
    );
  }

  private renderRows(): void {
    if (!this.sparkColor) {
      this.sparkColor = themeColor('--vscode-charts-blue', '#3794ff');
      this.sparkSelectedColor = themeColor('--vscode-list-activeSelectionForeground', '#ffffff');
    }
    const headerHeight = this.header.offsetHeight;
    const scroll = Math.max(0, this.element.scrollTop);
    const view = Math.max(ROW_HEIGHT, this.element.clientHeight - headerHeight);
    const first = Math.max(0, Math.floor(scroll / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.items.length, Math.ceil((scroll + view) / ROW_HEIGHT) + OVERSCAN);
    const focused = this.element.contains(document.activeElement);
    // Reuse the elements of rows that stay in view and did not change; build only the new ones.
    const next = new Map<string, { el: HTMLElement; version: string }>();
    for (let i = first; i < last; i++) {
      const item = this.items[i];
      const key = item.kind === 'row' ? `r${item.row.tensor.id}` : `g${item.key}`;
      const version = this.versionOf(item, focused);
      const old = this.rendered.get(key);
      let el: HTMLElement;
      if (old && old.version === version) {
        el = old.el;
        el.style.top = `${i * ROW_HEIGHT}px`;
        el.setAttribute('aria-rowindex', String(i + 2));
      } else {
        el = this.renderItem(item, i, focused);
        if (old) old.el.replaceWith(el);
        else this.canvas.append(el);
      }
      next.set(key, { el, version });
    }
    for (const [key, old] of this.rendered) if (!next.has(key)) old.el.remove();
    this.rendered = next;
  }

  /** What a rendered item's element depends on, besides its position. */
  private versionOf(item: Item, focused: boolean): string {
    if (item.kind === 'group') return `${item.collapsed}|${item.count}|${item.params}|${item.label}`;
    const r = item.row;
    const selected = r.tensor.id === this.selectedId;
    return `${selected}|${selected && focused}|${r.stats ? 1 : 0}|${r.sweep?.bits[4] ?? ''}|${r.sensitivity?.outputSqnrDb ?? ''}|${r.error ?? ''}|${r.duplicates?.length ?? 0}|${item.group ?? ''}|${this.sparkColor}|${this.sparkSelectedColor}`;
  }

  private renderItem(item: Item, index: number, focused: boolean): HTMLElement {
    const top = `${index * ROW_HEIGHT}px`;
    if (item.kind === 'group') {
      const el = h(
        'div',
        {
          class: `group${item.collapsed ? ' collapsed' : ''}`,
          role: 'row',
          'aria-rowindex': index + 2,
          'aria-expanded': String(!item.collapsed),
          'data-group': item.key,
          onclick: () => this.callbacks.toggleGroup(item.key),
        },
        h('span', { class: 'twistie', 'aria-hidden': 'true' }, item.collapsed ? '▸' : '▾'),
        item.op ? h('span', { class: 'group-op', title: item.op }, item.op) : null,
        h('span', { class: 'group-label', title: item.label }, item.label),
        item.detail ? h('span', { class: 'group-detail' }, item.detail) : null,
        h(
          'span',
          { class: 'group-count' },
          `${item.count} tensor${item.count === 1 ? '' : 's'} · ${formatCount(item.params)} params`,
        ),
      );
      el.style.top = top;
      return el;
    }
    const row = item.row;
    const selected = row.tensor.id === this.selectedId;
    const el = h('div', {
      class: `row${selected ? ' selected' : ''}${item.group ? ' grouped' : ''}${row.tensor.learned ? '' : ' fixed'}`,
      role: 'row',
      id: `row-${row.tensor.id}`,
      'aria-rowindex': index + 2,
      'aria-selected': String(selected),
      'data-tensor-name': row.tensor.name,
      'data-tensor-id': row.tensor.id,
      'data-stats': row.stats ? 'ready' : row.error ? 'error' : 'pending',
      onclick: () => this.callbacks.select(row),
      ondblclick: () => this.callbacks.activate(row),
    });
    // The webview context menu ("Copy Tensor Name") gets the name from here.
    el.dataset.vscodeContext = JSON.stringify({
      webviewSection: 'tensor',
      tensorName: row.tensor.name,
      preventDefaultContextMenuItems: true,
    });
    el.style.top = top;
    for (const column of COLUMNS) {
      const cell = h('div', {
        class: `cell${column.numeric ? ' num' : ''}`,
        role: 'gridcell',
        'data-col': column.id,
      });
      if (column.id === 'histogram') {
        const canvas = h('canvas', { class: 'spark', 'aria-hidden': 'true' });
        drawSparkline(
          canvas,
          row.stats?.histogram,
          selected && focused ? this.sparkSelectedColor : this.sparkColor,
        );
        cell.append(canvas);
      } else {
        const { value, text, title } = column.cell(row);
        if (value !== undefined) cell.dataset.value = String(value);
        if (title) cell.title = title;
        if (column.id === 'name') {
          // Marks keep punctuation in place inside the right-to-left box that ellipsizes the start.
          cell.append(h('span', { class: 'name-text' }, `\u200e${text}\u200e`));
          if (row.tensor.consumers.length > 1) {
            cell.append(
              h(
                'span',
                { class: 'tag', title: `Read by ${row.tensor.consumers.length} nodes` },
                `×${row.tensor.consumers.length}`,
              ),
            );
          }
          if (row.duplicates?.length) {
            cell.append(
              h('span', { class: 'tag', title: `Identical to ${row.duplicates.join(', ')}` }, 'dup'),
            );
          }
        } else if (!text && column.numeric && !row.stats && STAT_COLUMNS.has(column.id)) {
          cell.append(h('span', { class: row.error ? 'error-text' : 'pending' }, row.error ? 'error' : '…'));
          if (row.error) cell.title = row.error;
        } else {
          cell.textContent = text;
        }
      }
      el.append(cell);
    }
    return el;
  }

  private onKey(e: KeyboardEvent): void {
    const rowIndexes = this.items.flatMap((it, i) => (it.kind === 'row' ? [i] : []));
    if (rowIndexes.length === 0) return;
    const current = this.rowIndexOf(this.selectedId);
    const pos = current < 0 ? -1 : rowIndexes.indexOf(current);
    const page = Math.max(
      1,
      Math.floor((this.element.clientHeight - this.header.offsetHeight) / ROW_HEIGHT) - 1,
    );
    let next: number | undefined;
    switch (e.key) {
      case 'ArrowDown':
        next = pos < 0 ? 0 : Math.min(rowIndexes.length - 1, pos + 1);
        break;
      case 'ArrowUp':
        next = pos < 0 ? 0 : Math.max(0, pos - 1);
        break;
      case 'PageDown':
        next = Math.min(rowIndexes.length - 1, Math.max(0, pos) + page);
        break;
      case 'PageUp':
        next = Math.max(0, pos - page);
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = rowIndexes.length - 1;
        break;
      case 'Enter': {
        const item = this.items[current];
        if (item?.kind === 'row') this.callbacks.activate(item.row);
        e.preventDefault();
        return;
      }
      case 'ArrowLeft':
      case 'ArrowRight': {
        const item = this.items[current];
        if (item?.kind === 'row' && item.group) {
          const group = this.items.find((it) => it.kind === 'group' && it.key === item.group);
          if (group?.kind === 'group' && (e.key === 'ArrowLeft') !== group.collapsed)
            this.callbacks.toggleGroup(item.group);
        }
        e.preventDefault();
        return;
      }
      default:
        return;
    }
    e.preventDefault();
    const item = this.items[rowIndexes[next]];
    if (item.kind === 'row') this.callbacks.select(item.row);
  }
}
