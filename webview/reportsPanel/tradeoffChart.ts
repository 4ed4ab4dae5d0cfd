/**
 * The size / fidelity trade-off of a shrink report (Chart.js): every candidate tried, in order, as bytes
 * against the target's metric (a line through the steps, met and missed points coloured apart), the
 * target as a dashed line, the uniform baselines (8-bit, 4-bit, …) as their own markers and the written
 * candidate highlighted. The canvas carries a text alternative; the candidates table below it holds every
 * figure. Only the Chart.js pieces used here are registered.
 */
import {
  Chart,
  Legend,
  LinearScale,
  LineElement,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartConfiguration,
  type ChartDataset,
  type LegendItem,
  type PointStyle,
} from 'chart.js';
import { parseTarget, targetValue } from '../../src/core/shrink/shrinkTarget';
import { candidateChange, changeText } from './candidateChange';
import { shortBaselineLabel } from './shortLabels';
import type { ShrinkFidelity, ShrinkFigures } from '../../src/protocol/shrinkFigures';
import { h, themeColor } from '../modelEditor/dom';
import { formatBytes, formatPercent } from '../modelEditor/format';

Chart.register(ScatterController, PointElement, LineElement, LinearScale, Tooltip, Legend);

/** One plotted point: where it is and what it stands for (the tooltip's text). */
interface Point {
  x: number;
  y: number;
  text: string;
}

type Scatter = Chart<'scatter', Point[]>;

/** The figure `f` has on the report's target metric (undefined: not measured, or not finite). */
export function metricOf(s: ShrinkFigures, f: ShrinkFidelity | undefined): number | undefined {
  if (!f || !s.metric) return undefined;
  const parsed = parseTarget(s.target);
  const goal = typeof parsed === 'string' ? { metric: s.metric, min: s.min ?? 0, text: s.target } : parsed;
  const v = targetValue(f, goal);
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

/** A value on the target's metric as the panel writes it: 0.999852, 45.3 dB, 99.5%. */
export function formatMetric(metric: ShrinkFigures['metric'], v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '';
  if (metric === 'sqnr') return Number.isFinite(v) ? `${v.toFixed(1)} dB` : '∞ dB';
  if (metric === 'top1') return formatPercent(v);
  if (metric === 'ppl') return `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
  if (metric === 'acc') return `${v >= 0 ? '+' : ''}${v.toFixed(2)} points`;
  if (metric === 'kl') return v.toPrecision(3);
  return v.toFixed(6);
}

/** "cosine", "SQNR", "top-1 agreement". */
export function metricName(metric: ShrinkFigures['metric']): string {
  const names: Record<string, string> = {
    sqnr: 'SQNR',
    top1: 'top-1 agreement',
    ppl: 'perplexity change',
    kl: 'KL divergence',
    acc: 'accuracy change',
  };
  return metric ? (names[metric] ?? metric) : 'fidelity';
}

export class TradeoffChart {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly note: HTMLElement;
  private chart: Scatter | undefined;
  private figures: ShrinkFigures | undefined;
  /** Points plotted (candidates with a figure, plus baselines). */
  plotted = 0;

  constructor(private readonly select: (layer: string) => void) {
    this.canvas = h('canvas', { 'data-testid': 'tradeoff-chart', role: 'img' });
    this.note = h('div', { class: 'chart-note muted', hidden: true });
    this.element = h(
      'div',
      { class: 'tradeoff' },
      h('div', { class: 'tradeoff-box' }, this.canvas),
      this.note,
    );
  }

  render(s: ShrinkFigures): void {
    this.figures = s;
    this.chart?.destroy();
    this.chart = undefined;
    const config = this.config(s);
    // The written candidate's ring and the target line mark points and levels; they are not points of their own.
    this.plotted = config.data.datasets
      .filter((d) => d.label !== 'Target' && d.label !== 'Written')
      .reduce((n, d) => n + d.data.length, 0);
    this.canvas.dataset.points = String(this.plotted);
    this.canvas.dataset.metric = s.metric ?? '';
    this.canvas.setAttribute('aria-label', this.describe(s));
    // Every baseline adds a legend entry below the plot: grow the box so the plot keeps its height.
    const legend = config.data.datasets.length;
    this.canvas.parentElement!.style.height = `${220 + 12 * Math.max(0, legend - 5)}px`;
    this.note.hidden = this.plotted > 0;
    this.canvas.parentElement!.hidden = this.plotted === 0;
    this.note.textContent = s.metric
      ? 'No candidate has a figure to plot.'
      : `The target "${s.target}" is not one the panel can plot.`;
    if (this.plotted > 0) this.chart = new Chart(this.canvas, config);
  }

  /** Another kind of report is shown: drop the chart (theme changes then draw nothing). */
  clear(): void {
    this.chart?.destroy();
    this.chart = undefined;
    this.figures = undefined;
    this.plotted = 0;
  }

  /** Draw again with the new theme's colours. */
  themeChanged(): void {
    if (this.figures) this.render(this.figures);
  }

  /** The text alternative of the plot. */
  private describe(s: ShrinkFigures): string {
    const chosen = s.candidates.find((c) => c.step === s.chosenStep);
    const name = metricName(s.metric);
    return [
      `Size against ${name} of ${s.candidates.length} candidate${s.candidates.length === 1 ? '' : 's'} tried`,
      chosen?.bytes !== undefined
        ? `written: candidate ${chosen.step}, ${formatBytes(chosen.bytes)}, ${name} ${formatMetric(s.metric, metricOf(s, chosen.fidelity))}`
        : 'no candidate met the target',
      s.min !== undefined ? `target ${s.target}` : '',
      ...s.baselines.map(
        (b) =>
          `${b.label} ${formatBytes(b.bytes)}${b.fidelity ? `, ${name} ${formatMetric(s.metric, metricOf(s, b.fidelity))}` : ''}`,
      ),
    ]
      .filter(Boolean)
      .join('; ');
  }

  private config(s: ShrinkFigures): ChartConfiguration<'scatter', Point[]> {
    const fg = themeColor('--vscode-descriptionForeground', '#888');
    const text = themeColor('--vscode-foreground', '#ccc');
    const grid = themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
    const color = (name: string, fallback: string) => themeColor(`--vscode-charts-${name}`, fallback);
    const line = color('blue', '#3794ff');
    const met = color('green', '#89d185');
    const missed = color('red', '#f14c4c');
    const family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.font.family = family;
    Chart.defaults.font.size = 11;
    const name = metricName(s.metric);

    const candidates = s.candidates.flatMap((c) => {
      const y = metricOf(s, c.fidelity);
      if (c.bytes === undefined || y === undefined) return [];
      const change = candidateChange(s, c);
      return [
        {
          point: {
            x: c.bytes,
            y,
            text: `#${c.step} (${changeText(s, c)}): ${formatBytes(c.bytes)}, ${name} ${formatMetric(s.metric, y)}`,
          },
          met: c.met,
          step: c.step,
          layer: change.layer,
          // The fallback and the steps backing off from it are not on the search's path: no line through them.
          search: change.kind === 'start' || change.kind === 'raised',
        },
      ];
    });
    const searched = candidates.filter((c) => c.search);
    const backedOff = candidates.filter((c) => !c.search);
    const pointColors = (cs: typeof candidates) => cs.map((c) => (c.met ? met : missed));
    const chosen = candidates.find((c) => c.step === s.chosenStep);
    const baselineStyles: PointStyle[] = ['triangle', 'rect', 'crossRot', 'star'];
    const baselineColors = [
      color('orange', '#d18616'),
      color('purple', '#b180d7'),
      color('yellow', '#cca700'),
    ];
    const baselines: ChartDataset<'scatter', Point[]>[] = s.baselines.flatMap((b, i) => {
      const y = metricOf(s, b.fidelity);
      if (b.bytes === undefined || y === undefined) return [];
      const c = baselineColors[i % baselineColors.length];
      return [
        {
          label: shortBaselineLabel(b.label),
          data: [
            {
              x: b.bytes,
              y,
              text: `${b.label}: ${formatBytes(b.bytes)}, ${name} ${formatMetric(s.metric, y)}`,
            },
          ],
          pointStyle: baselineStyles[i % baselineStyles.length],
          pointRadius: 6,
          pointHoverRadius: 7,
          backgroundColor: c,
          borderColor: c,
        },
      ];
    });
    const xs = [...candidates.map((c) => c.point.x), ...baselines.flatMap((d) => d.data.map((p) => p.x))];
    const datasets: ChartDataset<'scatter', Point[]>[] = [
      {
        label: 'Candidates',
        data: searched.map((c) => c.point),
        showLine: true,
        borderColor: line,
        borderWidth: 1.5,
        pointRadius: 3.5,
        pointHoverRadius: 5,
        pointBackgroundColor: pointColors(searched),
        pointBorderColor: pointColors(searched),
        backgroundColor: line,
      },
    ];
    if (backedOff.length)
      datasets.push({
        label: s.fallback ? 'Fallback, backing off' : 'Backing off',
        data: backedOff.map((c) => c.point),
        pointStyle: 'rectRot',
        pointRadius: 4.5,
        pointHoverRadius: 6,
        pointBackgroundColor: pointColors(backedOff),
        pointBorderColor: pointColors(backedOff),
        backgroundColor: fg,
        borderColor: fg,
      });
    if (chosen)
      datasets.push({
        label: 'Written',
        data: [{ ...chosen.point, text: `written: ${chosen.point.text}` }],
        pointStyle: 'circle',
        pointRadius: 8,
        pointHoverRadius: 9,
        borderWidth: 2.5,
        borderColor: text,
        backgroundColor: 'transparent',
      });
    datasets.push(...baselines);
    if (s.min !== undefined && xs.length)
      datasets.push({
        label: 'Target',
        data: [
          { x: Math.min(...xs), y: s.min, text: `target ${s.target}` },
          { x: Math.max(...xs), y: s.min, text: `target ${s.target}` },
        ],
        showLine: true,
        borderColor: met,
        borderDash: [5, 4],
        borderWidth: 1.5,
        pointRadius: 0,
        pointHoverRadius: 0,
        backgroundColor: met,
      });

    return {
      type: 'scatter',
      data: { datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        responsive: true,
        onClick: (_e, elements) => {
          const layer = elements
            .map((e) => (e.datasetIndex === 0 ? searched : e.datasetIndex === 1 ? backedOff : [])[e.index])
            .find((c) => c?.layer)?.layer;
          if (layer) this.select(layer);
        },
        scales: {
          x: {
            type: 'linear',
            title: { display: true, text: 'model size', color: fg },
            ticks: { color: fg, maxTicksLimit: 5, callback: (v) => formatBytes(Number(v)) },
            grid: { color: grid },
            border: { color: grid },
          },
          y: {
            type: 'linear',
            title: { display: true, text: name, color: fg },
            ticks: { color: fg, maxTicksLimit: 6 },
            grid: { color: grid },
            border: { color: grid },
          },
        },
        plugins: {
          legend: {
            position: 'bottom',
            labels: {
              color: fg,
              usePointStyle: true,
              boxWidth: 8,
              boxHeight: 8,
              font: { size: 10 },
              // Every entry looks like what it names: the search path is a line, the met / missed colours of
              // the candidates' points get their own entries, the backing-off shape is drawn hollow, the
              // target is a dashed line.
              generateLabels: (chart) => {
                const items = Chart.defaults.plugins.legend.labels.generateLabels(chart);
                const marker = (label: string, c: string): LegendItem => ({
                  text: label,
                  fillStyle: c,
                  strokeStyle: c,
                  fontColor: fg,
                  lineWidth: 1,
                  pointStyle: 'circle',
                  hidden: false,
                });
                const out: LegendItem[] = [];
                for (const item of items) {
                  const label = datasets[item.datasetIndex ?? -1]?.label;
                  if (item.datasetIndex === 0) {
                    out.push({
                      ...item,
                      pointStyle: 'line',
                      fillStyle: line,
                      strokeStyle: line,
                      lineWidth: 2,
                    });
                    if (candidates.some((c) => c.met)) out.push(marker('Met target', met));
                    if (candidates.some((c) => !c.met)) out.push(marker('Missed target', missed));
                  } else if (label === 'Target') {
                    out.push({
                      ...item,
                      pointStyle: 'line',
                      strokeStyle: met,
                      lineWidth: 2,
                      lineDash: [5, 4],
                    });
                  } else if (label === 'Backing off' || label === 'Fallback, backing off') {
                    out.push({ ...item, fillStyle: 'transparent', strokeStyle: fg, lineWidth: 1.5 });
                  } else out.push(item);
                }
                return out;
              },
            },
            // The met / missed entries stand for no dataset of their own: nothing to hide.
            onClick: (e, item, legend) => {
              if (item.datasetIndex === undefined) return;
              Chart.defaults.plugins.legend.onClick.call(legend, e, item, legend);
            },
          },
          tooltip: { callbacks: { label: (item) => (item.raw as Point).text } },
        },
      },
    };
  }
}
