/**
 * The graph's context menu: a small list of buttons at the pointer (or at the focused node, from the
 * keyboard), moved through with the arrow keys and closed by Escape or a click elsewhere.
 */
import { h, replace } from '../modelEditor/dom';

/** One entry: its label, what it runs, and a test id. */
export interface MenuItem {
  label: string;
  run: () => void;
  testid: string;
}

export class GraphMenu {
  readonly element: HTMLElement;

  /** `within`: the element the menu is placed in (its positioned ancestor). */
  constructor(private readonly within: () => HTMLElement) {
    this.element = h('div', { class: 'graph-menu', role: 'menu', hidden: true, 'data-testid': 'graph-menu' });
    document.addEventListener('pointerdown', (e) => {
      if (!this.element.hidden && !this.element.contains(e.target as Node)) this.close();
    });
  }

  /** Show `entries` at client point (x, y); Escape closes it and calls `onEscape` (to give the focus back). */
  open(entries: MenuItem[], x: number, y: number, onEscape: () => void): void {
    if (entries.length === 0) return this.close();
    const items = entries.map((entry) =>
      h(
        'button',
        {
          role: 'menuitem',
          class: 'graph-menu-item',
          'data-testid': entry.testid,
          onclick: () => {
            this.close();
            entry.run();
          },
        },
        entry.label,
      ),
    );
    replace(this.element, ...items);
    this.element.hidden = false;
    const r = this.within().getBoundingClientRect();
    // CSP forbids inline style attributes; the position goes in through the CSSOM.
    this.element.style.left = `${Math.min(x - r.left, r.width - 260)}px`;
    this.element.style.top = `${y - r.top}px`;
    items[0].focus();
    this.element.onkeydown = (e) => {
      const at = items.indexOf(document.activeElement as HTMLButtonElement);
      if (e.key === 'Escape') {
        this.close();
        onEscape();
      } else if (e.key === 'ArrowDown') items[(at + 1) % items.length].focus();
      else if (e.key === 'ArrowUp') items[(at - 1 + items.length) % items.length].focus();
      else return;
      e.preventDefault();
    };
  }

  close(): void {
    this.element.hidden = true;
  }
}
