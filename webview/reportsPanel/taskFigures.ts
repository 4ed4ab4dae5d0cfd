/**
 * The task metrics of a report, shown first in the summary: perplexity change, KL and next-token agreement
 * for a language model; agreement and accuracy for a classifier; and a "synthetic inputs" badge when the
 * verdict rests on inputs the tool made up (no `data.source: "files"` in the report).
 */
import type { TaskFigures } from '../../src/protocol/reportsPanel';
import { h } from '../modelEditor/dom';

const fixed = (x: number | undefined, digits: number) =>
  x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
const percent = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(1)}%`);
const signed = (x: number, digits: number, unit = '') => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}${unit}`;

/** One figure: a label and its value, with a tooltip saying what it measures. */
function figure(label: string, value: string, title: string, testid: string): HTMLElement {
  return h(
    'div',
    { class: 'task-figure', title, 'data-testid': testid },
    h('span', { class: 'task-label' }, label),
    h('span', { class: 'task-value' }, value),
  );
}

/** The figures of `task` (none for a generic model) and the synthetic-inputs badge. */
export function renderTaskFigures(
  task: TaskFigures | undefined,
  synthetic: boolean,
): HTMLElement | undefined {
  const items: HTMLElement[] = [];
  if (task?.task === 'lm' && task.pplOriginal !== undefined && task.pplCandidate !== undefined) {
    const change = (task.pplCandidate / task.pplOriginal - 1) * 100;
    items.push(
      figure(
        'Perplexity Δ',
        `${Number.isFinite(change) ? signed(change, 2, '%') : '—'} (${fixed(task.pplOriginal, 2)} → ${fixed(task.pplCandidate, 2)})`,
        'Perplexity of the candidate against the original on the evaluation tokens',
        'task-ppl',
      ),
      figure(
        'KL',
        `${fixed(task.klMean, 5)} mean, ${fixed(task.klMax, 4)} max`,
        'KL divergence of the next-token distributions, original ‖ candidate (nats)',
        'task-kl',
      ),
      figure(
        'Agreement',
        `${percent(task.top1Agreement)} of ${task.tokens ?? '?'} tokens`,
        'Positions whose most likely next token is the same in both models',
        'task-top1',
      ),
    );
  } else if (task?.task === 'classification') {
    items.push(
      figure(
        'Agreement',
        `${percent(task.top1Agreement)} of ${task.samples ?? '?'} samples`,
        'Samples whose top class is the same in both models',
        'task-top1',
      ),
    );
    if (task.accuracyOriginal !== undefined && task.accuracyCandidate !== undefined)
      items.push(
        figure(
          'Accuracy',
          `${percent(task.accuracyOriginal)} → ${percent(task.accuracyCandidate)} (${signed((task.accuracyCandidate - task.accuracyOriginal) * 100, 2, ' points')})`,
          'Accuracy on the labelled evaluation samples, original → candidate',
          'task-accuracy',
        ),
      );
  }
  const badge = synthetic
    ? h(
        'span',
        {
          class: 'status-badge synthetic',
          'data-testid': 'synthetic-inputs',
          title:
            'The verdict rests on inputs Big Shrink synthesized, not on your data: give --data (or the Data card) for real inputs',
        },
        'synthetic inputs',
      )
    : undefined;
  if (items.length === 0 && !badge) return undefined;
  return h(
    'div',
    { class: 'task-figures', 'data-testid': 'task-figures', 'data-task': task?.task ?? 'generic' },
    ...items,
    ...(badge ? [badge] : []),
  );
}
