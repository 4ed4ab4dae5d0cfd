/**
 * The head of the side panel: which transform made which file, size before → after with the ratio,
 * for pruning the sparsity and the size figures (pruneFigures.ts), for a shrink the target and the uniform
 * baselines (shrinkSummary.ts), and the output fidelity with a pass / warn / fail badge, per-output figures and latency.
 */
import type { FidelityStatus, NextStepOffer, ReportView } from '../../src/protocol/reportsPanel';
import { h, replace } from '../modelEditor/dom';
import { formatBytes, formatCount } from '../modelEditor/format';
import { renderPruneFigures } from './pruneFigures';
import { renderShrinkSummary } from './shrinkSummary';
import { renderTaskFigures } from './taskFigures';

/** Links of the summary: open the report or one of its models. */
export type SummaryLink = 'markdown' | 'json' | 'input' | 'output' | 'compare';

const STATUS_TEXT: Record<FidelityStatus, string> = {
  pass: 'Pass',
  warn: 'Warn',
  fail: 'Fail',
  unverified: 'Not verified',
};

const STATUS_HINT: Record<FidelityStatus, string> = {
  pass: 'Every output has cosine similarity ≥ 0.99 with the original in ONNX Runtime',
  warn: 'The lowest output cosine similarity is between 0.95 and 0.99: check the outputs',
  fail: 'An output has cosine similarity below 0.95, or the model did not load or run in ONNX Runtime',
  unverified: 'The transform ran without verification',
};

export function formatRatio(ratio: number): string {
  return `${ratio.toFixed(3)}×`;
}

export function formatDb(db: number | undefined): string {
  if (db === undefined || Number.isNaN(db)) return '';
  if (!Number.isFinite(db)) return db > 0 ? '∞' : '−∞';
  return db.toFixed(1);
}

export function formatCosine(x: number | undefined): string {
  return x === undefined || Number.isNaN(x) ? '' : x.toFixed(6);
}

export function formatLatency(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(1) : ms.toFixed(3);
}

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** "3 minutes ago", "yesterday", or the date for older reports. */
export function formatWhen(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((t - now) / 1000);
  const a = Math.abs(s);
  if (a < 45) return 'just now';
  if (a < 3600) return relative.format(Math.round(s / 60), 'minute');
  if (a < 86400) return relative.format(Math.round(s / 3600), 'hour');
  if (a < 7 * 86400) return relative.format(Math.round(s / 86400), 'day');
  return new Date(t).toLocaleDateString();
}

export function statusBadge(status: FidelityStatus, testId?: string): HTMLElement {
  return h(
    'span',
    {
      class: `status-badge ${status}`,
      'data-status': status,
      'data-testid': testId,
      title: STATUS_HINT[status],
    },
    STATUS_TEXT[status],
  );
}

export class SummaryView {
  readonly element = h('section', {
    class: 'summary',
    'data-testid': 'summary',
    'aria-label': 'Last transform',
  });

  /** The size figures drawn for the shown report (prune reports: gzip, dense, sparse, runtime). */
  figures: string[] = [];

  /** The next-step buttons drawn for the shown report (labels). */
  nextSteps: string[] = [];

  constructor(
    private readonly open: (what: SummaryLink) => void,
    private readonly runStep: (kind: NextStepOffer['kind']) => void = () => undefined,
  ) {}

  render(view: ReportView): void {
    const prune = view.prune ? renderPruneFigures(view.prune) : undefined;
    const shrink = view.shrink ? renderShrinkSummary(view, view.shrink) : undefined;
    this.figures = prune?.drawn ?? shrink?.drawn ?? [];
    const f = view.fidelity;
    const saved = 1 - view.ratio;
    const link = (what: SummaryLink, text: string, title: string) =>
      h(
        'button',
        { type: 'button', class: 'link-button', title, 'data-open': what, onclick: () => this.open(what) },
        text,
      );
    const meter = h('div', { class: 'meter-fill' });
    meter.style.width = `${Math.max(0.5, Math.min(100, view.ratio * 100))}%`;
    this.nextSteps = (view.nextSteps ?? []).map((s) => s.label);
    this.element.dataset.report = view.file;
    this.element.dataset.status = view.status;
    replace(
      this.element,
      h(
        'div',
        { class: 'title-row' },
        h('h2', { class: 'output-name', title: view.outputPath, 'data-testid': 'output-name' }, view.output),
      ),
      h(
        'div',
        { class: 'subtitle', 'data-testid': 'variant' },
        `${view.transform} · ${view.variant}`,
        h(
          'span',
          { class: 'when', title: new Date(view.createdAt).toLocaleString() },
          ` · ${formatWhen(view.createdAt)}`,
        ),
      ),
      h(
        'div',
        { class: 'size-row', 'data-testid': 'size' },
        h(
          'span',
          {
            class: 'size',
            'data-testid': 'size-before',
            'data-value': view.bytesBefore,
            title: `${formatCount(view.bytesBefore)} bytes`,
          },
          formatBytes(view.bytesBefore),
        ),
        h('span', { class: 'arrow', 'aria-label': 'to' }, '→'),
        h(
          'span',
          {
            class: 'size after',
            'data-testid': 'size-after',
            'data-value': view.bytesAfter,
            title: `${formatCount(view.bytesAfter)} bytes`,
          },
          formatBytes(view.bytesAfter),
        ),
        h(
          'span',
          {
            class: 'ratio',
            'data-testid': 'ratio',
            'data-value': view.ratio,
            title: 'Output size / input size',
          },
          formatRatio(view.ratio),
        ),
        saved > 0 ? h('span', { class: 'saved' }, `−${(saved * 100).toFixed(1)}%`) : null,
      ),
      h('div', { class: 'meter', role: 'presentation' }, meter),
      prune?.element,
      shrink?.element,
      renderTaskFigures(f.task, f.synthetic),
      h(
        'div',
        { class: 'fidelity', 'data-testid': 'fidelity', 'data-status': f.status },
        statusBadge(f.status, 'fidelity-badge'),
        h(
          'span',
          { class: 'fidelity-text' },
          f.error
            ? f.error
            : f.minCosine !== undefined
              ? `min output cosine ${formatCosine(f.minCosine)}`
              : STATUS_HINT[f.status],
        ),
      ),
      view.nextSteps?.length
        ? h(
            'div',
            { class: 'next-steps', 'data-testid': 'next-steps', role: 'group', 'aria-label': 'Next steps' },
            h('span', { class: 'muted' }, 'Try next:'),
            ...view.nextSteps.map((s, i) =>
              h(
                'vscode-button',
                {
                  secondary: i > 0,
                  title: s.detail,
                  'data-next-step': s.kind,
                  onclick: () => this.runStep(s.kind),
                },
                s.label,
              ),
            ),
          )
        : null,
      f.outputs.length
        ? h(
            'table',
            { class: 'outputs', 'data-testid': 'outputs', 'aria-label': 'Output fidelity' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { scope: 'col' }, 'Output'),
                h(
                  'th',
                  { scope: 'col', class: 'num', title: 'Cosine similarity with the original output' },
                  'Cosine',
                ),
                h(
                  'th',
                  { scope: 'col', class: 'num', title: 'Signal-to-quantization-noise ratio, dB' },
                  'SQNR',
                ),
              ),
            ),
            h(
              'tbody',
              {},
              ...f.outputs.map((o) =>
                h(
                  'tr',
                  { 'data-output': o.name, 'data-cosine': o.cosine, 'data-sqnr': o.sqnrDb },
                  h(
                    'td',
                    {
                      class: 'ellipsis',
                      title: [
                        o.name,
                        `max abs error ${o.maxAbsError}`,
                        o.top1Agreement !== undefined
                          ? `top-1 agreement ${(o.top1Agreement * 100).toFixed(1)}%`
                          : '',
                      ]
                        .filter(Boolean)
                        .join('\n'),
                    },
                    o.name,
                  ),
                  h('td', { class: 'num' }, formatCosine(o.cosine)),
                  h('td', { class: 'num' }, `${formatDb(o.sqnrDb)} dB`),
                ),
              ),
            ),
          )
        : null,
      f.original && f.candidate
        ? h(
            'div',
            { class: 'latency muted', 'data-testid': 'latency' },
            `Median latency ${formatLatency(f.original.medianMs)} → ${formatLatency(f.candidate.medianMs)} ms · load ${formatLatency(f.original.loadMs)} → ${formatLatency(f.candidate.loadMs)} ms`,
          )
        : null,
      view.stayedFloat
        ? h(
            'div',
            {
              class: 'stayed-float muted',
              'data-testid': 'stayed-float',
              'data-tensors': view.stayedFloat.tensors,
              'data-bytes': view.stayedFloat.bytes,
              title: view.stayedFloat.groups
                .map(
                  (g) =>
                    `${g.tensors} ${g.label}: ${formatBytes(g.bytes)}${g.names.length ? ` (${g.names.join(', ')}${g.tensors > g.names.length ? ', …' : ''})` : ''}`,
                )
                .join('\n'),
            },
            view.stayedFloat.summary,
          )
        : null,
      view.warnings.length || view.opsetChanges.length
        ? h(
            'ul',
            { class: 'notes', 'data-testid': 'notes' },
            ...view.opsetChanges.map((c) => h('li', { class: 'muted' }, `Changed: ${c}`)),
            ...view.warnings.map((w) => h('li', { class: 'warning' }, w)),
          )
        : null,
      h(
        'div',
        { class: 'actions' },
        view.markdownPath
          ? link('markdown', 'Open Report', 'Open the Markdown report beside the editor')
          : null,
        link('output', 'Open Result', view.outputPath),
        link('input', 'Open Original', view.inputPath),
        link(
          'compare',
          'Compare with Original',
          `Compare ${view.output} with ${view.model || view.inputPath} tensor by tensor`,
        ),
        link('json', 'JSON', view.file),
      ),
    );
  }
}
