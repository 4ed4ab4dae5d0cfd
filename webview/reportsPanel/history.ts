/**
 * The history: every compaction report of the workspace, newest first. A click shows that report's
 * diff above; the shown one is marked. Arrow keys move between entries.
 */
import type { ReportEntry } from '../../src/protocol/reportsPanel';
import { h, replace } from '../modelEditor/dom';
import { formatBytes } from '../modelEditor/format';
import { formatRatio, formatWhen, statusBadge } from './summary';

export class HistoryView {
  readonly element = h('div', {
    class: 'history',
    role: 'listbox',
    'aria-label': 'Compaction reports',
    'data-testid': 'history',
  });
  private count = 0;

  constructor(private readonly select: (file: string) => void) {}

  get renderedRows(): number {
    return this.count;
  }

  render(entries: ReportEntry[], current: string | undefined, scanned: boolean): void {
    this.count = entries.length;
    if (entries.length === 0) {
      replace(
        this.element,
        h(
          'p',
          { class: 'muted empty' },
          scanned ? 'No reports in this workspace yet.' : 'Searching the workspace…',
        ),
      );
      return;
    }
    const focusable = entries.some((e) => e.file === current) ? current : entries[0].file;
    replace(
      this.element,
      ...entries.map((e) => {
        const selected = e.file === current;
        return h(
          'div',
          {
            class: `entry${selected ? ' selected' : ''}`,
            role: 'option',
            'aria-selected': String(selected),
            tabindex: e.file === focusable ? 0 : -1,
            title: `${e.label}\n${e.transform} · ${e.variant}\n${new Date(e.createdAt).toLocaleString()}`,
            'data-report': e.file,
            'data-status': e.status,
            onclick: () => this.select(e.file),
            onkeydown: (ev: Event) => this.onKey(ev as KeyboardEvent, e.file),
          },
          h(
            'div',
            { class: 'entry-line' },
            h('span', { class: 'entry-name' }, e.output || e.label),
            statusBadge(e.status),
          ),
          h(
            'div',
            { class: 'entry-line muted' },
            h(
              'span',
              { class: 'entry-detail' },
              `${formatBytes(e.bytesAfter)} (${formatRatio(e.ratio)}) · ${e.variant}`,
            ),
            h('span', { class: 'entry-when' }, formatWhen(e.createdAt)),
          ),
        );
      }),
    );
  }

  private onKey(e: KeyboardEvent, file: string): void {
    const el = e.currentTarget as HTMLElement;
    let next: Element | null = null;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.select(file);
      return;
    }
    if (e.key === 'ArrowDown') next = el.nextElementSibling;
    else if (e.key === 'ArrowUp') next = el.previousElementSibling;
    else return;
    e.preventDefault();
    if (next instanceof HTMLElement) {
      el.tabIndex = -1;
      next.tabIndex = 0;
      next.focus();
    }
  }
}
