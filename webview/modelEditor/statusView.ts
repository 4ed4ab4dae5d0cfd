/**
 * The editor's status: the line in the tab bar ("Statistics: 12 of 120 tensors") and the progress bar
 * above everything, following the document's analysis (indexing, computing, done, cancelled, error).
 */
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import type { EditorSnapshot, EditorStatus, StatsProgress } from '../../src/protocol/modelEditor';
import { assertNever } from '../../src/protocol/messaging';
import { h } from './dom';
import { formatCount, formatMs } from './format';

export class StatusView {
  /** The status line (placed in the tabs' add-ons). */
  readonly element: HTMLElement;
  /** The progress bar (placed at the top of the page). */
  readonly progressBar: HTMLElement;
  private readonly text: HTMLElement;
  private progress: StatsProgress | undefined;

  constructor() {
    this.text = h('span', { class: 'status-text', 'data-testid': 'status-text' });
    this.element = h('div', { class: 'status', 'data-testid': 'status', role: 'status' }, this.text);
    this.progressBar = h('vscode-progress-bar', {
      class: 'progress',
      'data-testid': 'progress',
      'aria-label': 'Statistics progress',
    });
  }

  /** Show `status`, with `progress` when given (else the last one known). */
  set(status: EditorStatus, timings: EditorSnapshot['timings'], progress?: StatsProgress): void {
    this.progress = progress ?? this.progress;
    this.element.dataset.status = status;
    const pr = this.progress;
    const bar = this.progressBar as HTMLElement & { value?: number; max: number; indeterminate: boolean };
    switch (status) {
      case 'indexing':
        this.text.textContent = 'Reading model…';
        bar.hidden = false;
        bar.indeterminate = true;
        break;
      case 'computing':
        this.text.textContent = pr
          ? `Statistics: ${formatCount(pr.done)} of ${formatCount(pr.total)} tensors`
          : 'Computing statistics…';
        bar.hidden = false;
        bar.indeterminate = false;
        bar.max = 100;
        bar.value = pr && pr.bytesTotal > 0 ? (100 * pr.bytesDone) / pr.bytesTotal : 0;
        break;
      case 'done':
        this.text.textContent = pr
          ? `Statistics of ${formatCount(pr.total)} tensors in ${formatMs(timings.statsMs ?? pr.elapsedMs)}`
          : '';
        bar.hidden = true;
        break;
      case 'cancelled':
        this.text.textContent = pr
          ? `Statistics stopped at ${formatCount(pr.done)} of ${formatCount(pr.total)} tensors`
          : 'Stopped';
        bar.hidden = true;
        break;
      case 'error':
        this.text.textContent = '';
        bar.hidden = true;
        break;
      default:
        assertNever(status);
    }
    this.element.title = timings.indexMs !== undefined ? `Index ${formatMs(timings.indexMs)}` : '';
  }
}
