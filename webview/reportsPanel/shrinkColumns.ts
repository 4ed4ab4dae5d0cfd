/**
 * The two tables of a shrink report, drawn with the panel's sortable ChangeTable: the layers (choice,
 * the loss measured alone at each precision, why) and the candidates tried (the trade-off plot's text
 * alternative: step, what changed — raised, lowered or the fallback —, size, the target's metric, met). Rows carry their exact values in
 * data-* attributes for tests.
 */
import type { Attrs } from '../modelEditor/dom';
import { h } from '../modelEditor/dom';
import { formatBytes, formatCount } from '../modelEditor/format';
import type { ShrinkCandidate, ShrinkFigures, ShrinkLayer } from '../../src/protocol/shrinkFigures';
import { candidateChange, candidateOutcome, changeText } from './candidateChange';
import { shortPrecisionLabel } from './shortLabels';
import { type Column, nameText } from './changeTable';
import { formatDb } from './summary';
import { formatMetric, metricName, metricOf } from './tradeoffChart';

const lossOf = (l: ShrinkLayer, choice: string) => l.losses.find((x) => x.choice === choice);

/**
 * The precisions some layer has a measured loss at, lowest first: in the order of the report's labels (its
 * `precisionLabels` follow the precision ladder); ids it does not label after them, as they first appear.
 */
export function lossPrecisions(s: ShrinkFigures): string[] {
  const order = Object.keys(s.labels);
  const rank = (p: string) => (order.includes(p) ? order.indexOf(p) : order.length);
  const measured = [...new Set(s.layers.flatMap((l) => l.losses.map((x) => x.choice)))];
  return measured
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i)
    .map((x) => x.p);
}

/** Columns of the layer table: one loss column per precision measured. */
export function layerColumns(s: ShrinkFigures): Column<ShrinkLayer>[] {
  const label = (id: string) => s.labels[id] ?? id;
  // Up to six precisions share the side bar's width: short labels in the cells, full ones in tooltips.
  const short = (id: string) => shortPrecisionLabel(label(id));
  return [
    {
      id: 'name',
      label: 'Layer',
      title: 'The layer’s weight, and why it got its precision',
      value: (l) => l.name.toLowerCase(),
      cell: (l) => [
        nameText(l.name),
        h('div', { class: 'sub' }, `${l.op} · ${formatCount(l.params)} params`),
        h('div', { class: 'sub why', 'data-testid': 'layer-why' }, l.why),
      ],
      cellTitle: (l) => `${l.name}\n${l.op}, ${formatCount(l.params)} parameters\n${l.why}`,
    },
    {
      id: 'choice',
      label: 'Choice',
      title: 'The precision the layer was written at',
      value: (l) => label(l.choice),
      cell: (l) => h('span', { class: `choice choice-${l.choice.replace(/[^\w-]/g, '')}` }, short(l.choice)),
      cellTitle: (l) => label(l.choice),
    },
    ...lossPrecisions(s).map(
      (p): Column<ShrinkLayer> => ({
        id: `loss-${p}`,
        label: short(p),
        title: `Worst output SQNR (dB) with only this layer at ${label(p)}: lower is more sensitive`,
        numeric: true,
        value: (l) => lossOf(l, p)?.sqnrDb,
        cell: (l) => {
          const x = lossOf(l, p);
          return x ? [formatDb(x.sqnrDb), h('div', { class: 'sub' }, x.cosine.toFixed(4))] : '—';
        },
        cellTitle: (l) => {
          const x = lossOf(l, p);
          return x
            ? `Only this layer at ${label(p)}: output SQNR ${formatDb(x.sqnrDb)} dB, cosine ${x.cosine}`
            : 'Not measured';
        },
      }),
    ),
  ];
}

export function layerAttrs(l: ShrinkLayer): Attrs {
  const attrs: Attrs = {
    'data-layer-name': l.name,
    'data-op': l.op,
    'data-params': l.params,
    'data-choice': l.choice,
    'data-why': l.why,
  };
  for (const x of l.losses) {
    attrs[`data-loss-${x.choice}-sqnr`] = x.sqnrDb;
    attrs[`data-loss-${x.choice}-cosine`] = x.cosine;
  }
  return attrs;
}

/** Columns of the candidates table (the trade-off plot as text). */
export function candidateColumns(s: ShrinkFigures): Column<ShrinkCandidate>[] {
  const name = metricName(s.metric);
  return [
    {
      id: 'step',
      label: '#',
      title: 'Order in which the candidates were tried',
      numeric: true,
      value: (c) => c.step,
      cell: (c) => String(c.step),
    },
    {
      id: 'raised',
      label: 'Change',
      title:
        'What changed from the candidate before: a layer raised while searching, a layer lowered while backing off from the candidate written so far, or the fallback to a uniform configuration',
      value: (c) => candidateChange(s, c).layer?.toLowerCase() ?? '',
      cell: (c) => {
        const x = candidateChange(s, c);
        return x.layer
          ? [nameText(x.layer), h('div', { class: `sub change-${x.kind}` }, x.short)]
          : h('span', { class: 'muted' }, x.short);
      },
      cellTitle: (c) => changeText(s, c),
    },
    {
      id: 'bytes',
      label: 'Size',
      numeric: true,
      value: (c) => c.bytes,
      cell: (c) => (c.bytes === undefined ? '—' : formatBytes(c.bytes)),
      cellTitle: (c) => (c.bytes === undefined ? c.error : `${formatCount(c.bytes)} bytes`),
    },
    {
      id: 'metric',
      label: name === 'top-1 agreement' ? 'Top-1' : name[0].toUpperCase() + name.slice(1),
      title: `Worst output ${name}; the target is ${s.target}`,
      numeric: true,
      value: (c) => metricOf(s, c.fidelity),
      cell: (c) => [
        formatMetric(s.metric, metricOf(s, c.fidelity)) || '—',
        h('div', { class: `sub ${c.met ? 'meets' : 'misses'}` }, candidateOutcome(s, c)),
      ],
      cellTitle: (c) =>
        c.error ??
        (c.fidelity
          ? `cosine ${c.fidelity.cosine}, SQNR ${formatDb(c.fidelity.sqnrDb)} dB${c.fidelity.top1 === undefined ? '' : `, top-1 ${c.fidelity.top1}`}`
          : undefined),
    },
  ];
}

export function candidateAttrs(s: ShrinkFigures, c: ShrinkCandidate): Attrs {
  return {
    'data-step': c.step,
    'data-bytes': c.bytes,
    'data-value': metricOf(s, c.fidelity),
    'data-met': String(c.met),
    'data-chosen': c.step === s.chosenStep ? 'true' : undefined,
    'data-raised': c.raised?.name,
    'data-lowered': c.lowered?.name,
    'data-fallback': c.fallback,
    'data-change': candidateChange(s, c).kind,
    class: c.step === s.chosenStep ? 'written' : undefined,
  };
}
