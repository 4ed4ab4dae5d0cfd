/**
 * The sash between the layers table and the detail pane: dragging it gives one or the other more room.
 * The height is kept by the caller (saved with the UI state when the drag ends).
 */
import { h } from './dom';

/** A horizontal sash reading and setting the detail's height through `height`. */
export function makeSash(height: { get(): number; set(px: number): void; done(): void }): HTMLElement {
  const sash = h('div', {
    class: 'sash',
    role: 'separator',
    'aria-orientation': 'horizontal',
    title: 'Drag to resize',
  });
  sash.addEventListener('pointerdown', (e) => {
    const startY = e.clientY;
    const start = height.get();
    sash.setPointerCapture(e.pointerId);
    const move = (m: PointerEvent) =>
      height.set(Math.max(140, Math.min(window.innerHeight - 200, start - (m.clientY - startY))));
    const up = () => {
      sash.removeEventListener('pointermove', move);
      sash.removeEventListener('pointerup', up);
      height.done();
    };
    sash.addEventListener('pointermove', move);
    sash.addEventListener('pointerup', up);
  });
  return sash;
}
