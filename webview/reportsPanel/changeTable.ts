/**
 * A small sortable table of a report's rows (changed tensors, rewritten nodes). Reports hold one row
 * per changed weight, so the table is not virtualized: it draws the first `limit` rows in the chosen
 * order and offers the rest behind "Show all". Rows are keyboard reachable (one tab stop, arrow keys,
 * Enter) and carry their exact values in data-* attributes for tests.
 */
import { h, type Attrs, type Child } from '../modelEditor/dom';

/** A name that ellipsizes at its start, so the distinctive end (…query.weight) stays visible. */
export function nameText(name: string): HTMLElement {
  return h('span', { class: 'name-text' }, `\u200e${name}\u200e`);
}

/** One column: how to draw a cell and what to sort it by. */
export interface Column<T> {
  id: string;
  label: string;
  title?: string;
  numeric?: boolean;
  /** Sort value; rows without one go last whatever the direction. */
  value?(row: T): number | string | undefined;
  cell(row: T): Child | Child[];
  cellTitle?(row: T): string | undefined;
}

/** The column a table is sorted by; `undefined` keeps the report's order. */
export type Sort = { column: string; descending: boolean } | undefined;

export interface TableOptions<T> {
  testId: string;
  label: string;
  columns: Column<T>[];
  /** data-* and aria attributes of a row. */
  rowAttrs(row: T): Attrs;
  /** Click, Enter or Space on a row. */
  activate?(row: T): void;
  /** What an activation does, for the row's tooltip. */
  activateHint?: string;
  limit: number;
  sort: Sort;
  showAll: boolean;
  /** Sort or "show all" changed (to be saved with the webview's state). */
  changed(sort: Sort, showAll: boolean): void;
}

export class ChangeTable<T> {
  readonly element: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly more: HTMLElement;
  private rows: T[] = [];
  private sort: Sort;
  private showAll: boolean;
  private drawn = 0;

  constructor(private readonly options: TableOptions<T>) {
    this.sort = options.sort;
    this.showAll = options.showAll;
    this.table = h('table', { class: 'changes', 'data-testid': options.testId, 'aria-label': options.label });
    this.more = h('button', {
      class: 'link-button more',
      type: 'button',
      hidden: true,
      onclick: () => {
        this.showAll = true;
        this.options.changed(this.sort, this.showAll);
        this.render();
      },
    });
    this.element = h('div', { class: 'table-wrap' }, this.table, this.more);
  }

  /** Rows drawn now (the rest wait behind "Show all"). */
  get renderedRows(): number {
    return this.drawn;
  }

  /** The ids of the columns drawn. */
  get columnIds(): string[] {
    return this.options.columns.map((c) => c.id);
  }

  /** New rows (and, when the report has other fields, other columns). */
  setRows(rows: T[], columns?: Column<T>[]): void {
    this.rows = rows;
    if (columns) this.options.columns = columns;
    this.render();
  }

  private sorted(): T[] {
    const sort = this.sort;
    const column = sort && this.options.columns.find((c) => c.id === sort.column);
    if (!sort || !column?.value) return this.rows;
    const value = column.value;
    const indexed = this.rows.map((row, i) => ({ row, i, v: value(row) }));
    const missing = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isNaN(v));
    indexed.sort((a, b) => {
      if (missing(a.v)) return missing(b.v) ? a.i - b.i : 1;
      if (missing(b.v)) return -1;
      const c = a.v! < b.v! ? -1 : a.v! > b.v! ? 1 : 0;
      return (sort.descending ? -c : c) || a.i - b.i;
    });
    return indexed.map((x) => x.row);
  }

  private clickHeader(column: Column<T>): void {
    const firstDescending = !!column.numeric;
    const s = this.sort;
    if (!s || s.column !== column.id) this.sort = { column: column.id, descending: firstDescending };
    else if (s.descending === firstDescending)
      this.sort = { column: column.id, descending: !firstDescending };
    else this.sort = undefined;
    this.options.changed(this.sort, this.showAll);
    this.render();
  }

  private render(): void {
    const { columns } = this.options;
    const head = h(
      'tr',
      {},
      ...columns.map((c) => {
        const sorted = this.sort?.column === c.id ? this.sort : undefined;
        const sortable = !!c.value;
        return h(
          'th',
          {
            scope: 'col',
            class: `${c.numeric ? 'num' : ''}${sorted ? ' sorted' : ''}`,
            'data-col': c.id,
            title: c.title,
            'aria-sort': sorted
              ? sorted.descending
                ? 'descending'
                : 'ascending'
              : sortable
                ? 'none'
                : undefined,
          },
          sortable
            ? h(
                'button',
                { type: 'button', class: 'sort', onclick: () => this.clickHeader(c) },
                c.label,
                h(
                  'span',
                  { class: 'sort-indicator', 'aria-hidden': 'true' },
                  sorted ? (sorted.descending ? '▼' : '▲') : '',
                ),
              )
            : c.label,
        );
      }),
    );
    const rows = this.sorted();
    const shown = this.showAll ? rows : rows.slice(0, this.options.limit);
    const body = h('tbody', {});
    shown.forEach((row, i) => {
      const tr = h('tr', {
        ...this.options.rowAttrs(row),
        tabindex: i === 0 ? 0 : -1,
        title: this.options.activateHint,
        onclick: () => this.options.activate?.(row),
        onkeydown: (e: Event) => this.onKey(e as KeyboardEvent, row),
      });
      for (const c of columns) {
        const content = c.cell(row);
        tr.append(
          h(
            'td',
            { class: c.numeric ? 'num' : '', 'data-col': c.id, title: c.cellTitle?.(row) },
            ...(Array.isArray(content) ? content : [content]),
          ),
        );
      }
      body.append(tr);
    });
    this.table.replaceChildren(h('thead', {}, head), body);
    this.drawn = shown.length;
    this.more.hidden = shown.length >= rows.length;
    this.more.textContent = `Show all ${rows.length}`;
  }

  private onKey(e: KeyboardEvent, row: T): void {
    const tr = e.currentTarget as HTMLElement;
    let next: Element | null = null;
    switch (e.key) {
      case 'Enter':
      case ' ':
        this.options.activate?.(row);
        break;
      case 'ArrowDown':
        next = tr.nextElementSibling;
        break;
      case 'ArrowUp':
        next = tr.previousElementSibling;
        break;
      case 'Home':
        next = tr.parentElement?.firstElementChild ?? null;
        break;
      case 'End':
        next = tr.parentElement?.lastElementChild ?? null;
        break;
      default:
        return;
    }
    e.preventDefault();
    if (next instanceof HTMLElement) {
      tr.tabIndex = -1;
      next.tabIndex = 0;
      next.focus();
    }
  }
}
