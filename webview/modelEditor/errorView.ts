import type { EditorCommand, EditorError } from '../../src/protocol/modelEditor';
import { h, replace } from './dom';

/** The view for a file that is not a readable model: which file, why, and what the user can do. */
export function renderErrorView(
  container: HTMLElement,
  e: EditorError,
  run: (command: EditorCommand) => void,
): void {
  const row = (label: string, testId: string, className: string, text: string) =>
    h('tr', {}, h('th', { scope: 'row' }, label), h('td', { class: className, 'data-testid': testId }, text));
  replace(
    container,
    h('h2', {}, 'This file cannot be shown as an ONNX model'),
    h(
      'table',
      { class: 'kv' },
      h(
        'tbody',
        {},
        row('File', 'error-file', 'mono wrap', e.file),
        row('Reason', 'error-reason', 'wrap', e.reason),
      ),
    ),
    h(
      'div',
      { class: 'actions' },
      h('vscode-button', { onclick: () => run('reopenWithText') }, 'Open in Text Editor'),
      h('vscode-button', { secondary: true, onclick: () => run('refresh') }, 'Try Again'),
    ),
  );
}
