// Shared helpers of the extension-host suites (bundled into each *.test.js).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';

export const EXTENSION_ID = 'big-shrink.big-shrink';
export const VIEW_TYPE = 'bigShrink.modelEditor';

/** What `bigShrink._test.lastState` returns (test-only command of src/extension/commands.ts). */
export interface LastState {
  fileName: string;
  status: 'indexing' | 'computing' | 'done' | 'error' | 'cancelled';
  error?: { file: string; reason: string };
  tensors?: number;
  nodeCount?: number;
  statsCount: number;
  rowErrors: string[];
  timings: { indexMs?: number; statsMs?: number };
  selection?: { id: number; name: string };
  posted: string[];
  received: string[];
  rendered: { view: string; rows: number }[];
}

export async function activate(): Promise<vscode.Extension<unknown>> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not loaded`);
  await ext.activate();
  return ext;
}

/** ../shared/models, or $BIG_SHRINK_SHARED/models. */
export function sharedModels(): string {
  const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
  const shared = process.env.BIG_SHRINK_SHARED || path.resolve(ext.extensionPath, '../shared');
  return path.join(shared, 'models');
}

export function lastState(uri: vscode.Uri): Thenable<LastState | undefined> {
  return vscode.commands.executeCommand<LastState | undefined>('bigShrink._test.lastState', uri);
}

/** Poll `probe` until `ok` holds; fail with the last value after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Thenable<T> | Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 30000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Open `file` in the model editor and wait until the analysis settled and the webview drew it. */
export async function openModel(
  file: string,
  timeoutMs = 60000,
): Promise<{ uri: vscode.Uri; state: LastState }> {
  const uri = vscode.Uri.file(file);
  await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
  const state = await waitFor(
    `${path.basename(file)} to settle and render`,
    () => lastState(uri),
    (s) =>
      !!s &&
      (s.status === 'error'
        ? s.rendered.some((r) => r.view === 'error')
        : s.status === 'done' && s.rendered.some((r) => r.view === 'rows' && r.rows === s.statsCount)),
    timeoutMs,
  );
  return { uri, state: state! };
}

export async function closeAll(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A fresh folder `prefix…` holding a copy of shared model `name` (tiny BERT) as `as`. */
export function copySharedModel(
  prefix: string,
  name = 'tiny_bert_random_inline.onnx',
  as = 'bert.onnx',
): { dir: string; model: string } {
  const dir = tempDir(prefix);
  const model = path.join(dir, as);
  fs.copyFileSync(path.join(sharedModels(), name), model);
  return { dir, model };
}

/** Accept the active item of the quick pick, `steps` times (one per step of the flow). */
export async function acceptQuickPick(steps = 1): Promise<void> {
  for (let i = 0; i < steps; i++) {
    // The pick opens asynchronously (after the CLI probe); accepting too early would hit nothing.
    await new Promise((r) => setTimeout(r, 1200));
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
  }
}
