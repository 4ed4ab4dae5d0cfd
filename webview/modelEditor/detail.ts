/**
 * Detail of the selected tensor: the full histogram (linear or log counts), value statistics, abs
 * percentiles, structure (2:4, all-zero channels) and usage (consumers, sharing, duplicates). For an
 * already-quantized weight the stored codes and the dequantized values are shown side by side.
 */
import '@vscode-elements/elements/dist/vscode-radio-group/index.js';
import '@vscode-elements/elements/dist/vscode-radio/index.js';
import type { TensorStats } from '../../src/core/stats/tensorStats';
import { h, replace, themeColor, type Child } from './dom';
import { formatBytes, formatCount, formatPercent, formatShape, formatStat } from './format';
import { binAt, binRange, drawHistogram, type HistogramColors, type HistogramLayout } from './histogram';
import type { Row } from './rows';
import { SweepView } from './sweepView';

export interface DetailState {
  log: boolean;
  view: 'stored' | 'dequantized';
}

const HISTOGRAM_HEIGHT = 200;

export class DetailView {
  readonly element: HTMLElement;
  private readonly head: HTMLElement;
  private readonly controls: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly info: HTMLElement;
  private readonly facts: HTMLElement;
  private readonly chart: HTMLElement;
  private row: Row | undefined;
  private hiddenByFilter = false;
  private layout: HistogramLayout | undefined;
  private colors: HistogramColors | undefined;
  private hoverBin: number | undefined;
  private readonly sweep = new SweepView();

  constructor(
    readonly state: DetailState,
    private readonly changed: () => void,
  ) {
    this.head = h('div', { class: 'detail-head' });
    this.controls = h('div', { class: 'detail-controls' });
    this.canvas = h('canvas', {
      class: 'detail-histogram',
      'data-testid': 'detail-histogram',
      role: 'img',
      'aria-label': 'Histogram of the selected tensor',
      onmousemove: (e: Event) => this.hover(e as MouseEvent),
      onmouseleave: () => this.hover(undefined),
    });
    this.info = h('div', {
      class: 'histogram-info',
      'data-testid': 'detail-histogram-info',
      'aria-live': 'polite',
    });
    this.chart = h('div', { class: 'detail-chart' }, this.controls, this.canvas, this.info);
    this.facts = h('div', { class: 'detail-facts' });
    this.element = h(
      'section',
      { class: 'detail', 'data-testid': 'detail', tabindex: -1, 'aria-label': 'Tensor details' },
      this.head,
      h('div', { class: 'detail-body' }, this.chart, this.sweep.element, this.facts),
    );
    new ResizeObserver(() => this.draw()).observe(this.chart);
    this.show(undefined);
  }

  /**
   * Whether the filter hides the selected row: the pane then says so instead of showing a tensor the
   * table does not list (the selection is kept, so clearing the filter brings it back).
   */
  setHiddenByFilter(hidden: boolean): void {
    if (hidden === this.hiddenByFilter) return;
    this.hiddenByFilter = hidden;
    this.show(this.row);
  }

  show(row: Row | undefined): void {
    this.row = row;
    const shown = this.hiddenByFilter ? undefined : row;
    this.element.classList.toggle('empty', !shown);
    this.chart.hidden = !shown;
    this.element.dataset.tensorName = shown?.tensor.name ?? '';
    this.sweep.show(shown);
    if (!shown) {
      replace(
        this.head,
        row
          ? h(
              'div',
              { class: 'placeholder', 'data-testid': 'detail-hidden' },
              h('span', { class: 'hidden-name', title: row.tensor.name }, row.tensor.name),
              ' is hidden by the filter: clear the filter to see it again.',
            )
          : h('div', { class: 'placeholder' }, 'Select a tensor to see its distribution.'),
      );
      replace(this.controls);
      replace(this.facts);
      this.info.textContent = '';
      this.draw();
      return;
    }
    row = shown;
    const t = row.tensor;
    replace(
      this.head,
      h('h2', { class: 'detail-name', 'data-testid': 'detail-name', title: t.name }, t.name),
      h(
        'div',
        { class: 'chips' },
        chip(t.dtype),
        chip(formatShape(t.dims)),
        chip(`${formatCount(row.params)} params`),
        chip(formatBytes(t.bytes)),
        chip(t.where.replace('_', ' ')),
        chip(t.storage === 'external' ? 'external data' : t.storage),
        t.graph !== 'main' ? chip(t.graph) : null,
        chip(
          t.learned ? 'learned weight' : t.role === 'shape' ? 'shape table' : 'fixed constant',
          t.learned ? 'accent' : '',
        ),
      ),
    );
    this.renderControls(row);
    this.renderFacts(row);
    this.draw();
  }

  /** Redraw with the current theme's colours. */
  themeChanged(): void {
    this.colors = undefined;
    this.draw();
    this.sweep.themeChanged();
  }

  focus(): void {
    this.element.focus();
  }

  private current(): TensorStats | undefined {
    const row = this.row;
    if (!row) return undefined;
    return this.state.view === 'dequantized' && row.dequantized ? row.dequantized : row.stats;
  }

  private renderControls(row: Row): void {
    const radios = (name: string, options: [string, string][], checked: string, set: (v: string) => void) =>
      h(
        'vscode-radio-group',
        { 'aria-label': name },
        ...options.map(([value, label]) => {
          const radio = h('vscode-radio', { name, value, label, checked: value === checked });
          radio.addEventListener('change', () => {
            if ((radio as HTMLElement & { checked: boolean }).checked) set(value);
          });
          return radio;
        }),
      );
    replace(
      this.controls,
      h('span', { class: 'controls-label' }, 'Counts'),
      radios(
        'scale',
        [
          ['linear', 'Linear'],
          ['log', 'Log'],
        ],
        this.state.log ? 'log' : 'linear',
        (v) => {
          this.state.log = v === 'log';
          this.changed();
          this.draw();
        },
      ),
      row.dequantized ? h('span', { class: 'controls-label' }, 'Values') : null,
      row.dequantized
        ? radios(
            'values',
            [
              ['stored', 'Stored codes'],
              ['dequantized', 'Dequantized'],
            ],
            this.state.view,
            (v) => {
              this.state.view = v === 'dequantized' ? 'dequantized' : 'stored';
              this.changed();
              this.draw();
            },
          )
        : null,
    );
  }

  private renderFacts(row: Row): void {
    const s = row.stats;
    const d = row.dequantized;
    const t = row.tensor;
    const columns = d ? ['Stored codes', 'Dequantized'] : [];
    const both = (f: (x: TensorStats) => Child): Child[] => (d ? [s ? f(s) : '', f(d)] : [s ? f(s) : '']);
    const sections: HTMLElement[] = [];

    if (row.error) sections.push(h('p', { class: 'error-text' }, `Statistics failed: ${row.error}`));
    else if (!s) sections.push(h('p', { class: 'pending' }, 'Statistics are being computed…'));
    if (s) {
      sections.push(
        table('Values', columns, [
          ['count', 'Elements', both((x) => formatCount(x.count))],
          ['min', 'Min', both((x) => num(x.min))],
          ['max', 'Max', both((x) => num(x.max))],
          ['mean', 'Mean', both((x) => num(x.mean))],
          ['std', 'Std', both((x) => num(x.std))],
          ['absMax', '|x| max', both((x) => num(x.absMax))],
          ['zeros', 'Zeros', both((x) => `${formatCount(x.zeros)} (${formatPercent(x.sparsity)})`)],
          [
            'nearZeros',
            'Near zero',
            both((x) =>
              x.nearZeros === undefined
                ? '—'
                : `${formatCount(x.nearZeros)} (${formatPercent(x.nearZeros / Math.max(1, x.count))})`,
            ),
            '|x| ≤ 0.001 · |x| max, zeros included: what a tiny pruning threshold removes',
          ],
          ['nonFinite', 'NaN / Inf', both((x) => `${formatCount(x.nan)} / ${formatCount(x.inf)}`)],
        ]),
      );
      const percentiles = ['50', '90', '99', '99.9'];
      if (s.absPercentiles || d?.absPercentiles) {
        sections.push(
          table(
            '|x| percentiles',
            columns,
            percentiles.map((p) => [
              `p${p}`,
              `p${p}`,
              both((x) => (x.absPercentiles?.[p] === undefined ? '—' : num(x.absPercentiles[p]))),
            ]),
          ),
        );
      }
      const structure: [string, string, Child[], string?][] = [];
      const nm = (d ?? s).nm;
      if (nm) {
        structure.push([
          'nm',
          `${nm.n}:${nm.m} sparsity`,
          [`${formatPercent(nm.ratio)} of ${formatCount(nm.groups)} groups`],
          `Groups of ${nm.m} consecutive weights along the reduction axis with at most ${nm.n} non-zeros`,
        ]);
      }
      const zc = (d ?? s).zeroChannels;
      if (zc) {
        const list = zc.indices.length
          ? ` — ${zc.indices.slice(0, 12).join(', ')}${zc.indices.length > 12 ? ', …' : ''}`
          : '';
        structure.push([
          'zeroChannels',
          'All-zero channels',
          [`${formatCount(zc.zero)} of ${formatCount(zc.total)} (axis ${zc.axis})${list}`],
        ]);
      }
      if (structure.length) sections.push(table('Structure', [], structure));
    }
    const usage: [string, string, Child[], string?][] = [
      [
        'consumers',
        t.consumers.length === 1 ? 'Read by' : `Read by ${t.consumers.length} nodes`,
        [
          t.consumers.length
            ? h(
                'ul',
                { class: 'plain' },
                ...t.consumers.map((c, i) =>
                  h('li', {}, h('span', { class: 'op' }, t.consumerOps[i] ?? ''), ' ', c),
                ),
              )
            : 'no node',
        ],
      ],
    ];
    if (row.duplicates?.length) {
      usage.push([
        'duplicates',
        'Identical to',
        [h('ul', { class: 'plain' }, ...row.duplicates.map((n) => h('li', {}, n)))],
      ]);
    }
    sections.push(table('Usage', [], usage));
    replace(this.facts, ...sections);
  }

  private draw(): void {
    const width = Math.max(160, Math.floor(this.chart.clientWidth));
    if (!this.colors) {
      const family = getComputedStyle(document.body).fontFamily || 'sans-serif';
      this.colors = {
        bar: themeColor('--vscode-charts-blue', '#3794ff'),
        axis: themeColor('--vscode-editorWidget-border', themeColor('--vscode-foreground', '#888')),
        text: themeColor('--vscode-descriptionForeground', '#888'),
        zero: themeColor('--vscode-charts-red', '#f14c4c'),
        font: `11px ${family}`,
      };
    }
    const stats = this.current();
    this.canvas.dataset.drawn = stats ? 'true' : 'false';
    this.layout = drawHistogram(
      this.canvas,
      stats?.histogram,
      width,
      HISTOGRAM_HEIGHT,
      this.state.log,
      this.colors,
      this.hoverBin,
    );
  }

  private hover(e: MouseEvent | undefined): void {
    const histogram = this.current()?.histogram;
    const bin = e && this.layout ? binAt(this.layout, histogram, e.offsetX) : undefined;
    if (bin === this.hoverBin) return;
    this.hoverBin = bin;
    this.draw();
    if (bin === undefined || !histogram) {
      this.info.textContent = '';
      return;
    }
    const [lo, hi] = binRange(histogram, bin);
    this.info.textContent = `[${formatStat(lo)}, ${formatStat(hi)}): ${formatCount(histogram.counts[bin])}`;
  }
}

function chip(text: string, kind = ''): HTMLElement {
  return h('span', { class: `chip${kind ? ` ${kind}` : ''}` }, text);
}

function num(x: number): HTMLElement {
  return h('span', { 'data-value': String(x), title: String(x) }, formatStat(x));
}

function table(caption: string, columns: string[], rows: [string, string, Child[], string?][]): HTMLElement {
  return h(
    'table',
    { class: 'kv' },
    h('caption', {}, caption),
    columns.length
      ? h('thead', {}, h('tr', {}, h('th', {}), ...columns.map((c) => h('th', { scope: 'col' }, c))))
      : null,
    h(
      'tbody',
      {},
      ...rows.map(([key, label, cells, title]) =>
        h(
          'tr',
          { 'data-fact': key },
          h('th', { scope: 'row', title }, label),
          ...cells.map((c) => h('td', {}, c)),
        ),
      ),
    ),
  );
}
