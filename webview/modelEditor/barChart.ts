/**
 * A small Chart.js bar chart in the theme's colours, for the sweep of the selected tensor and the measured
 * sensitivity per layer: one value per bar (null draws no bar), a colour per bar, the exact figure in
 * the tooltip.
 */
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from 'chart.js';
import { themeColor } from './dom';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

export type SmallBarChart = Chart<'bar', (number | null)[], string>;

export interface BarSpec {
  labels: string[];
  values: (number | null)[];
  /** `--vscode-charts-*` colour names, one per bar. */
  colors: ('blue' | 'orange' | 'red' | 'green' | 'purple')[];
  /** Unit after tick values ("dB"). */
  unit: string;
  tooltip(index: number): string;
  onClick?(index: number): void;
  /** Hide the category labels (many bars). */
  hideLabels?: boolean;
}

const FALLBACK = { blue: '#3794ff', orange: '#d18616', red: '#f14c4c', green: '#89d185', purple: '#b180d7' };

/** Draw `spec` on `canvas`, reusing `chart` when given (data and colours replaced, no animation). */
export function drawBars(
  canvas: HTMLCanvasElement,
  chart: SmallBarChart | undefined,
  spec: BarSpec,
): SmallBarChart {
  const colors = spec.colors.map((c) => themeColor(`--vscode-charts-${c}`, FALLBACK[c]));
  if (chart) {
    chart.data.labels = spec.labels;
    chart.data.datasets[0].data = spec.values;
    chart.data.datasets[0].backgroundColor = colors;
    chart.data.datasets[0].hoverBackgroundColor = colors;
    chart.options.plugins!.tooltip!.callbacks!.label = (item) => spec.tooltip(item.dataIndex);
    chart.options.onClick = (_e, elements) => {
      if (elements[0]) spec.onClick?.(elements[0].index);
    };
    chart.update('none');
    return chart;
  }
  const fg = themeColor('--vscode-descriptionForeground', '#888');
  const grid = themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
  const family = getComputedStyle(document.body).fontFamily;
  const font = { family, size: 10 };
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels: spec.labels,
      datasets: [
        { data: spec.values, backgroundColor: colors, hoverBackgroundColor: colors, borderWidth: 0 },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      responsive: true,
      onClick: (_e, elements) => {
        if (elements[0]) spec.onClick?.(elements[0].index);
      },
      scales: {
        x: {
          ticks: { color: fg, font, display: !spec.hideLabels, autoSkip: true, maxRotation: 60 },
          grid: { display: false },
          border: { color: grid },
        },
        y: {
          beginAtZero: true,
          ticks: { color: fg, font, callback: (v) => `${v} ${spec.unit}` },
          grid: { color: grid },
          border: { display: false },
        },
      },
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (item) => spec.tooltip(item.dataIndex) } },
      },
    },
  });
}
