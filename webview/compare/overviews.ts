/**
 * The two models side by side (size, IR, producer, opsets, parameters, nodes and op counts, differences
 * marked) and the model-level changes: nodes rewritten, added and removed, opsets, IR version, metadata.
 */
import type { ModelDiff, ModelOverview } from '../../src/core/diff/modelDiff';
import type { CompareState } from '../../src/protocol/compareView';
import { h, replace, type Child } from '../modelEditor/dom';
import { formatBytes, formatCount } from '../modelEditor/format';

/** Op counts shown per side before "…". */
const OPS_SHOWN = 24;

export function renderOverviews(into: HTMLElement, state: CompareState): void {
  const diff = state.diff;
  replace(
    into,
    card('a', state.labelA, state.pathA, diff?.a, diff?.b),
    card('b', state.labelB, state.pathB, diff?.b, diff?.a),
  );
}

/** One side's card; a figure that differs from the other side's is marked. */
function card(
  side: 'a' | 'b',
  label: string,
  file: string,
  o: ModelOverview | undefined,
  other: ModelOverview | undefined,
): HTMLElement {
  const row = (name: string, value: Child, differs: boolean) =>
    h('tr', { class: differs ? 'differs' : '' }, h('th', { scope: 'row' }, name), h('td', {}, value));
  const opsets = (x: ModelOverview) =>
    Object.entries(x.opsets)
      .map(([d, v]) => `${d} ${v}`)
      .join(', ');
  const body = o
    ? [
        row(
          'Size',
          `${formatBytes(o.bytes)} (${formatCount(o.bytes)} bytes)`,
          !!other && other.bytes !== o.bytes,
        ),
        row('IR', String(o.irVersion), !!other && other.irVersion !== o.irVersion),
        row('Producer', o.producer || '—', !!other && other.producer !== o.producer),
        row('Opsets', opsets(o), !!other && opsets(other) !== opsets(o)),
        row('Parameters', formatCount(o.parameters), !!other && other.parameters !== o.parameters),
        row('Weight bytes', formatBytes(o.weightBytes), !!other && other.weightBytes !== o.weightBytes),
        row('Nodes', formatCount(o.nodeCount), !!other && other.nodeCount !== o.nodeCount),
        row('Ops', ops(o, other), false),
      ]
    : [];
  return h(
    'div',
    { class: `overview overview-${side}`, 'data-testid': `overview-${side}` },
    h('h2', { class: 'side-label', title: file }, h('span', { class: `swatch swatch-${side}` }), label),
    h('div', { class: 'path muted', title: file }, file),
    h('table', { class: 'facts' }, h('tbody', {}, ...body)),
  );
}

function ops(o: ModelOverview, other: ModelOverview | undefined): HTMLElement {
  const entries = Object.entries(o.ops).sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]));
  return h(
    'div',
    { class: 'ops' },
    ...entries
      .slice(0, OPS_SHOWN)
      .map(([op, n]) =>
        h(
          'span',
          { class: `op${other && other.ops[op] !== n ? ' differs' : ''}`, 'data-op': op },
          `${op} ${n}`,
        ),
      ),
    entries.length > OPS_SHOWN
      ? h('span', { class: 'op muted' }, `… ${entries.length - OPS_SHOWN} more`)
      : null,
  );
}

export function renderModelChanges(into: HTMLElement, diff: ModelDiff): void {
  const items: Child[] = [];
  if (diff.irVersion.changed) items.push(h('li', {}, `IR version ${diff.irVersion.a} → ${diff.irVersion.b}`));
  for (const o of diff.opsets.changed)
    items.push(h('li', {}, `Opset ${o.domain}: ${o.a ?? 'none'} → ${o.b ?? 'none'}`));
  for (const m of diff.metadata.changed)
    items.push(h('li', {}, `Metadata ${m.key}: ${m.a ?? 'none'} → ${m.b ?? 'none'}`));
  const n = diff.nodes;
  const list = (title: string, testId: string, lines: string[]) =>
    lines.length
      ? h(
          'details',
          { class: 'node-list', 'data-testid': testId },
          h('summary', {}, `${title} (${lines.length})`),
          h('ul', {}, ...lines.map((l) => h('li', { class: 'mono' }, l))),
        )
      : null;
  replace(
    into,
    items.length ? h('ul', { class: 'changes-list' }, ...items) : null,
    list(
      'Nodes rewritten',
      'nodes-rewritten',
      n.rewritten.map((r) => `${r.name}: ${r.from} → ${r.to}`),
    ),
    list(
      'Nodes added',
      'nodes-added',
      n.added.map((r) => `${r.name} (${r.op})`),
    ),
    list(
      'Nodes removed',
      'nodes-removed',
      n.removed.map((r) => `${r.name} (${r.op})`),
    ),
    list(
      'Attributes changed',
      'nodes-changed',
      n.changed.map((r) => `${r.name} (${r.op}): ${r.attributes.join(', ')}`),
    ),
  );
}
