/**
 * What the graph's context menu offers for a node (exclude its weights from quantization, quantize only
 * them, show them in the table, open its subgraphs, collapse its block) or a block (expand or collapse).
 */
import type { GraphModel, GraphNode } from '../../src/core/graph/graphModel';
import type { GraphLayout } from '../../src/core/graph/layoutGraph';
import type { Hit } from './graphCanvas';
import type { MenuItem } from './graphMenu';
import type { GraphViewHost } from './graphView';

/** What the menu's entries do: change a block, open a graph, or ask the editor around the view. */
export interface NodeMenuActions {
  setBlock(block: number, expand: boolean): void;
  openGraph(path: string): void;
  host: Pick<GraphViewHost, 'action' | 'showInTable' | 'row'>;
}

/** The entries for `hit` (a node or a block of `m`, drawn as `layout` says). */
export function nodeMenuItems(
  hit: Hit,
  m: GraphModel,
  layout: GraphLayout | undefined,
  does: NodeMenuActions,
): MenuItem[] {
  const items: MenuItem[] = [];
  if (hit.kind === 'block') {
    const collapsed = layout?.blocks[hit.index].collapsed;
    items.push({
      label: collapsed ? 'Expand block' : 'Collapse block',
      run: () => does.setBlock(hit.index, !!collapsed),
      testid: 'graph-menu-block',
    });
  } else {
    const n = m.nodes[hit.index];
    const names = n.weights.map((w) => w.name);
    if (names.length)
      items.push(
        {
          label: 'Exclude from quantization (keep in float)',
          run: () => does.host.action('exclude', names),
          testid: 'graph-menu-exclude',
        },
        {
          label: 'Quantize only this layer…',
          run: () => does.host.action('quantizeOnly', names),
          testid: 'graph-menu-only',
        },
        {
          label: 'Show in table',
          run: () => does.host.showInTable(biggestWeight(n, does.host).name),
          testid: 'graph-menu-table',
        },
      );
    for (const g of n.subgraphs)
      items.push({
        label: `Open subgraph ${g}`,
        run: () => does.openGraph(g),
        testid: 'graph-menu-subgraph',
      });
    if (n.block !== undefined)
      items.push({
        label: `Collapse block ${m.blocks[n.block].label}`,
        run: () => does.setBlock(n.block!, false),
        testid: 'graph-menu-block',
      });
  }
  return items;
}

/** A node's largest weight (the one its row in the table stands for). */
export function biggestWeight(node: GraphNode, host: Pick<GraphViewHost, 'row'>): { name: string } {
  let best = node.weights[0];
  for (const w of node.weights)
    if ((host.row(w.name)?.tensor.bytes ?? 0) > (host.row(best.name)?.tensor.bytes ?? 0)) best = w;
  return best;
}
