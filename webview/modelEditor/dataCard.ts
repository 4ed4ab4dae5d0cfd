/**
 * The Data card of the overview: which data the model's commands use (the recipe MODEL.inputs.json beside
 * the model), how many samples and how they split, one sample's shape per input, a preview (thumbnails,
 * the first tokens, a waveform) and the files that could not be used. Choosing data, a tokenizer or the
 * split is asked of the host, which reads the data in the CLI child and saves the recipe.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { DataActionMessage, DataCardState } from '../../src/protocol/modelEditor';
import { h, replace } from './dom';
import { formatShape } from './format';

type Action = Omit<DataActionMessage, 'type' | 'messageId' | 'inReplyTo'>;

export class DataCardView {
  readonly element: HTMLElement;
  private state: DataCardState = { status: 'loading' };

  constructor(private readonly act: (action: Action) => void) {
    this.element = h('section', {
      class: 'card data-card',
      'data-testid': 'data-card',
      'aria-label': 'Data',
    });
    this.render();
  }

  set(state: DataCardState): void {
    this.state = state;
    this.render();
  }

  private button(label: string, testid: string, action: Action, secondary = true): HTMLElement {
    const b = h('vscode-button', { 'data-testid': testid, secondary }, label);
    b.addEventListener('click', () => this.act(action));
    return b;
  }

  private render(): void {
    const s = this.state;
    const section = s.section;
    this.element.dataset.status = s.status;
    this.element.dataset.samples = String(section ? section.calibration + section.evaluation : 0);
    const actions = h(
      'div',
      { class: 'actions' },
      this.button('Choose Folder…', 'data-choose-folder', { action: 'chooseFolder' }, false),
      this.button('Choose File…', 'data-choose-file', { action: 'chooseFile' }),
      this.button('Tokenizer…', 'data-choose-tokenizer', { action: 'chooseTokenizer' }),
      s.recipeFile && section?.source === 'files'
        ? this.button('Forget Data', 'data-clear', { action: 'clear' })
        : null,
    );
    const body: (HTMLElement | null)[] = [];
    if (s.status === 'loading') body.push(h('p', { class: 'pending' }, 'Reading the data…'));
    if (s.status === 'error')
      body.push(
        h(
          'p',
          { class: 'error', role: 'alert', 'data-testid': 'data-error' },
          s.error ?? 'The data could not be read.',
        ),
      );
    if (!section || section.source === 'synthetic') {
      if (s.status !== 'loading')
        body.push(
          h(
            'p',
            { class: 'synthetic', 'data-testid': 'data-synthetic' },
            'Synthetic inputs: no data is set, so every verdict rests on inputs synthesized from the declared types and shapes. Choose a folder or file of real inputs (images, WAV audio, text with a tokenizer, .npy, or any files as raw bytes).',
          ),
        );
    } else {
      body.push(this.facts(s), this.split(s), this.inputs(s), this.preview(s), this.skipped(s));
    }
    replace(this.element, h('h2', {}, 'Data'), ...body, actions);
  }

  private facts(s: DataCardState): HTMLElement {
    const d = s.section!;
    const rows: [string, string][] = [
      ['Data', d.paths.join(', ')],
      ['Samples', `${d.calibration + d.evaluation}`],
      ...(d.labelled ? ([['Labelled', String(d.labelled)]] as [string, string][]) : []),
      ['Recipe', s.recipeFile ?? 'not saved'],
    ];
    return h(
      'table',
      { class: 'kv' },
      h(
        'tbody',
        {},
        ...rows.map(([k, v]) =>
          h(
            'tr',
            { 'data-fact': k.toLowerCase() },
            h('th', { scope: 'row' }, k),
            h('td', { class: 'mono wrap' }, v),
          ),
        ),
      ),
    );
  }

  private split(s: DataCardState): HTMLElement {
    const d = s.section!;
    const field = (label: string, id: string, value: number) =>
      h(
        'label',
        { class: 'split-field' },
        `${label} `,
        h('input', {
          type: 'number',
          min: 0,
          step: 1,
          value,
          'data-testid': id,
          'aria-label': `${label} samples`,
        }),
      );
    const cal = field('Calibration', 'data-calibration', d.calibration);
    const ev = field('Evaluation', 'data-evaluation', d.evaluation);
    const save = h('vscode-button', { 'data-testid': 'data-save-split', secondary: true }, 'Save Split');
    save.addEventListener('click', () => {
      const read = (el: HTMLElement) =>
        Math.max(0, Math.floor(Number((el.querySelector('input') as HTMLInputElement).value) || 0));
      this.act({ action: 'setSplit', calibration: read(cal), evaluation: read(ev) });
    });
    return h(
      'div',
      { class: 'data-split', 'data-testid': 'data-split' },
      h(
        'p',
        { class: 'note' },
        'Calibration samples drive data-aware quantization, sensitivity and the shrink search; the final verdict is measured on the evaluation samples only.',
      ),
      cal,
      ev,
      save,
    );
  }

  private inputs(s: DataCardState): HTMLElement {
    const list = s.section?.inputs ?? [];
    return h(
      'table',
      { class: 'grid-table', 'data-testid': 'data-inputs' },
      h('caption', {}, 'One sample'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'Input'),
          h('th', {}, 'Type'),
          h('th', {}, 'Shape'),
          h('th', {}, 'From'),
          h('th', {}, 'Range'),
        ),
      ),
      h(
        'tbody',
        {},
        ...list.map((i) =>
          h(
            'tr',
            { 'data-name': i.name },
            h('td', { class: 'mono' }, i.name),
            h('td', {}, i.dtype),
            h('td', { class: 'mono' }, formatShape(i.dims)),
            h('td', { title: i.note ?? '' }, i.source),
            h(
              'td',
              { class: 'num' },
              i.min === undefined ? '' : `${short(i.min)} … ${short(i.max ?? i.min)}`,
            ),
          ),
        ),
      ),
    );
  }

  private preview(s: DataCardState): HTMLElement | null {
    const p = s.preview;
    if (!p) return null;
    if (p.thumbnails?.length)
      return h(
        'div',
        { class: 'data-preview thumbs', 'data-testid': 'data-preview' },
        ...p.thumbnails.map((t) =>
          h('img', { src: t.dataUrl, alt: t.path.split(/[\\/]/).pop() ?? '', title: t.path }),
        ),
      );
    if (p.tokens?.length)
      return h(
        'p',
        { class: 'data-preview tokens mono', 'data-testid': 'data-preview' },
        ...p.tokens.map((t) => h('span', { class: 'token' }, t)),
      );
    if (p.waveform?.length) {
      const w = 240;
      const ht = 48;
      const step = w / p.waveform.length;
      const d = p.waveform
        .map(([lo, hi], i) => `M${(i * step).toFixed(1)} ${((1 - hi) * ht) / 2} V${((1 - lo) * ht) / 2}`)
        .join(' ');
      const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
      svg.setAttribute('viewBox', `0 0 ${w} ${ht}`);
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', 'Waveform of the first audio file');
      const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
      path.setAttribute('d', d);
      path.setAttribute('stroke', 'currentColor');
      svg.append(path);
      return h('div', { class: 'data-preview wave', 'data-testid': 'data-preview' }, svg);
    }
    if (p.bytes?.length)
      return h(
        'p',
        { class: 'data-preview bytes mono', 'data-testid': 'data-preview' },
        p.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' '),
      );
    return null;
  }

  private skipped(s: DataCardState): HTMLElement | null {
    const list = s.section?.skipped ?? [];
    if (!list.length) return null;
    return h(
      'details',
      { class: 'data-skipped', 'data-testid': 'data-skipped' },
      h('summary', {}, `${list.length} file${list.length === 1 ? '' : 's'} could not be used`),
      h(
        'ul',
        {},
        ...list.slice(0, 50).map((k) => h('li', {}, h('span', { class: 'mono' }, k.path), `: ${k.reason}`)),
      ),
    );
  }
}

function short(x: number): string {
  return Number.isInteger(x) ? String(x) : Number(x.toPrecision(4)).toString();
}
