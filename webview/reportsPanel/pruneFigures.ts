/**
 * What a prune report adds to the summary: the sparsity of the pruned weights before → after, and the
 * size figures stated honestly — the compressed file (a dense pruned model keeps its size on disk), the
 * pruned weights as dense and as sparse tensors, and the runtime memory (ONNX Runtime densifies sparse
 * initializers at load, so it does not shrink).
 */
import type { PruneFigures } from '../../src/protocol/reportsPanel';
import { h } from '../modelEditor/dom';
import { formatBytes, formatCount, formatPercent } from '../modelEditor/format';

/** One row of the size table: before and after (undefined: not applicable). */
interface Figure {
  id: 'gzip' | 'dense' | 'sparse' | 'int4' | 'runtime';
  label: string;
  title: string;
  before?: number;
  after: number;
}

function figures(p: PruneFigures): Figure[] {
  const z = p.sizes;
  if (!z) return [];
  return [
    {
      id: 'gzip',
      label: 'gzip -6',
      title:
        'The model files compressed with gzip -6: the zeros compress even when the file keeps its size' +
        (z.gzipSampledFraction !== undefined
          ? ` (estimated: evenly spaced blocks, ${formatPercent(z.gzipSampledFraction)} of the bytes of files over 64 MiB)`
          : ''),
      before: z.inputGzipBytes,
      after: z.outputGzipBytes,
    },
    {
      id: 'dense',
      label: 'Weights, dense',
      title: 'The pruned weights stored as dense tensors (zeros included)',
      before: z.prunedDenseBytes,
      after: z.prunedDenseBytes,
    },
    {
      id: 'sparse',
      label: 'Weights, sparse',
      title: 'The pruned weights as sparse tensors: the kept values plus one int64 index each',
      after: z.prunedSparseBytes,
    },
    ...(z.quantizedBytes !== undefined
      ? [
          {
            id: 'int4' as const,
            label: 'Weights, 4-bit',
            title:
              'The pruned MatMul/Gemm weights quantized to MatMulNBits: codes + scales + zero points, on disk and in memory',
            before: z.quantizedDenseBytes,
            after: z.quantizedBytes,
          },
        ]
      : []),
    {
      id: 'runtime',
      label: 'Runtime',
      title:
        'Weights and constants once ONNX Runtime loaded the model: it densifies sparse initializers, so pruning does not shrink this',
      before: z.runtimeBytesBefore,
      after: z.runtimeBytesAfter,
    },
  ];
}

const bytesCell = (n: number | undefined, strong = false) =>
  h(
    'td',
    {
      class: `num${strong ? ' written' : ''}`,
      title: n === undefined ? undefined : `${formatCount(n)} bytes`,
    },
    n === undefined ? '—' : formatBytes(n),
  );

/** How the pruned weights were written, for the note under the table. */
function written(p: PruneFigures): 'dense' | 'sparse' | 'int4' | 'mixed' | undefined {
  const z = p.sizes;
  if (!z) return undefined;
  if (z.quantizedBytes !== undefined) return 'int4';
  if (z.prunedStoredBytes === z.prunedDenseBytes) return 'dense';
  if (z.prunedStoredBytes === z.prunedSparseBytes) return 'sparse';
  return 'mixed';
}

/** The sparsity line and the size table of a prune report; the ids of the figures drawn. */
export function renderPruneFigures(p: PruneFigures): { element: HTMLElement; drawn: string[] } {
  const rows = figures(p);
  const form = written(p);
  const sparsity = h(
    'div',
    {
      class: 'sparsity-line',
      'data-testid': 'sparsity',
      'data-before': p.sparsityBefore,
      'data-after': p.sparsityAfter,
      'data-target': p.target,
      title: [
        `Zeros among the ${formatCount(p.weights)} elements of the pruned weights`,
        p.threshold !== undefined ? `Global threshold |w| ≤ ${p.threshold.toPrecision(4)}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    },
    h('span', { class: 'muted' }, 'Sparsity '),
    formatPercent(p.sparsityBefore),
    h('span', { class: 'arrow', 'aria-label': 'to' }, ' → '),
    h('strong', {}, formatPercent(p.sparsityAfter)),
    h(
      'span',
      { class: 'muted' },
      ` of ${formatCount(p.weights)} weights${p.target !== undefined ? ` · target ${formatPercent(p.target)}` : ''}`,
    ),
  );
  const element = h('div', { class: 'prune-figures' }, sparsity);
  if (rows.length) {
    element.append(
      h(
        'table',
        { class: 'figures', 'data-testid': 'size-figures', 'aria-label': 'Size of the pruned model' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Size'),
            h('th', { scope: 'col', class: 'num' }, 'Before'),
            h('th', { scope: 'col', class: 'num' }, 'After'),
          ),
        ),
        h(
          'tbody',
          {},
          ...rows.map((f) =>
            h(
              'tr',
              { 'data-figure': f.id, 'data-before': f.before, 'data-after': f.after },
              h('td', { class: 'ellipsis', title: f.title }, f.label),
              bytesCell(f.before),
              bytesCell(f.after, f.id === form),
            ),
          ),
        ),
      ),
      h(
        'div',
        { class: 'figures-note muted' },
        form === 'sparse'
          ? 'Written as sparse initializers.'
          : form === 'int4'
            ? 'Pruned, then the MatMul/Gemm weights written as 4-bit MatMulNBits (other weights dense).'
            : form === 'mixed'
              ? 'Written sparse where that is smaller, dense elsewhere.'
              : 'Written dense: same file size, smaller compressed.',
      ),
    );
  }
  return { element, drawn: rows.map((f) => f.id) };
}
