/**
 * What a shrink report adds to the summary: the target, what the written model achieved on it and
 * whether that meets it, the layers per precision, and a comparison of the sizes with their fidelity —
 * the original, uniform 8-bit, uniform 4-bit (and any other baseline the engine ran) and the shrink.
 */
import type { ReportView } from '../../src/protocol/reportsPanel';
import type { ShrinkFidelity, ShrinkFigures } from '../../src/protocol/shrinkFigures';
import { h } from '../modelEditor/dom';
import { formatBytes, formatCount, formatPercent } from '../modelEditor/format';
import { shortBaselineLabel } from './shortLabels';
import { formatCosine, formatDb, formatRatio } from './summary';
import { formatMetric, metricName } from './tradeoffChart';

/** One row of the comparison. */
interface Config {
  id: string;
  label: string;
  bytes?: number;
  fidelity?: ShrinkFidelity;
  /** undefined: the original (the reference itself). */
  meets?: boolean;
  error?: string;
}

/** "11 at 4-bit, 2 at 8-bit, 1 float": the layers per precision, labels as the report gives them. */
export function describeCounts(s: ShrinkFigures): string {
  return Object.entries(s.counts)
    .filter(([, n]) => n > 0)
    .map(([id, n]) => {
      const label = s.labels[id] ?? id;
      return /^\d/.test(label) ? `${n} at ${label}` : `${n} ${label}`;
    })
    .join(', ');
}

/**
 * " · fell back to uniform 8-bit, then backed off": the mix grew past a uniform configuration that meets the
 * target, so the written model starts from that one (the candidates table shows the steps lowered).
 */
function fallbackNote(s: ShrinkFigures): string {
  if (!s.fallback) return '';
  const label = s.baselines.find((b) => b.id === s.fallback)?.label ?? s.fallback;
  const lowered = s.candidates.filter((c) => c.lowered).length;
  return ` · fell back to ${label}${lowered ? `, then tried lowering ${lowered} layer step${lowered === 1 ? '' : 's'}` : ''}`;
}

function configs(view: ReportView, s: ShrinkFigures): Config[] {
  const chosen = s.candidates.find((c) => c.step === s.chosenStep);
  // The written model's verified outputs when the report has them, else the search's own figures.
  const outputs = view.fidelity.outputs;
  const verified: ShrinkFidelity | undefined = outputs.length
    ? {
        cosine: Math.min(...outputs.map((o) => o.cosine)),
        sqnrDb: Math.min(...outputs.map((o) => o.sqnrDb)),
        ...(outputs.some((o) => o.top1Agreement !== undefined)
          ? { top1: Math.min(...outputs.flatMap((o) => o.top1Agreement ?? [])) }
          : {}),
      }
    : undefined;
  return [
    { id: 'original', label: 'Original', bytes: view.bytesBefore },
    ...s.baselines.map((b) => ({
      id: b.id,
      label: b.label,
      bytes: b.bytes,
      fidelity: b.fidelity,
      meets: b.meetsTarget,
      error: b.error,
    })),
    {
      id: 'shrink',
      label: 'Shrink',
      bytes: view.bytesAfter,
      fidelity: chosen?.fidelity ?? verified,
      meets: s.met,
    },
  ];
}

/** The target line and the comparison table of a shrink report; the ids of the rows drawn. */
export function renderShrinkSummary(
  view: ReportView,
  s: ShrinkFigures,
): { element: HTMLElement; drawn: string[] } {
  const rows = configs(view, s);
  const withTop1 = rows.some((r) => r.fidelity?.top1 !== undefined);
  const name = metricName(s.metric);
  const target = h(
    'div',
    {
      class: 'shrink-target',
      'data-testid': 'shrink-target',
      'data-target': s.target,
      'data-achieved': s.achieved,
      'data-met': String(s.met),
      title: `The worst model output must reach ${s.target}`,
    },
    h('span', { class: 'muted' }, 'Target '),
    h('strong', { class: 'mono' }, s.target),
    s.achieved !== undefined
      ? h('span', {}, h('span', { class: 'muted' }, ` · ${name} `), formatMetric(s.metric, s.achieved))
      : null,
    h(
      'span',
      { class: `status-badge ${s.met ? 'pass' : 'fail'}`, 'data-testid': 'shrink-met' },
      s.met ? 'Met' : 'Missed',
    ),
  );
  const counts = h(
    'div',
    { class: 'shrink-counts muted', 'data-testid': 'shrink-counts' },
    `Layers: ${describeCounts(s) || 'none'} · ${s.candidates.length} candidate${s.candidates.length === 1 ? '' : 's'} tried`,
    fallbackNote(s),
  );
  const l = s.latency;
  const latency =
    l || s.objective === 'latency'
      ? h(
          'div',
          {
            class: 'shrink-latency muted',
            'data-testid': 'shrink-latency',
            'data-objective': s.objective ?? 'size',
            'data-original-ms': l?.originalMs,
            'data-candidate-ms': l?.candidateMs,
            title: l
              ? `Whole-model median latency in onnxruntime-node, ${l.runs} runs after a warm-up, evaluation inputs`
              : undefined,
          },
          `Objective: ${s.objective === 'latency' ? 'lowest latency' : 'smallest size'}`,
          l ? ` · median ${formatMs(l.originalMs)} → ${formatMs(l.candidateMs)} ms` : '',
        )
      : null;
  const cell = (text: string, title?: string, extra = '') => h('td', { class: `num${extra}`, title }, text);
  const table = h(
    'table',
    {
      class: 'figures comparison',
      'data-testid': 'shrink-comparison',
      'aria-label': 'Size and fidelity compared',
    },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Model'),
        h('th', { scope: 'col', class: 'num' }, 'Size'),
        h('th', { scope: 'col', class: 'num', title: 'Worst output cosine similarity' }, 'Cosine'),
        h('th', { scope: 'col', class: 'num', title: 'Worst output SQNR, dB' }, 'SQNR'),
        withTop1
          ? h('th', { scope: 'col', class: 'num top1', title: 'Worst top-1 agreement' }, 'Top-1')
          : null,
      ),
    ),
    h(
      'tbody',
      {},
      ...rows.map((r) =>
        h(
          'tr',
          {
            'data-config': r.id,
            'data-bytes': r.bytes,
            'data-cosine': r.fidelity?.cosine,
            'data-sqnr': r.fidelity?.sqnrDb,
            'data-top1': r.fidelity?.top1,
            'data-meets': r.meets === undefined ? undefined : String(r.meets),
            class: r.id === 'shrink' ? 'written' : undefined,
          },
          // Whether it meets the target is a mark beside the name: the side bar has no room for a column.
          h(
            'td',
            {
              class: 'ellipsis',
              title: [
                r.label,
                r.meets === undefined ? 'the reference' : `${r.meets ? 'meets' : 'misses'} ${s.target}`,
                // A narrow side bar hides the top-1 column: the figure stays here.
                r.fidelity?.top1 !== undefined ? `top-1 agreement ${formatPercent(r.fidelity.top1)}` : '',
                r.error ?? '',
              ]
                .filter(Boolean)
                .join('\n'),
            },
            r.meets === undefined
              ? null
              : h(
                  'span',
                  { class: r.meets ? 'meets' : 'misses', 'aria-label': r.meets ? 'meets' : 'misses' },
                  r.meets ? '✓ ' : '✗ ',
                ),
            // "All 4-bit b128" fits the side bar where "uniform 4-bit (block 128)" does not; the tooltip keeps it.
            shortBaselineLabel(r.label),
          ),
          cell(
            r.bytes === undefined ? '—' : formatBytes(r.bytes),
            r.bytes === undefined
              ? r.error
              : `${formatCount(r.bytes)} bytes, ${formatRatio(r.bytes / (view.bytesBefore || 1))} of the original`,
          ),
          cell(r.fidelity ? formatCosine(r.fidelity.cosine) : r.id === 'original' ? '1' : '—'),
          cell(r.fidelity ? formatDb(r.fidelity.sqnrDb) : r.id === 'original' ? '∞' : '—'),
          withTop1
            ? cell(
                r.fidelity?.top1 !== undefined
                  ? formatPercent(r.fidelity.top1)
                  : r.id === 'original'
                    ? '100%'
                    : '—',
                undefined,
                ' top1',
              )
            : null,
        ),
      ),
    ),
  );
  return {
    element: h('div', { class: 'shrink-figures' }, target, counts, latency, table),
    drawn: rows.map((r) => r.id),
  };
}

/** `4.31`, `0.152`: three significant digits for milliseconds. */
function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms.toPrecision(3);
}
