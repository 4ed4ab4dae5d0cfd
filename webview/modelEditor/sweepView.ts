/**
 * The selected weight's data-free sweep in the detail view: weight SQNR at 2/3/4/8 bits and at 25/50/75%
 * magnitude sparsity, as a small bar chart and as figures (exact values in `data-value`). The host
 * computes it in a worker when the tensor is selected; tensors that are no float weight of 2+ dims say so.
 */
import { isSweepable } from '../../src/core/sensitivity/sweepPoints';
import { SWEEP_BITS, SWEEP_SPARSITY, type WeightSweep } from '../../src/core/sensitivity/sweepPoints';
import { drawBars, type SmallBarChart } from './barChart';
import { h, replace } from './dom';
import { formatDb } from './format';
import type { Row } from './rows';

export class SweepView {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly box: HTMLElement;
  private readonly figures: HTMLElement;
  private readonly note: HTMLElement;
  private chart: SmallBarChart | undefined;
  private sweep: WeightSweep | undefined;

  constructor() {
    this.canvas = h('canvas', {
      'data-testid': 'sweep-chart',
      role: 'img',
      'aria-label': 'Weight SQNR by bit width and by sparsity',
    });
    this.box = h('div', { class: 'sweep-box' }, this.canvas);
    this.figures = h('table', { class: 'kv sweep-figures', 'data-testid': 'sweep-figures' });
    this.note = h('p', { class: 'pending' });
    this.element = h(
      'div',
      { class: 'sweep', 'data-testid': 'detail-sweep' },
      h(
        'h3',
        { class: 'sweep-title', title: 'Blockwise round-to-nearest along K; magnitude pruning' },
        'Weight SQNR sweep (dB, data-free)',
      ),
      this.note,
      this.box,
      this.figures,
    );
  }

  show(row: Row | undefined): void {
    const sweepable = !!row && isSweepable(row.tensor);
    this.element.hidden = !row;
    this.sweep = row?.sweep;
    const state = !sweepable ? 'none' : row.sweep ? 'ready' : row.sweepError ? 'error' : 'pending';
    this.element.dataset.state = state;
    this.element.dataset.tensorName = row?.tensor.name ?? '';
    this.note.hidden = state === 'ready';
    this.note.className = state === 'error' ? 'error-text' : 'pending';
    this.note.textContent =
      state === 'none'
        ? 'No sweep: only learned float weights of 2 or more dimensions are swept.'
        : state === 'error'
          ? `No sweep: ${row?.sweepError}`
          : 'Computing the sweep…';
    this.box.hidden = state !== 'ready';
    this.figures.hidden = state !== 'ready';
    if (row?.sweep) this.render(row.sweep);
  }

  /** Redraw with the new theme's colours. */
  themeChanged(): void {
    this.chart?.destroy();
    this.chart = undefined;
    if (this.sweep) this.render(this.sweep);
  }

  private render(sweep: WeightSweep): void {
    const entries = [
      ...SWEEP_BITS.map((b) => ({ key: `bits-${b}`, label: `${b}-bit`, value: sweep.bits[b], bits: true })),
      ...SWEEP_SPARSITY.map((p) => ({
        key: `sparsity-${p}`,
        label: `${p}%`,
        value: sweep.sparsity[p],
        bits: false,
      })),
    ];
    this.chart = drawBars(this.canvas, this.chart, {
      labels: entries.map((e) => e.label),
      // An exact (infinite) SQNR has no bar; its figure below says ∞.
      values: entries.map((e) => (Number.isFinite(e.value) ? e.value : null)),
      colors: entries.map((e) => (e.bits ? 'blue' : 'orange')),
      unit: 'dB',
      tooltip: (i) =>
        `${entries[i].bits ? `${entries[i].label} quantized` : `${entries[i].label} pruned`}: ${formatDb(entries[i].value)} dB`,
    });
    this.canvas.dataset.drawn = 'true';
    const cells = (list: typeof entries) =>
      list.map((e) =>
        h(
          'td',
          { 'data-key': e.key, 'data-value': String(e.value), title: String(e.value) },
          formatDb(e.value),
        ),
      );
    const bits = entries.filter((e) => e.bits);
    const sparsity = entries.filter((e) => !e.bits);
    replace(
      this.figures,
      h('thead', {}, h('tr', {}, h('th', {}), ...bits.map((e) => h('th', { scope: 'col' }, e.label)))),
      h(
        'tbody',
        {},
        h('tr', { 'data-fact': 'sweepBits' }, h('th', { scope: 'row' }, 'Bits'), ...cells(bits)),
        h(
          'tr',
          { 'data-fact': 'sweepSparsity' },
          h('th', { scope: 'row', title: 'Share of the smallest magnitudes set to zero' }, 'Zeros'),
          ...sparsity.map((e) => h('th', { scope: 'col', class: 'sub' }, e.label)),
        ),
        h(
          'tr',
          { 'data-fact': 'sweepSparsityValues' },
          h('th', { scope: 'row' }, 'SQNR'),
          ...cells(sparsity),
        ),
      ),
    );
  }
}
