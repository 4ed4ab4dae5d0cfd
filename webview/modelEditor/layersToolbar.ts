import { h } from './dom';
import type { GroupBy, Show } from './rows';

/** The choices the toolbar edits (kept in the webview's saved state). */
export interface ToolbarChoices {
  filter: string;
  show: Show;
  groupBy: GroupBy;
}

/**
 * The layers tab's toolbar: the name filter, which tensors, the grouping and the row count. It edits
 * `choices` in place and calls `changed`; `sync` shows choices another view changed (a reveal, a chart click).
 */
export class LayersToolbar {
  readonly element: HTMLElement;
  private readonly filterField: HTMLElement & { value: string };
  private readonly showSelect: HTMLElement & { value: string };
  private readonly groupSelect: HTMLElement & { value: string };
  private readonly rowCount = h('span', { class: 'row-count', 'data-testid': 'row-count' });

  constructor(
    private readonly choices: ToolbarChoices,
    changed: () => void,
  ) {
    this.filterField = h('vscode-textfield', {
      class: 'filter',
      type: 'search',
      placeholder: 'Filter by name, op or type',
      'aria-label': 'Filter tensors by name, op or type',
      'data-testid': 'filter',
    }) as HTMLElement & { value: string };
    this.filterField.addEventListener('input', () => {
      choices.filter = this.filterField.value;
      changed();
    });
    this.showSelect = select<Show>(
      'show',
      'Which tensors',
      choices.show,
      [
        ['learned', 'Learned weights'],
        ['other', 'Shape tables and constants'],
        ['all', 'All tensors'],
      ],
      (v) => {
        choices.show = v;
        changed();
      },
    );
    this.groupSelect = select<GroupBy>(
      'group-by',
      'Grouping',
      choices.groupBy,
      [
        ['node', 'Group by node'],
        ['graph', 'Group by graph'],
        ['none', 'No grouping'],
      ],
      (v) => {
        choices.groupBy = v;
        changed();
      },
    );
    this.filterField.value = choices.filter;
    this.element = h(
      'div',
      { class: 'toolbar' },
      this.filterField,
      this.showSelect,
      this.groupSelect,
      this.rowCount,
    );
  }

  /** Show the current choices in the controls. */
  sync(): void {
    this.filterField.value = this.choices.filter;
    this.showSelect.value = this.choices.show;
    this.groupSelect.value = this.choices.groupBy;
  }

  setCount(text: string): void {
    this.rowCount.textContent = text;
  }
}

function select<T extends string>(
  testid: string,
  label: string,
  value: T,
  options: [T, string][],
  onChange: (v: T) => void,
): HTMLElement & { value: string } {
  const el = h(
    'vscode-single-select',
    { 'data-testid': testid, 'aria-label': label },
    ...options.map(([v, text]) => h('vscode-option', { value: v, selected: v === value }, text)),
  ) as HTMLElement & { value: string };
  el.addEventListener('change', () => onChange(el.value as T));
  return el;
}
