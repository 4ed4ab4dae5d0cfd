/**
 * Model charts with Chart.js: parameters by layer and sparsity by layer (learned weights in graph
 * order). Only the Chart.js pieces used here are registered, which keeps the bundle small.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  LinearScale,
  LogarithmicScale,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { h, themeColor } from './dom';
import { formatCount, formatPercent } from './format';
import type { Row } from './rows';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LogarithmicScale, Tooltip);

type BarChart = Chart<'bar', number[], string>;

/** One bar: a layer, or a run of consecutive layers when there are more layers than room for bars. */
interface Bar {
  label: string;
  rows: Row[];
  params: number;
  /** Percent of zeros (undefined until a statistic is in). */
  sparsity: number | undefined;
}

/** Narrowest bar worth drawing, in CSS pixels. */
const MIN_BAR_PX = 4;

function makeBars(rows: Row[], maxBars: number): Bar[] {
  const size = Math.max(1, Math.ceil(rows.length / maxBars));
  const bars: Bar[] = [];
  for (let i = 0; i < rows.length; i += size) {
    const run = rows.slice(i, i + size);
    const counted = run.filter((r) => r.stats);
    const count = counted.reduce((s, r) => s + (r.stats?.count ?? 0), 0);
    const zeros = counted.reduce((s, r) => s + (r.stats?.zeros ?? 0), 0);
    bars.push({
      label:
        run.length === 1
          ? run[0].tensor.name
          : `${run[0].tensor.name} … ${run[run.length - 1].tensor.name} (${run.length} layers)`,
      rows: run,
      params: run.reduce((s, r) => s + r.params, 0),
      sparsity: counted.length ? (count ? (100 * zeros) / count : 0) : undefined,
    });
  }
  return bars;
}

export class ChartsView {
  readonly element: HTMLElement;
  private readonly paramsCanvas: HTMLCanvasElement;
  private readonly sparsityCanvas: HTMLCanvasElement;
  private readonly sparsityNote: HTMLElement;
  private readonly captions: HTMLElement[];
  private params: BarChart | undefined;
  private sparsity: BarChart | undefined;
  private rows: Row[] = [];
  private bars: Bar[] = [];
  private visible = false;
  private dirty = true;

  constructor(private readonly select: (row: Row) => void) {
    this.paramsCanvas = h('canvas', {
      'data-testid': 'chart-params',
      role: 'img',
      'aria-label': 'Parameters by layer',
    });
    this.sparsityCanvas = h('canvas', {
      'data-testid': 'chart-sparsity',
      role: 'img',
      'aria-label': 'Sparsity by layer',
    });
    this.sparsityNote = h('div', { class: 'chart-note', hidden: true });
    this.captions = [h('span', { class: 'chart-caption' }), h('span', { class: 'chart-caption' })];
    this.element = h(
      'section',
      { class: 'charts', 'data-testid': 'charts', 'aria-label': 'Model charts' },
      h(
        'div',
        { class: 'card chart-card' },
        h('h2', {}, 'Parameters by layer', this.captions[0]),
        h('div', { class: 'chart-box' }, this.paramsCanvas),
      ),
      h(
        'div',
        { class: 'card chart-card' },
        h('h2', {}, 'Sparsity by layer', this.captions[1]),
        h('div', { class: 'chart-box' }, this.sparsityCanvas, this.sparsityNote),
      ),
    );
  }

  /** Charts draw only while their tab is shown (Chart.js cannot size a hidden canvas). */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.dirty) this.update(this.rows);
  }

  update(rows: readonly Row[]): void {
    this.rows = rows.filter((r) => r.tensor.learned);
    this.dirty = true;
    if (!this.visible) return;
    this.dirty = false;
    const width = this.paramsCanvas.parentElement?.clientWidth || 800;
    this.bars = makeBars(this.rows, Math.max(20, Math.floor((width - 60) / MIN_BAR_PX)));
    const perBar = this.bars[0]?.rows.length ?? 1;
    for (const c of this.captions)
      c.textContent = perBar > 1 ? ` · ${perBar} consecutive layers per bar` : '';
    const labels = this.bars.map((b) => b.label);
    const params = this.bars.map((b) => b.params);
    const sparsity = this.bars.map((b) => b.sparsity ?? 0);
    const computed = this.rows.filter((r) => r.stats).length;
    this.sparsityNote.hidden = computed === 0 ? this.rows.length === 0 : sparsity.some((v) => v > 0);
    this.sparsityNote.textContent =
      computed === 0
        ? 'Waiting for statistics…'
        : `No zeros in ${computed === this.rows.length ? 'any' : `the ${computed} computed`} learned weight${computed === 1 ? '' : 's'}.`;
    if (!this.params || !this.sparsity) {
      this.params = new Chart(this.paramsCanvas, this.config(labels, params, 'Parameters', 'blue', true));
      this.sparsity = new Chart(
        this.sparsityCanvas,
        this.config(labels, sparsity, 'Zeros (%)', 'orange', false),
      );
      this.element.dataset.ready = 'true';
      return;
    }
    for (const [chart, data] of [
      [this.params, params],
      [this.sparsity, sparsity],
    ] as const) {
      chart.data.labels = labels;
      chart.data.datasets[0].data = data;
      chart.update('none');
    }
  }

  /** Rebuild with the new theme's colours. */
  themeChanged(): void {
    this.params?.destroy();
    this.sparsity?.destroy();
    this.params = this.sparsity = undefined;
    this.dirty = true;
    if (this.visible) this.update(this.rows);
  }

  private config(
    labels: string[],
    data: number[],
    label: string,
    color: 'blue' | 'orange',
    log: boolean,
  ): ChartConfiguration<'bar', number[], string> {
    const fg = themeColor('--vscode-descriptionForeground', '#888');
    const grid = themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
    const bar = themeColor(`--vscode-charts-${color}`, color === 'blue' ? '#3794ff' : '#d18616');
    const family = getComputedStyle(document.body).fontFamily;
    const many = labels.length > 40;
    Chart.defaults.font.family = family;
    Chart.defaults.font.size = 11;
    return {
      type: 'bar',
      data: {
        labels,
        datasets: [
          {
            label,
            data,
            backgroundColor: bar,
            hoverBackgroundColor: bar,
            borderWidth: 0,
            // Dense charts: bars touch, so thin bars stay visible.
            barPercentage: many ? 1 : 0.9,
            categoryPercentage: many ? 1 : 0.8,
          },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        responsive: true,
        onClick: (_e, elements) => {
          const i = elements[0]?.index;
          const bar = i === undefined ? undefined : this.bars[i];
          if (bar) this.select(bar.rows[0]);
        },
        scales: {
          x: {
            ticks: { color: fg, display: !many, autoSkip: true, maxRotation: 60, font: { family, size: 10 } },
            grid: { display: false },
            border: { color: grid },
          },
          y: {
            type: log ? 'logarithmic' : 'linear',
            min: log ? undefined : 0,
            // Sparsity: 0–100 % when something is sparse, a small range (not an empty 100 %) otherwise.
            suggestedMax: log ? undefined : 1,
            max: log ? undefined : Math.max(...data) > 50 ? 100 : undefined,
            ticks: {
              color: fg,
              font: { family, size: 10 },
              autoSkip: true,
              autoSkipPadding: 6,
              // A log axis gets a tick at every 1…9 × 10^k: label only the ones that do not crowd.
              callback: (v) => (log ? logTickLabel(Number(v), data) : `${v}%`),
            },
            grid: { color: grid },
            border: { display: false },
          },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (item) =>
                log
                  ? `${formatCount(Number(item.raw))} parameters`
                  : `${formatPercent(Number(item.raw) / 100, 2)} zeros`,
            },
          },
        },
      },
    } as ChartConfiguration<'bar', number[], string>;
  }
}

/**
 * The label of a log-axis tick: powers of ten, plus 2× and 5× when the data span less than two decades
 * (so a narrow range still has labels); '' for the others (their grid lines stay).
 */
export function logTickLabel(value: number, data: readonly number[]): string {
  if (!(value > 0)) return '';
  const positive = data.filter((d) => d > 0);
  const decades = positive.length ? Math.log10(Math.max(...positive) / Math.min(...positive)) : 0;
  const mantissa = value / 10 ** Math.floor(Math.log10(value) + 1e-9);
  const near = (m: number) => Math.abs(mantissa - m) < 1e-6;
  return near(1) || (decades < 2 && (near(2) || near(5))) ? formatCount(value) : '';
}
