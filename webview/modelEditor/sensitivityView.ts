/**
 * The measured sensitivity in the overview: one bar per measured layer, the worst model output's SQNR
 * with only that weight quantized (most sensitive first, as `big-shrink sensitivity` ranks them), and a
 * button that runs "Measure Sensitivity". Clicking a bar selects the weight in the layers table.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { SensitivitySummary } from '../../src/core/sensitivity/sensitivitySummary';
import { drawBars, type SmallBarChart } from './barChart';
import { h } from './dom';
import { formatDb } from './format';

export class SensitivityView {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly box: HTMLElement;
  private readonly caption: HTMLElement;
  private readonly note: HTMLElement;
  private chart: SmallBarChart | undefined;
  private summary: SensitivitySummary | undefined;
  private visible = false;
  private dirty = false;

  constructor(
    measure: () => void,
    private readonly select: (name: string) => void,
  ) {
    this.canvas = h('canvas', {
      'data-testid': 'sensitivity-chart',
      role: 'img',
      'aria-label': 'Measured output SQNR by layer',
    });
    this.box = h('div', { class: 'sensitivity-box', hidden: true }, this.canvas);
    this.caption = h('span', { class: 'chart-caption' });
    this.note = h(
      'p',
      { class: 'pending' },
      'Not measured yet. Measuring runs the model in ONNX Runtime once per MatMul/Gemm weight, each alone quantized, and saves <model>.sensitivity.json beside it.',
    );
    const button = h(
      'vscode-button',
      { 'data-testid': 'measure-sensitivity', secondary: true },
      'Measure Sensitivity',
    );
    button.addEventListener('click', measure);
    this.element = h(
      'section',
      { class: 'card sensitivity', 'data-testid': 'sensitivity', 'aria-label': 'Measured sensitivity' },
      h('h2', {}, 'Measured sensitivity', this.caption),
      this.note,
      this.box,
      h('div', { class: 'actions' }, button),
    );
    this.element.dataset.rows = '0';
  }

  /** Chart.js cannot size a hidden canvas: draw when the overview is shown. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.dirty) this.render();
  }

  update(summary: SensitivitySummary | undefined): void {
    this.summary = summary;
    // Known at once (tests and the tab read it); the chart waits until the overview is shown.
    this.element.dataset.rows = String(summary?.layers.length ?? 0);
    this.dirty = true;
    if (this.visible) this.render();
  }

  themeChanged(): void {
    this.chart?.destroy();
    this.chart = undefined;
    this.update(this.summary);
  }

  private render(): void {
    this.dirty = false;
    const s = this.summary;
    const layers = s?.layers ?? [];
    this.box.hidden = layers.length === 0;
    this.note.hidden = !!s && layers.length > 0;
    if (s && layers.length === 0) this.note.textContent = 'The measurement found no MatMul/Gemm weight.';
    this.caption.textContent = s
      ? ` · ${s.bits}-bit, block ${s.blockSize}: output SQNR (dB) with only that weight quantized, lower is more sensitive`
      : '';
    if (layers.length === 0) return;
    this.chart = drawBars(this.canvas, this.chart, {
      labels: layers.map((l) => l.name),
      values: layers.map((l) => (Number.isFinite(l.outputSqnrDb) ? l.outputSqnrDb : null)),
      colors: layers.map((l, i) => (l.error ? 'red' : i < Math.ceil(layers.length / 10) ? 'orange' : 'blue')),
      unit: 'dB',
      hideLabels: layers.length > 40,
      tooltip: (i) => {
        const l = layers[i];
        return l.error
          ? `${l.name}: ${l.error}`
          : `${l.name} (${l.op}): output SQNR ${formatDb(l.outputSqnrDb)} dB, cosine loss ${l.cosineLoss.toExponential(2)}`;
      },
      onClick: (i) => this.select(layers[i].name),
    });
    this.canvas.dataset.drawn = 'true';
  }
}
