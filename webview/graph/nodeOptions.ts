/**
 * The Graph tab's off-screen node list: one focusable option per node, named by op type and node name
 * (with its weights, or the collapsed block that hides it), for screen readers, keyboard users and tests.
 */
import type { GraphModel } from '../../src/core/graph/graphModel';
import type { GraphLayout } from '../../src/core/graph/layoutGraph';
import { h } from '../modelEditor/dom';

/** The options of the node list, one per node of `m` in order (`data-box`: where `layout` drew it). */
export function nodeOptions(m: GraphModel, layout: GraphLayout): HTMLLIElement[] {
  return m.nodes.map((n) => {
    const box = layout.nodes[n.index];
    const block = n.block !== undefined ? m.blocks[n.block] : undefined;
    const hidden = !box && block ? `, in collapsed block ${block.label}` : '';
    const weights = n.weights.length
      ? `, weights ${n.weights.map((w) => w.name).join(', ')}`
      : n.folded !== undefined
        ? `, weight ${n.outputs[0]} shown on ${m.nodes[n.folded].name}`
        : '';
    const label =
      n.kind === 'op'
        ? `${n.opType} ${n.name}${weights}${hidden}`
        : `${n.kind === 'input' ? 'Input' : 'Output'} ${n.name}`;
    const li = h('li', {
      role: 'option',
      id: `graph-node-${n.index}`,
      tabindex: -1,
      'aria-label': label,
      'aria-selected': 'false',
      'data-index': n.index,
      'data-kind': n.kind,
      'data-op': n.opType,
      'data-name': n.name,
      'data-weights': n.weights.map((w) => w.name).join('\n'),
      'data-box': box ? `${box.x},${box.y},${box.width},${box.height}` : undefined,
    });
    li.textContent = label;
    return li;
  });
}
