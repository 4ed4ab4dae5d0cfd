/**
 * The overview, drawn from the index alone (before any statistics): file, model header, inputs and
 * outputs, op counts, parameters and bytes by dtype, and how much is already quantized or sparse.
 * Once statistics are in, the zeros across all learned weights are added.
 */
import type { InspectReport, IoSummary } from '../../src/core/inspect/inspectReport';
import { h, replace } from './dom';
import { formatBytes, formatCompact, formatCount, formatPercent, formatShape } from './format';
import type { Row } from './rows';

export class OverviewView {
  readonly element: HTMLElement;

  constructor() {
    this.element = h('section', {
      class: 'overview',
      'data-testid': 'overview',
      'aria-label': 'Model overview',
    });
  }

  render(report: InspectReport | undefined, rows: readonly Row[]): void {
    if (!report) {
      this.element.dataset.ready = 'false';
      replace(this.element, h('p', { class: 'pending' }, 'Reading the model…'));
      return;
    }
    this.element.dataset.ready = 'true';
    const m = report.model;
    const f = report.file;
    const external = f.externalFiles.reduce((s, e) => s + e.bytes, 0);
    const opsets = Object.entries(m.opsets).map(([d, v]) => `${d || 'ai.onnx'} ${v}`);
    const metadata = Object.entries(m.metadata ?? {});
    const learned = rows.filter((r) => r.tensor.learned);
    const withStats = learned.filter((r) => r.stats);
    const zeros = withStats.reduce((s, r) => s + (r.stats?.zeros ?? 0), 0);
    const counted = withStats.reduce((s, r) => s + (r.stats?.count ?? 0), 0);

    const fileCard = card(
      'File',
      'file',
      kv([
        ['path', 'Path', h('span', { class: 'mono wrap' }, f.path)],
        [
          'bytes',
          'Size',
          `${formatBytes(f.bytes + external)}${external ? ` (model ${formatBytes(f.bytes)} + external data ${formatBytes(external)})` : ''}`,
          f.bytes + external,
        ],
        ...f.externalFiles.map(
          (e, i): KvRow => [
            `external-${i}`,
            i === 0 ? 'External data' : '',
            h('span', { class: 'mono wrap' }, `${e.path} (${formatBytes(e.bytes)})`),
          ],
        ),
      ]),
    );
    const modelCard = card(
      'Model',
      'model',
      kv([
        ['irVersion', 'IR version', String(m.irVersion), m.irVersion],
        ['producer', 'Producer', [m.producerName, m.producerVersion].filter(Boolean).join(' ') || '—'],
        ['opsets', 'Opsets', opsets.join(', ') || '—'],
        ['nodeCount', 'Nodes', formatCount(m.nodeCount), m.nodeCount],
        [
          'graphs',
          'Graphs',
          m.graphs && m.graphs.length > 1
            ? `main + ${m.graphs.length - 1} subgraph${m.graphs.length > 2 ? 's' : ''}`
            : 'main',
          m.graphs?.length ?? 1,
        ],
        ...metadata.slice(0, 8).map(([k, v]): KvRow => [`meta-${k}`, k, v]),
      ]),
    );
    const byDtype = Object.entries(m.byDtype ?? {}).sort((a, b) => b[1].bytes - a[1].bytes);
    const weightsCard = card(
      'Weights',
      'weights',
      kv([
        [
          'parameters',
          'Parameters',
          `${formatCount(m.parameters)} (${formatCompact(m.parameters)})`,
          m.parameters,
        ],
        ['weightBytes', 'Stored', formatBytes(m.weightBytes), m.weightBytes],
        [
          'learnedTensors',
          'Learned tensors',
          `${formatCount(learned.length)} of ${formatCount(rows.length)} tensors`,
          learned.length,
        ],
        ['quantized', 'Already quantized', share(m.quantizedParameters, m.parameters), m.quantizedParameters],
        ['sparse', 'Stored sparse', share(m.sparseParameters, m.parameters), m.sparseParameters],
        [
          'zeros',
          'Zeros',
          withStats.length === 0
            ? h('span', { class: 'pending' }, 'computing…')
            : `${formatPercent(counted ? zeros / counted : 0, 2)} of learned weights${withStats.length < learned.length ? ` (${withStats.length} of ${learned.length} tensors so far)` : ''}`,
          counted ? zeros / counted : undefined,
        ],
      ]),
      byDtype.length
        ? h(
            'table',
            { class: 'grid-table', 'data-testid': 'dtype-table' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', {}, 'Type'),
                h('th', { class: 'num' }, 'Tensors'),
                h('th', { class: 'num' }, 'Parameters'),
                h('th', { class: 'num' }, 'Bytes'),
                h('th', {}, 'Share of bytes'),
              ),
            ),
            h(
              'tbody',
              {},
              ...byDtype.map(([dtype, v]) =>
                h(
                  'tr',
                  { 'data-dtype': dtype },
                  h('td', {}, dtype),
                  h('td', { class: 'num' }, formatCount(v.tensors)),
                  h('td', { class: 'num', 'data-value': v.parameters }, formatCount(v.parameters)),
                  h('td', { class: 'num', 'data-value': v.bytes }, formatBytes(v.bytes)),
                  h('td', {}, bar(m.weightBytes ? v.bytes / m.weightBytes : 0)),
                ),
              ),
            ),
          )
        : null,
    );
    const ioCard = card(
      'Inputs and outputs',
      'io',
      ioTable('Inputs', m.inputs, 'inputs'),
      ioTable('Outputs', m.outputs, 'outputs'),
    );
    const ops = Object.entries(m.ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const maxOp = ops.length ? ops[0][1] : 1;
    const opsCard = card(
      `Operators (${ops.length})`,
      'ops',
      h(
        'table',
        { class: 'grid-table ops', 'data-testid': 'ops-table' },
        h(
          'tbody',
          {},
          ...ops.map(([op, n]) =>
            h(
              'tr',
              { 'data-op': op },
              h('td', { class: 'mono' }, op),
              h('td', { class: 'num', 'data-value': n }, formatCount(n)),
              h('td', { class: 'bar-cell' }, bar(n / maxOp)),
            ),
          ),
        ),
      ),
    );
    replace(this.element, h('div', { class: 'cards' }, fileCard, modelCard, weightsCard, ioCard, opsCard));
  }
}

type KvRow = [string, string, string | HTMLElement, number?];

function card(title: string, id: string, ...content: (HTMLElement | null)[]): HTMLElement {
  return h('div', { class: `card card-${id}`, 'data-card': id }, h('h2', {}, title), ...content);
}

function kv(rows: KvRow[]): HTMLElement {
  return h(
    'table',
    { class: 'kv' },
    h(
      'tbody',
      {},
      ...rows.map(([key, label, value, exact]) =>
        h(
          'tr',
          { 'data-fact': key },
          h('th', { scope: 'row' }, label),
          h('td', { 'data-value': exact }, value),
        ),
      ),
    ),
  );
}

function share(part: number, whole: number): string {
  if (!part) return 'none';
  return `${formatCount(part)} parameters (${formatPercent(whole ? part / whole : 0)})`;
}

function bar(ratio: number): HTMLElement {
  const fill = h('span', { class: 'bar-fill' });
  fill.style.width = `${Math.max(0, Math.min(1, ratio)) * 100}%`;
  return h('span', { class: 'bar', title: formatPercent(ratio) }, fill);
}

function ioTable(caption: string, values: IoSummary[], id: string): HTMLElement {
  return h(
    'table',
    { class: 'grid-table io', 'data-testid': `${id}-table` },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Type'), h('th', {}, 'Shape'))),
    h(
      'tbody',
      {},
      ...(values.length
        ? values.map((v) =>
            h(
              'tr',
              { 'data-name': v.name },
              h('td', { class: 'mono' }, v.name),
              h('td', {}, v.dtype),
              h('td', { class: 'mono' }, formatShape(v.shape)),
            ),
          )
        : [h('tr', {}, h('td', { colspan: 3, class: 'pending' }, 'none'))]),
    ),
  );
}
