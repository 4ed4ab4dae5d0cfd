/**
 * The Functional core tab: the part of the model that does the work, from its measured activations
 * (`big-shrink activations --json`, run by the host in the CLI child). Per MLP/Conv layer a "units that
 * fire" bar, the share of units carrying 90%/99% of the output energy and the sorted importance curve;
 * buttons to measure (again), cancel, and compact the model. The host sends summaries only (curves of at
 * most 256 points).
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import { Chart, Filler, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import type { CoreHeadsView, CoreLayerView } from '../../src/core/compact/functionalCoreView';
import type { CoreState } from '../../src/protocol/modelEditor';
import { drawBars } from './barChart';
import { h, replace, themeColor } from './dom';
import { formatCount, formatPercent } from './format';

Chart.register(Filler, LinearScale, LineController, LineElement, PointElement, Tooltip);

type CurveChart = Chart<'line', { x: number; y: number }[]>;

/** The share of units "Compact" removes from each layer. */
export const COMPACT_SHARE = 0.25;

export interface CoreTabActions {
  measure(): void;
  cancel(): void;
  compact(units: number): void;
  /** The tab drew `layers` layers (tests and timings read it). */
  rendered(layers: number): void;
}

export class CoreTab {
  readonly element: HTMLElement;
  private readonly note: HTMLElement;
  private readonly source: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly error: HTMLElement;
  private readonly progress: HTMLElement & { value?: number; max: number; indeterminate: boolean };
  private readonly progressText: HTMLElement;
  private readonly measureButton: HTMLElement;
  private readonly cancelButton: HTMLElement;
  private readonly compactButton: HTMLElement;
  private readonly list: HTMLElement;
  private charts: { destroy(): void }[] = [];
  private state: CoreState = { status: 'none' };
  private visible = false;
  private dirty = true;

  constructor(private readonly actions: CoreTabActions) {
    this.note = h(
      'p',
      { class: 'pending', 'data-testid': 'core-note' },
      'Not measured yet. Measuring runs the model in ONNX Runtime on the calibration samples of its data ' +
        '(the Data card), else on synthesized inputs, and records per hidden unit how often it fires and ' +
        'how much it adds to the layer’s output.',
    );
    this.source = h('p', { class: 'core-source', 'data-testid': 'core-source', hidden: true });
    this.summary = h('p', { class: 'core-summary', 'data-testid': 'core-summary', hidden: true });
    this.error = h('p', { class: 'core-error', 'data-testid': 'core-error', role: 'alert', hidden: true });
    this.progress = h('vscode-progress-bar', {
      class: 'core-progress',
      'aria-label': 'Activations progress',
      hidden: true,
    }) as CoreTab['progress'];
    this.progressText = h('span', { class: 'core-progress-text', 'data-testid': 'core-progress' });
    this.measureButton = h(
      'vscode-button',
      { 'data-testid': 'measure-activations', onclick: () => this.actions.measure() },
      'Measure activations',
    );
    this.cancelButton = h(
      'vscode-button',
      {
        'data-testid': 'cancel-activations',
        secondary: true,
        hidden: true,
        onclick: () => this.actions.cancel(),
      },
      'Cancel',
    );
    this.compactButton = h(
      'vscode-button',
      {
        'data-testid': 'compact-units',
        secondary: true,
        hidden: true,
        title: `big-shrink compact --units ${COMPACT_SHARE}: removes the least important ${formatPercent(COMPACT_SHARE, 0)} of each layer’s hidden units for real, then verifies the result`,
        onclick: () => this.actions.compact(COMPACT_SHARE),
      },
      `Compact ${formatPercent(COMPACT_SHARE, 0)}…`,
    );
    this.list = h('div', { class: 'core-layers', 'data-testid': 'core-layers' });
    this.element = h(
      'section',
      { class: 'core', 'data-testid': 'core', 'aria-label': 'Functional core' },
      h(
        'section',
        { class: 'card' },
        h('h2', {}, 'Functional core'),
        this.note,
        this.source,
        this.summary,
        this.error,
        this.progress,
        h(
          'div',
          { class: 'actions' },
          this.measureButton,
          this.cancelButton,
          this.compactButton,
          this.progressText,
        ),
      ),
      this.list,
    );
    this.element.dataset.status = 'none';
    this.element.dataset.layers = '0';
  }

  /** Chart.js cannot size a hidden canvas: the curves are drawn when the tab is shown. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.dirty) this.renderLayers();
  }

  set(state: CoreState): void {
    // Progress messages carry the last view again (postMessage copies it): redraw only a new measurement.
    const viewChanged = state.measured !== this.state.measured || !state.view !== !this.state.view;
    this.state = state;
    this.renderStatus();
    if (!viewChanged) return;
    this.dirty = true;
    if (this.visible) this.renderLayers();
  }

  themeChanged(): void {
    this.dirty = true;
    if (this.visible) this.renderLayers();
  }

  private renderStatus(): void {
    const { status, view, progress, error } = this.state;
    const running = status === 'running';
    this.element.dataset.status = status;
    this.note.hidden = view !== undefined;
    this.measureButton.textContent = view ? 'Measure again' : 'Measure activations';
    (this.measureButton as HTMLElement & { disabled: boolean }).disabled = running;
    this.cancelButton.hidden = !running;
    this.compactButton.hidden = running || !view || view.layers.length === 0;
    this.progress.hidden = !running;
    this.progress.indeterminate = !progress;
    if (progress) {
      this.progress.max = Math.max(1, progress.total);
      this.progress.value = progress.done;
    }
    this.progressText.textContent = running
      ? progress
        ? `${formatCount(progress.done)} of ${formatCount(progress.total)} runs`
        : 'Starting…'
      : status === 'cancelled'
        ? 'Cancelled'
        : '';
    this.error.hidden = status !== 'error';
    this.error.textContent = status === 'error' ? `Could not measure the activations: ${error}` : '';
    this.source.hidden = !view;
    this.summary.hidden = !view;
    if (!view) return;
    const where =
      view.source === 'synthetic'
        ? 'Measured on synthesized inputs (no data given in the Data card): real inputs may fire other units. '
        : '';
    this.source.textContent = `${where}Samples: ${view.calibration}`;
    this.source.classList.toggle('synthetic', view.source === 'synthetic');
    this.summary.textContent =
      view.layers.length === 0
        ? 'No MLP block or Conv pair with hidden units was found (left whole, or none in the graph).'
        : `${formatCount(view.neverFire)} of ${formatCount(view.units)} hidden units never fire, over ` +
          `${view.layers.length} layer${view.layers.length === 1 ? '' : 's'}` +
          (view.alwaysZeroInputs
            ? `; ${formatCount(view.alwaysZeroInputs)} input channels of ${view.inputLayers} MatMul/Gemm/Conv layers are always zero`
            : '') +
          (view.missing.length ? `; not measured: ${view.missing.slice(0, 3).join(', ')}` : '') +
          '.';
  }

  private renderLayers(): void {
    this.dirty = false;
    for (const c of this.charts) c.destroy();
    this.charts = [];
    const layers = this.state.view?.layers ?? [];
    const heads = this.state.view?.heads ?? [];
    replace(
      this.list,
      ...layers.map((l) => this.layerCard(l)),
      ...heads.map((g) => this.headsCard(g, this.state.view?.headsLeftWhole)),
    );
    this.element.dataset.layers = String(layers.length);
    this.actions.rendered(layers.length);
  }

  private layerCard(l: CoreLayerView): HTMLElement {
    const fill = h('div', { class: 'fire-fill' });
    fill.style.width = `${l.units ? (100 * l.firing) / l.units : 0}%`;
    const canvas = h('canvas', {
      role: 'img',
      'aria-label': `${l.name}: importance of the ${l.units} units, sorted largest first; dashed: the shares carrying 90% and 99% of the output energy`,
    });
    const card = h(
      'section',
      { class: 'card core-layer', 'data-testid': 'core-layer', 'data-layer': l.name },
      h(
        'h3',
        {},
        l.name,
        h('span', { class: 'chart-caption' }, ` · ${l.kind === 'conv' ? 'Conv channels' : 'MLP'}`),
      ),
      h(
        'div',
        {
          class: 'fire-bar',
          role: 'meter',
          'aria-valuemin': 0,
          'aria-valuemax': l.units,
          'aria-valuenow': l.firing,
          'aria-label': `${l.firing} of ${l.units} units fire`,
        },
        fill,
      ),
      h('p', { class: 'fire-text', 'data-testid': 'fire-text' }, l.fireText),
      h(
        'p',
        { class: 'energy-text' },
        `${formatPercent(l.share90)} of the units carry 90% of the output energy, ` +
          `${formatPercent(l.share99)} carry 99%`,
      ),
      h('div', { class: 'curve-box' }, canvas),
    );
    this.charts.push(this.drawCurve(canvas, l));
    return card;
  }

  /** An attention block: importance per head as bars (relative to the strongest head). */
  private headsCard(g: CoreHeadsView, leftWhole: string | undefined): HTMLElement {
    const canvas = h('canvas', {
      role: 'img',
      'aria-label': `${g.name}: importance of each of its ${g.heads} attention heads`,
    });
    const card = h(
      'section',
      { class: 'card core-layer', 'data-testid': 'core-heads', 'data-layer': g.name },
      h(
        'h3',
        {},
        g.name,
        h('span', { class: 'chart-caption' }, ` · ${g.heads} attention heads × ${g.headDim}`),
      ),
      h(
        'p',
        { class: 'energy-text' },
        `${formatPercent(g.share90)} of the heads carry 90% of the output energy, ${formatPercent(g.share99)} carry 99%`,
      ),
      h('div', { class: 'curve-box' }, canvas),
      leftWhole
        ? h('p', { class: 'energy-text' }, `Compact leaves heads whole: ${leftWhole.replace(/^.*?: /, '')}.`)
        : null,
    );
    const top = Math.max(...g.importance);
    this.charts.push(
      drawBars(canvas, undefined, {
        labels: g.importance.map((_, i) => `head ${i}`),
        values: g.importance,
        colors: g.importance.map((v) => (v === 0 ? 'red' : v < 0.1 * top ? 'orange' : 'blue')),
        unit: '',
        hideLabels: g.importance.length > 32,
        tooltip: (i) => `head ${i}: ${g.importance[i].toFixed(3)} × the strongest head`,
      }),
    );
    return card;
  }

  private drawCurve(canvas: HTMLCanvasElement, l: CoreLayerView): CurveChart {
    const fg = themeColor('--vscode-descriptionForeground', '#888');
    const grid = themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
    const line = themeColor('--vscode-charts-blue', '#3794ff');
    const font = { family: getComputedStyle(document.body).fontFamily, size: 10 };
    const points = l.curve.rank.map((x, i) => ({ x: 100 * x, y: l.curve.importance[i] }));
    const marker = themeColor('--vscode-charts-orange', '#d18616');
    // Where 90% and 99% of the output energy is reached: dashed verticals at those shares of the units.
    const shareLine = (share: number) => ({
      data: [
        { x: 100 * share, y: 0 },
        { x: 100 * share, y: 1 },
      ],
      borderColor: marker,
      borderDash: share === l.share90 ? [4, 3] : [1, 2],
      borderWidth: 1,
      pointRadius: 0,
      fill: false,
    });
    return new Chart(canvas, {
      type: 'line',
      data: {
        datasets: [
          {
            data: points,
            borderColor: line,
            backgroundColor: `${line}33`,
            fill: 'origin',
            borderWidth: 1.5,
            pointRadius: 0,
          },
          shareLine(l.share90),
          shareLine(l.share99),
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        responsive: true,
        parsing: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: {
          x: {
            type: 'linear',
            min: 0,
            max: 100,
            title: { display: true, text: 'units, most important first (%)', color: fg, font },
            ticks: { color: fg, font },
            grid: { display: false },
            border: { color: grid },
          },
          y: {
            min: 0,
            max: 1,
            title: { display: true, text: 'importance / largest', color: fg, font },
            ticks: { color: fg, font },
            grid: { color: grid },
            border: { display: false },
          },
        },
        plugins: {
          tooltip: {
            filter: (item) => item.datasetIndex === 0,
            callbacks: {
              label: (item) =>
                `top ${formatPercent((item.parsed.x ?? 0) / 100)} of units: ${(item.parsed.y ?? 0).toFixed(3)} × the largest (${l.maxImportance.toPrecision(3)})`,
            },
          },
        },
      },
    });
  }
}
