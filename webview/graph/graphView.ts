/**
 * The model editor's Graph tab: the graph laid out by the host's worker, drawn on a canvas, with an
 * off-screen list of every node (each a focusable option named by op type and node name) for screen
 * readers, keyboard users and tests. Selection follows the layers table both ways; repeated blocks
 * collapse into one box; a search box jumps to a node or tensor; overlays colour nodes by their weights.
 */
import type { GraphModel } from '../../src/core/graph/graphModel';
import type { GraphLayout } from '../../src/core/graph/layoutGraph';
import type { GraphReportLayer, GraphViewMessage } from '../../src/protocol/modelEditor';
import { h, replace } from '../modelEditor/dom';
import { formatCount, formatMs } from '../modelEditor/format';
import type { Row } from '../modelEditor/rows';
import { GraphCanvas, type Hit } from './graphCanvas';
import { GraphMenu } from './graphMenu';
import { legendOf, OVERLAYS, overlayValue, type OverlayId, type OverlaySource } from './graphOverlay';
import { renderNodeInfo } from './nodeInfo';
import { biggestWeight, nodeMenuItems } from './nodeMenuItems';
import { nodeOptions } from './nodeOptions';

/** What the Graph tab keeps across hide/show (part of the editor's UI state). */
export interface GraphUiState {
  graph: string;
  overlay: OverlayId;
  /** Expanded blocks per graph path, once the user changed them. */
  expanded: Record<string, number[]>;
}

export const DEFAULT_GRAPH_STATE: GraphUiState = { graph: 'main', overlay: 'none', expanded: {} };

/** What the Graph tab asks of the editor around it. */
export interface GraphViewHost {
  request(graph: string, expanded: number[] | undefined): Promise<GraphViewMessage>;
  row(name: string): Row | undefined;
  /** Select the weight in the layers table and the detail (without leaving the Graph tab). */
  selectWeight(name: string): void;
  /** Show the weight's detail (the Layers tab, detail focused). */
  openDetail(name: string): void;
  showInTable(name: string): void;
  action(action: 'exclude' | 'quantizeOnly', names: string[]): void;
  rendered(nodes: number): void;
  saveState(): void;
}

export class GraphView {
  readonly element: HTMLElement;
  private readonly canvas: GraphCanvas;
  private readonly list: HTMLUListElement;
  private readonly status: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly info: HTMLElement;
  private readonly menu: GraphMenu;
  private readonly search: HTMLInputElement & { value: string };
  private readonly searchCount: HTMLElement;
  private readonly graphPicker: HTMLSelectElement;
  private readonly overlayPicker: HTMLSelectElement;
  private model: GraphModel | undefined;
  private layout: GraphLayout | undefined;
  private report: Map<string, GraphReportLayer> = new Map();
  private reportLabel = '';
  private options: HTMLLIElement[] = [];
  private selected: Hit | undefined;
  private visible = false;
  private loading: Promise<void> | undefined;
  private stale = true;
  private matches: number[] = [];
  private matchAt = -1;
  /** The nodes Left/Right step through: the consumers (or producers) the last Down (or Up) chose from. */
  private siblings: number[] = [];
  private readonly source: OverlaySource;
  /** The weight the table selected while the tab was hidden. */
  private pendingWeight: string | undefined;

  constructor(
    private readonly state: GraphUiState,
    private readonly host: GraphViewHost,
  ) {
    this.source = { row: (n) => host.row(n), report: (n) => this.report.get(n) };
    this.canvas = new GraphCanvas({
      click: (hit) => this.select(hit, { fromUser: true }),
      dblclick: (hit) => this.activate(hit),
      contextmenu: (hit, x, y) => this.openMenu(hit, x, y),
    });
    this.search = h('input', {
      type: 'search',
      class: 'graph-search',
      placeholder: 'Find node or tensor',
      'aria-label': 'Find a node or tensor in the graph',
      'data-testid': 'graph-search',
    }) as HTMLInputElement;
    this.searchCount = h('span', { class: 'graph-search-count', 'aria-live': 'polite' });
    this.graphPicker = h('select', {
      class: 'graph-picker',
      'aria-label': 'Graph',
      'data-testid': 'graph-picker',
    });
    this.overlayPicker = h(
      'select',
      { class: 'graph-overlay', 'aria-label': 'Overlay', 'data-testid': 'graph-overlay' },
      ...OVERLAYS.map((o) => h('option', { value: o.id }, o.label)),
    );
    this.overlayPicker.value = state.overlay;
    const button = (label: string, title: string, onclick: () => void, testid: string) =>
      h(
        'button',
        { class: 'graph-button', title, 'aria-label': title, 'data-testid': testid, onclick },
        label,
      );
    this.status = h('span', { class: 'graph-status', role: 'status', 'data-testid': 'graph-status' });
    this.legend = h('div', { class: 'graph-legend', 'data-testid': 'graph-legend', 'aria-label': 'Legend' });
    this.info = h('aside', {
      class: 'graph-info',
      'data-testid': 'graph-info',
      'aria-label': 'Selected node',
      hidden: true,
    });
    this.menu = new GraphMenu(() => this.element);
    this.list = h('ul', {
      class: 'graph-a11y',
      role: 'listbox',
      'aria-label': 'Graph nodes',
      'data-testid': 'graph-nodes',
    });
    const toolbar = h(
      'div',
      { class: 'graph-toolbar' },
      this.graphPicker,
      this.search,
      this.searchCount,
      this.overlayPicker,
      button(
        'Collapse blocks',
        'Collapse every repeated block',
        () => this.setAllBlocks(false),
        'graph-collapse',
      ),
      button('Expand blocks', 'Expand every repeated block', () => this.setAllBlocks(true), 'graph-expand'),
      button('Fit', 'Fit the graph in view', () => this.canvas.fit(), 'graph-fit'),
      button('−', 'Zoom out', () => this.canvas.zoomBy(1 / 1.25), 'graph-zoom-out'),
      button('+', 'Zoom in', () => this.canvas.zoomBy(1.25), 'graph-zoom-in'),
      this.status,
    );
    this.element = h(
      'section',
      { class: 'graph-view', 'data-testid': 'graph-view', 'aria-label': 'Graph' },
      toolbar,
      h('div', { class: 'graph-body' }, this.canvas.element, this.legend, this.info, this.list),
      this.menu.element,
    );

    this.search.addEventListener('input', () => this.find(false));
    this.search.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this.find(true, e.shiftKey ? -1 : 1);
      }
    });
    this.overlayPicker.addEventListener('change', () => {
      this.state.overlay = this.overlayPicker.value as OverlayId;
      this.repaint();
      this.host.saveState();
    });
    this.graphPicker.addEventListener('change', () => this.openGraph(this.graphPicker.value));
    this.list.addEventListener('keydown', (e) => this.onKey(e));
    this.list.addEventListener('focusin', (e) => {
      const li = (e.target as HTMLElement).closest('li');
      const index = Number(li?.dataset.index);
      if (li && !(this.selected?.kind === 'node' && this.selected.index === index))
        this.selectNode(index, { fromUser: true, focus: false, center: true });
    });
    this.canvas.element.addEventListener('keydown', (e) => this.onKey(e));
  }

  /** The tab was shown or hidden; the first showing lays the graph out. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.stale) void this.load();
    else if (visible && this.pendingWeight !== undefined) this.selectWeight(this.pendingWeight);
  }

  /** A new model (or a refresh): lay out again when next shown. */
  reset(): void {
    this.stale = true;
    if (this.visible) void this.load();
  }

  /** Statistics, sweeps or the sensitivity changed: the overlay follows. */
  dataChanged(): void {
    if (this.state.overlay !== 'none') this.repaint();
  }

  themeChanged(): void {
    this.canvas.themeChanged();
    this.repaint();
  }

  /** The layers table selected `name`: select the node that reads it (once the tab is shown). */
  selectWeight(name: string | undefined): void {
    if (!this.visible || this.loading) {
      // A hidden tab lays nothing out (a collapsed block would be expanded): catch up when shown.
      this.pendingWeight = name;
      return;
    }
    this.pendingWeight = undefined;
    if (!this.model || name === undefined) return;
    const node = this.model.nodes.find((n) => n.weights.some((w) => w.name === name));
    if (!node) return;
    const current = this.selected?.kind === 'node' ? this.model.nodes[this.selected.index] : undefined;
    if (current?.weights.some((w) => w.name === name)) return;
    this.selectNode(node.index, { fromUser: false, focus: false });
  }

  // ---- loading ----

  private async load(expanded?: number[]): Promise<void> {
    if (this.loading) await this.loading;
    this.stale = false;
    const graph = this.state.graph;
    this.status.textContent = 'Laying out…';
    this.element.setAttribute('aria-busy', 'true');
    const keep = this.selected?.kind === 'node' ? this.model?.nodes[this.selected.index]?.name : undefined;
    const run = (async () => {
      const answer = await this.host.request(graph, expanded ?? this.state.expanded[graph]);
      if (answer.error || !answer.model || !answer.layout) {
        if (graph !== 'main') {
          this.state.graph = 'main';
          this.stale = true;
          return;
        }
        this.status.textContent = `The graph could not be laid out: ${answer.error ?? 'no answer'}`;
        return;
      }
      const first = !this.model || this.model.path !== answer.model.path;
      this.model = answer.model;
      this.layout = answer.layout;
      this.report = new Map((answer.lastReport?.layers ?? []).map((l) => [l.name, l]));
      this.reportLabel = answer.lastReport?.label ?? '';
      this.canvas.setGraph(answer.model, answer.layout);
      this.renderPicker();
      this.renderList();
      this.repaint();
      const layout = answer.layout;
      const hidden = answer.model.nodes.filter(
        (n) => !layout.nodes[n.index] && n.folded === undefined,
      ).length;
      this.status.textContent =
        `${formatCount(answer.model.opCount)} nodes` +
        (hidden > 0 ? ` (${formatCount(hidden)} in collapsed blocks)` : '') +
        ` · laid out in ${formatMs((answer.buildMs ?? 0) + (answer.layoutMs ?? 0))}`;
      if (first) this.canvas.fit();
      const again = keep !== undefined ? this.model.nodes.find((n) => n.name === keep) : undefined;
      const pending = this.pendingWeight;
      const wanted =
        pending !== undefined
          ? this.model.nodes.find((n) => n.weights.some((w) => w.name === pending))
          : again;
      this.pendingWeight = undefined;
      if (wanted && this.layout.nodes[wanted.index])
        this.selectNode(wanted.index, { fromUser: false, focus: false });
      else this.selected = undefined;
      this.host.rendered(this.options.filter((o) => o.dataset.kind === 'op').length);
    })();
    this.loading = run.finally(() => {
      this.loading = undefined;
      this.element.removeAttribute('aria-busy');
    });
    await this.loading;
    if (this.stale && this.visible) await this.load();
  }

  private openGraph(path: string): void {
    this.state.graph = path;
    this.selected = undefined;
    this.host.saveState();
    void this.load();
  }

  private setAllBlocks(expand: boolean): void {
    if (!this.model) return;
    this.state.expanded[this.model.path] = expand ? this.model.blocks.map((b) => b.index) : [];
    this.host.saveState();
    void this.load();
  }

  private setBlock(block: number, expand: boolean): Promise<void> {
    const m = this.model!;
    const now = new Set(this.layout?.expanded ?? []);
    if (expand) now.add(block);
    else now.delete(block);
    this.state.expanded[m.path] = [...now].sort((a, b) => a - b);
    this.host.saveState();
    // Everything moves after a new layout: keep the block that changed in view.
    return this.load().then(() => {
      const box = this.layout?.blocks[block];
      if (box && box.width > 0 && this.selected?.kind !== 'node') this.canvas.reveal(box, false);
    });
  }

  // ---- rendering ----

  private renderPicker(): void {
    const m = this.model!;
    const choices = m.graphs.filter((g) => g.nodes > 0);
    replace(
      this.graphPicker,
      ...choices.map((g) => h('option', { value: g.path }, `${g.label} (${formatCount(g.nodes)})`)),
    );
    this.graphPicker.value = m.path;
    this.graphPicker.hidden = choices.length < 2;
  }

  /** The accessible node list: one option per node, named by op type and name; selection is roving. */
  private renderList(): void {
    this.options = nodeOptions(this.model!, this.layout!);
    replace(this.list, ...this.options);
    const first = this.options[this.selected?.kind === 'node' ? this.selected.index : 0];
    if (first) first.tabIndex = 0;
  }

  private repaint(): void {
    const m = this.model;
    const overlay = this.state.overlay;
    const entries = legendOf(overlay);
    this.canvas.setPaint((i) => {
      if (!m || overlay === 'none') return undefined;
      const v = overlayValue(m.nodes[i], overlay, this.source);
      return v ? { color: entries[v.bucket]?.color ?? entries[0].color, text: v.text } : undefined;
    });
    const note =
      overlay === 'precision' || overlay === 'error'
        ? this.reportLabel
          ? `Last report: ${this.reportLabel}`
          : 'No transform report of this model yet.'
        : overlay === 'sensitivity' && !m?.nodes.some((n) => overlayValue(n, 'sensitivity', this.source))
          ? 'No measured sensitivity yet (Measure Sensitivity).'
          : '';
    replace(
      this.legend,
      ...entries.map((e) =>
        h(
          'span',
          { class: 'graph-legend-entry' },
          h('span', { class: 'graph-swatch', 'data-color': e.color }),
          e.label,
        ),
      ),
      note ? h('span', { class: 'graph-legend-note' }, note) : null,
    );
    // CSP forbids inline style attributes; colours go in through the CSSOM.
    this.legend
      .querySelectorAll<HTMLElement>('.graph-swatch')
      .forEach((s) => (s.style.background = s.dataset.color!));
    this.legend.hidden = entries.length === 0;
    this.renderInfo();
  }

  private renderInfo(): void {
    renderNodeInfo(this.info, this.model, this.selected, this.state.overlay, this.source);
  }

  // ---- selection and navigation ----

  private select(hit: Hit | undefined, how: { fromUser: boolean }): void {
    this.menu.close();
    if (!hit) return;
    if (hit.kind === 'node') this.selectNode(hit.index, { fromUser: how.fromUser, focus: how.fromUser });
    else {
      this.selected = hit;
      this.canvas.setSelected(hit);
      this.renderInfo();
    }
  }

  /** Select node `index` (expanding the block that hides it), tell the table, bring it into view. */
  private selectNode(index: number, how: { fromUser: boolean; focus: boolean; center?: boolean }): void {
    const m = this.model;
    if (!m || !this.layout) return;
    const node = m.nodes[index];
    // A folded Constant is drawn as the weight on its consumer: that node stands for it.
    if (node.folded !== undefined) return this.selectNode(node.folded, how);
    if (!this.layout.nodes[index] && node.block !== undefined) {
      void this.setBlock(node.block, true).then(() => this.selectNode(index, how));
      return;
    }
    const previous = this.selected?.kind === 'node' ? this.options[this.selected.index] : undefined;
    if (previous) {
      previous.setAttribute('aria-selected', 'false');
      previous.tabIndex = -1;
    }
    this.selected = { kind: 'node', index };
    const li = this.options[index];
    if (li) {
      li.setAttribute('aria-selected', 'true');
      li.tabIndex = 0;
      this.list.setAttribute('aria-activedescendant', li.id);
      if (how.focus) li.focus({ preventScroll: true });
    }
    this.canvas.setSelected(this.selected);
    const box = this.layout.nodes[index];
    if (box && (how.center || !how.fromUser)) this.canvas.reveal(box, how.center ?? false);
    this.renderInfo();
    if (how.fromUser && node.weights.length) this.host.selectWeight(biggestWeight(node, this.host).name);
  }

  private activate(hit: Hit | undefined): void {
    const m = this.model;
    if (!m || !hit) return;
    if (hit.kind === 'block') {
      const collapsed = this.layout?.blocks[hit.index].collapsed;
      void this.setBlock(hit.index, collapsed ?? true);
      return;
    }
    const n = m.nodes[hit.index];
    if (n.subgraphs.length) this.openGraph(n.subgraphs[0]);
    else if (n.weights.length) this.host.openDetail(biggestWeight(n, this.host).name);
  }

  private neighbours(index: number, down: boolean): number[] {
    const m = this.model!;
    const list = m.edges
      .filter((e) => (down ? e.from === index : e.to === index))
      .map((e) => (down ? e.to : e.from));
    const layout = this.layout!;
    const x = (i: number) => layout.nodes[i]?.x ?? layout.blocks[m.nodes[i].block ?? 0]?.x ?? 0;
    return [...new Set(list)].filter((i) => m.nodes[i].folded === undefined).sort((a, b) => x(a) - x(b));
  }

  private onKey(e: KeyboardEvent): void {
    const m = this.model;
    if (!m) return;
    const current = this.selected?.kind === 'node' ? this.selected.index : undefined;
    const go = (i: number | undefined) => {
      if (i === undefined) return;
      e.preventDefault();
      this.selectNode(i, { fromUser: true, focus: true, center: true });
    };
    switch (e.key) {
      case 'ArrowDown':
      case 'ArrowUp': {
        if (current === undefined) return go(0);
        const next = this.neighbours(current, e.key === 'ArrowDown');
        if (next.length) this.siblings = next;
        return go(next[0]);
      }
      case 'ArrowLeft':
      case 'ArrowRight': {
        if (current === undefined) return go(0);
        let ring = this.siblings.includes(current) ? this.siblings : [];
        if (ring.length < 2) {
          const parent = this.neighbours(current, false)[0];
          ring = parent !== undefined ? this.neighbours(parent, true) : [];
        }
        if (ring.length < 2) return;
        const at = ring.indexOf(current);
        return go(ring[(at + (e.key === 'ArrowRight' ? 1 : ring.length - 1)) % ring.length]);
      }
      case 'Home':
        return go(0);
      case 'End':
        return go(m.nodes.length - 1);
      case 'Enter':
        e.preventDefault();
        if (current !== undefined) this.activate({ kind: 'node', index: current });
        return;
      case 'ContextMenu':
      case 'F10':
        if (e.key === 'F10' && !e.shiftKey) return;
        if (current === undefined) return;
        e.preventDefault();
        {
          const r = this.canvas.element.getBoundingClientRect();
          this.openMenu({ kind: 'node', index: current }, r.left + r.width / 2, r.top + r.height / 2);
        }
        return;
      case '+':
      case '=':
        this.canvas.zoomBy(1.25);
        return;
      case '-':
        this.canvas.zoomBy(1 / 1.25);
        return;
    }
  }

  // ---- search ----

  private find(jump: boolean, step = 1): void {
    const m = this.model;
    const q = this.search.value.trim().toLowerCase();
    if (!m || !q) {
      this.matches = [];
      this.searchCount.textContent = '';
      return;
    }
    if (!jump || this.matches.length === 0) {
      this.matches = m.nodes
        .filter(
          (n) =>
            n.name.toLowerCase().includes(q) ||
            n.opType.toLowerCase() === q ||
            n.outputs.some((o) => o.toLowerCase().includes(q)) ||
            n.weights.some((w) => w.name.toLowerCase().includes(q)),
        )
        .map((n) => n.index);
      // A node named exactly so comes first.
      this.matches.sort(
        (a, b) =>
          Number(m.nodes[b].name.toLowerCase() === q) - Number(m.nodes[a].name.toLowerCase() === q) || a - b,
      );
      this.matchAt = -1;
    }
    if (this.matches.length === 0) {
      this.searchCount.textContent = 'No match';
      return;
    }
    if (!jump && this.matchAt >= 0) return;
    this.matchAt = (this.matchAt + step + this.matches.length) % this.matches.length;
    this.searchCount.textContent = `${this.matchAt + 1} of ${this.matches.length}`;
    this.selectNode(this.matches[this.matchAt], { fromUser: true, focus: false, center: true });
  }

  // ---- context menu ----

  private openMenu(hit: Hit | undefined, x: number, y: number): void {
    const m = this.model;
    if (!m || !hit) return this.menu.close();
    const items = nodeMenuItems(hit, m, this.layout, {
      setBlock: (block, expand) => void this.setBlock(block, expand),
      openGraph: (path) => this.openGraph(path),
      host: this.host,
    });
    this.menu.open(items, x, y, () => this.options[hit.kind === 'node' ? hit.index : 0]?.focus());
  }
}
