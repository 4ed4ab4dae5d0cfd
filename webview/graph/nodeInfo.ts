/**
 * The pane beside the graph that tells about the selected node (op type, domain, name, inputs and
 * outputs with their shapes, weights with their shape, type and the current overlay's figure) or block.
 */
import type { GraphModel } from '../../src/core/graph/graphModel';
import { h, replace } from '../modelEditor/dom';
import type { Hit } from './graphCanvas';
import { overlayValue, type OverlayId, type OverlaySource } from './graphOverlay';

/** Fill `el` for the selection (hidden when nothing is selected). */
export function renderNodeInfo(
  el: HTMLElement,
  m: GraphModel | undefined,
  sel: Hit | undefined,
  overlay: OverlayId,
  source: OverlaySource,
): void {
  if (!m || !sel) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  if (sel.kind === 'block') {
    const b = m.blocks[sel.index];
    replace(el, h('h3', {}, `Block ${b.label}`), h('div', {}, `${b.nodes.length} nodes · ${b.key}`));
    return;
  }
  const n = m.nodes[sel.index];
  const shapeOf = (t: string) => m.edges.find((e) => e.tensor === t)?.shape;
  const value = (t: string) => h('li', {}, h('code', {}, t || '(none)'), shapeOf(t) ? ` ${shapeOf(t)}` : '');
  const inputs = n.inputs.filter((i) => !n.weights.some((w) => w.name === i));
  replace(
    el,
    h('h3', {}, n.opType, n.domain ? h('span', { class: 'graph-muted' }, ` ${n.domain}`) : null),
    h('div', { class: 'graph-info-name' }, n.name),
    inputs.length ? h('div', { class: 'graph-muted' }, 'Inputs') : null,
    inputs.length ? h('ul', {}, ...inputs.map(value)) : null,
    n.weights.length ? h('div', { class: 'graph-muted' }, 'Weights') : null,
    n.weights.length
      ? h(
          'ul',
          {},
          ...n.weights.map((w) => {
            const v = overlayValue({ ...n, weights: [w] }, overlay, source);
            return h(
              'li',
              {},
              h('code', {}, w.name),
              ` ${w.dims.join('×') || 'scalar'} ${w.dtype}`,
              v ? ` · ${v.text}` : '',
            );
          }),
        )
      : null,
    n.outputs.length ? h('div', { class: 'graph-muted' }, 'Outputs') : null,
    n.outputs.length ? h('ul', {}, ...n.outputs.map(value)) : null,
    n.subgraphs.length ? h('div', { class: 'graph-muted' }, `Subgraphs: ${n.subgraphs.join(', ')}`) : null,
  );
}
