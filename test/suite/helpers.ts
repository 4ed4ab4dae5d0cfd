// Shared helpers of the extension-host suites (bundled into each *.test.js).
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RenderedMessage } from '../../src/protocol/reportsPanel';

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

/** What the transform commands return (src/extension/shrinkCommands.ts ShrinkOutcome). */
export interface TransformOutcome {
  status: 'done' | 'failed' | 'cancelled' | 'skipped';
  model?: string;
  output?: string;
  reportJson?: string;
  error?: { file: string; reason: string };
  removed?: string[];
}

export async function activate(): Promise<vscode.Extension<unknown>> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not loaded`);
  await ext.activate();
  return ext;
}

/** The project's test models: test/models of the extension under test (this checkout). */
export function testModels(): string {
  const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
  return path.join(ext.extensionPath, 'test', 'models');
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
  fs.mkdirSync(suiteTempRoot(), { recursive: true });
  return fs.mkdtempSync(path.join(suiteTempRoot(), prefix));
}

/**
 * The one folder every temporary folder of the suite lives in (named after the extension host's pid, so
 * each test bundle finds the same one); index.ts removes it when the run ends, passed or failed.
 */
export function suiteTempRoot(): string {
  return path.join(os.tmpdir(), `big-shrink-suite-${process.pid}`);
}

/** A fresh folder `prefix…` holding a copy of test model `name` (tiny BERT) as `as`. */
export function copyTestModel(
  prefix: string,
  name = 'tiny_bert_random_inline.onnx',
  as = 'bert.onnx',
): { dir: string; model: string } {
  const dir = tempDir(prefix);
  const model = path.join(dir, as);
  fs.copyFileSync(path.join(testModels(), name), model);
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

/** The extension's package.json `contributes`, typed as the parts a suite reads. */
export function contributes<T>(): T {
  const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
  return (ext.packageJSON as { contributes: T }).contributes;
}

/**
 * `command` is registered and contributed with `title` and an icon: on .onnx files in the Explorer, once in
 * the model editor's title bar (navigation group), and in the palette everywhere (no `when` hides it).
 */
export async function assertTransformCommand(command: string, title: string): Promise<void> {
  const c = contributes<{
    commands: { command: string; title: string; icon?: string }[];
    menus: Record<string, { command: string; when?: string; group?: string }[]>;
  }>();
  assert.ok((await vscode.commands.getCommands(true)).includes(command), `${command} is registered`);
  const contributed = c.commands.find((x) => x.command === command);
  assert.strictEqual(contributed?.title, title);
  assert.ok(contributed?.icon, 'an icon for the editor title bar');
  const where = (menu: string) => (c.menus[menu] ?? []).filter((m) => m.command === command);
  assert.deepStrictEqual(
    where('explorer/context').map((m) => m.when),
    ['resourceExtname == .onnx'],
  );
  const editorTitle = where('editor/title');
  assert.strictEqual(editorTitle.length, 1);
  assert.strictEqual(editorTitle[0].when, 'activeCustomEditorId == bigShrink.modelEditor');
  assert.match(editorTitle[0].group ?? '', /^navigation/);
  assert.strictEqual(where('commandPalette').length, 0, 'no `when` hides it from the palette');
}

/** The files of `dir`, sorted. */
export function listing(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** What `bigShrink._test.reportsState` returns: the side panel's channel, what it drew, its report `current`. */
export interface ReportsState<Current> {
  visible: boolean;
  posted: string[];
  received: string[];
  rendered?: RenderedMessage;
  current?: Current;
  history: string[];
}

/** The side panel's state, with its current report typed as the parts a suite reads. */
export function reportsState<Current>(): Thenable<ReportsState<Current>> {
  return vscode.commands.executeCommand<ReportsState<Current>>('bigShrink._test.reportsState');
}

/** Run the extension's Node script `script` (e.g. `dist/cli.js`) with `args`, on VS Code's own Node. */
export function runExtensionScript(script: string, args: string[], okCodes: readonly number[] = [0]): void {
  const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
  const r = spawnSync(process.execPath, [path.join(ext.extensionPath, script), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
  if (r.status === null || !okCodes.includes(r.status))
    throw new Error(`${script} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
}

/** `file`: a generated model of about `megabytes` of MatMul/Gemm weights (scripts/make-sample-model.js). */
export function makeSampleModel(file: string, megabytes: number): string {
  runExtensionScript('scripts/make-sample-model.js', [file, '--megabytes', String(megabytes)]);
  return file;
}

const shrinkState = () =>
  vscode.commands.executeCommand<{ running: string[] }>('bigShrink._test.shrinkState');

/**
 * Start a transform on `model` (`start`), cancel it through `bigShrink._test.cancelShrink` after `afterMs`
 * or once the new files of its folder satisfy `once` (within `withinMs`), then check that it ended
 * cancelled, nothing is running and the folder is as it was.
 */
export async function assertCancelLeavesNothing(
  model: string,
  start: () => Thenable<TransformOutcome>,
  at: { afterMs: number } | { once: (added: string[]) => boolean; withinMs: number },
): Promise<void> {
  const dir = path.dirname(model);
  const was = listing(dir);
  const running = start();
  await waitFor('the run to start', shrinkState, (s) => s.running.length > 0, 10000);
  let seen: string[] = [];
  if ('afterMs' in at) {
    await new Promise((r) => setTimeout(r, at.afterMs));
  } else {
    const t0 = Date.now();
    while (Date.now() - t0 < at.withinMs) {
      seen = listing(dir).filter((f) => !was.includes(f));
      if (at.once(seen)) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(at.once(seen), `the run wrote ${seen.join(', ') || 'nothing'}`);
  }
  const cancelled = await vscode.commands.executeCommand<number>('bigShrink._test.cancelShrink');
  assert.strictEqual(cancelled, 1);
  const outcome = await running;
  assert.strictEqual(outcome.status, 'cancelled');
  assert.deepStrictEqual(listing(dir), was, `left behind (seen before the cancel: ${seen.join(', ')})`);
  assert.deepStrictEqual((await shrinkState()).running, []);
}
