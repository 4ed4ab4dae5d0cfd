// Workbench steps shared by the end-to-end modules of the transforms (quantize.e2e.ts, prune.e2e.ts,
// shrink.e2e.ts): the Big Shrink side panel's frame, the model editor's frame, the Explorer's context
// menu, quick picks, toasts, screenshots. Bundled into each module (esbuild); not a module of its own.
import * as fs from 'fs';
import * as path from 'path';
import type { Frame, Locator, Page } from 'playwright-core';
import type { E2eContext } from './lib/types';
import type { PageDocument } from './pageDom';

// frame.evaluate() callbacks run inside the webview: `document` is the page's own (pageDom.ts).
declare const document: PageDocument;

/** Equal element by element (Object.is: unlike JSON.stringify, Infinity, NaN and null stay apart). */
export function sameValues(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

/** For messages: like JSON.stringify, but Infinity and NaN stay readable. */
export const show = (values: readonly unknown[]): string => `[${values.map((v) => String(v)).join(', ')}]`;

/**
 * How the rows of a table differ from the report's items, matched by name: a count that differs, an item
 * without its row, and for each pair the values `compare` gives when they differ (plus its `extra` problem).
 */
export function rowProblems<I extends { name: string }, R>(
  items: readonly I[],
  rows: readonly R[],
  rowName: (row: R) => string | undefined,
  noun: string,
  compare: (item: I, row: R) => { got: unknown[]; expected: unknown[]; extra?: string },
): string[] {
  const problems: string[] = [];
  if (rows.length !== items.length) problems.push(`${rows.length} rows for ${items.length} ${noun}`);
  for (const item of items) {
    const row = rows.find((r) => rowName(r) === item.name);
    if (!row) {
      problems.push(`${item.name} missing`);
      continue;
    }
    const { got, expected, extra } = compare(item, row);
    if (!sameValues(got, expected)) problems.push(`${item.name}: ${show(got)} vs ${show(expected)}`);
    if (extra) problems.push(`${item.name}: ${extra}`);
  }
  return problems;
}

export const PANEL = '[data-testid="reports-panel"]';

/** Whether `wait` ends in time: a check's verdict rather than a thrown timeout. */
export const succeeds = (wait: Promise<unknown>): Promise<boolean> =>
  wait.then(
    () => true,
    () => false,
  );

/**
 * A new page on the workspace in the dark theme, ready once the Explorer lists sample-mlp.onnx and the
 * command palette has `command` (the extension's contributions are registered).
 */
export async function openWorkbench(ctx: E2eContext, command: string): Promise<Page> {
  ctx.setUserSettings({ 'workbench.colorTheme': 'Default Dark Modern' });
  const page = await ctx.newPage();
  await page.goto(ctx.workbenchUrl);
  await workbenchReady(ctx, page, command);
  return page;
}

/** Wait (after a load or a reload) until the Explorer lists sample-mlp.onnx and the palette has `command`. */
export async function workbenchReady(ctx: E2eContext, page: Page, command: string): Promise<void> {
  await ctx.web.explorerItem(page, 'sample-mlp.onnx').waitFor({ timeout: 60000 });
  await ctx.web.waitForCommand(page, command);
}

/** What a transform writes for output `name` in the workspace (the CLI's naming): the model and both reports. */
export function transformFiles(
  ctx: E2eContext,
  name: string,
): { out: string; reportJson: string; reportMd: string } {
  const out = path.join(ctx.workspace, name);
  const stem = out.replace(/\.onnx$/, '');
  return { out, reportJson: `${stem}.report.json`, reportMd: `${stem}.report.md` };
}

export async function waitForFiles(files: string[], timeoutMs = 60000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (files.every((f) => fs.existsSync(f))) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Keys pressed while a webview has the focus may not reach the workbench: focus the side bar's title first. */
export async function focusWorkbench(page: Page): Promise<void> {
  await page.locator('.part.sidebar .composite.title').first().click();
}

/** The side panel's frame once it shows report `file` (or any report when `file` is undefined). */
export async function panelFrame(
  ctx: E2eContext,
  page: Page,
  file?: string,
  timeoutMs = 30000,
): Promise<Frame> {
  let frame: Frame;
  try {
    frame = await ctx.web.findWebviewFrame(page, PANEL, timeoutMs / 2);
  } catch {
    // code-server now and then leaves a re-shown webview view blank (its iframe never loads). Re-opening
    // the view container re-creates it; say so in the log, so a recurring blank panel stays visible.
    console.log('[e2e] the reports panel webview did not load; re-opening the Big Shrink view');
    await openExplorer(page);
    await openPanelFromActivityBar(page);
    frame = await ctx.web.findWebviewFrame(page, PANEL, timeoutMs / 2);
  }
  await frame.waitForFunction(
    (f) => {
      const s = document.querySelector('[data-testid="summary"]');
      return !!s && (f === null || s.dataset.report === f);
    },
    file ?? null,
    { timeout: timeoutMs },
  );
  return frame;
}

/** The model editor frame showing `fileName` (webviews are nested iframes); polled often, as timings read it. */
export async function editorFrame(page: Page, fileName: string, timeoutMs = 30000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const f of page.frames()) {
      if (!f.url().includes('/webview/')) continue;
      const shown = await Promise.race([
        f
          .evaluate(() => document.querySelector('[data-testid="file-name"]')?.textContent ?? null)
          .catch(() => null),
        new Promise<null>((r) => setTimeout(() => r(null), 500)),
      ]);
      if (shown === fileName) return f;
    }
    await page.waitForTimeout(25);
  }
  throw new Error(`no model editor webview shows ${fileName} after ${timeoutMs} ms`);
}

/**
 * Right-click `name` in the Explorer and choose `label`. Menus fade in and a click during the fade is
 * lost: wait, click, and try again while the menu stays open.
 */
export async function contextCommand(
  ctx: E2eContext,
  page: Page,
  name: string,
  label: string,
  shot?: string,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await openExplorer(page);
    await ctx.web.explorerItem(page, name).click({ button: 'right' });
    const item = page.locator('.context-view .monaco-menu .action-item', { hasText: label }).first();
    await item.waitFor({ timeout: 10000 });
    await page.waitForTimeout(400);
    if (shot) await page.screenshot({ path: path.join(ctx.resultsDir, shot) });
    await item.click();
    const closed = await succeeds(
      page.locator('.context-view .monaco-menu').waitFor({ state: 'hidden', timeout: 3000 }),
    );
    if (closed) return;
    await page.keyboard.press('Escape');
    if (attempt >= 3) throw new Error(`the context menu of ${name} did not run "${label}"`);
  }
}

/** Close the notification toasts (they would cover the screenshots). */
export async function clearToasts(page: Page): Promise<void> {
  const toasts = page.locator('.notifications-toasts .notification-toast');
  for (let i = (await toasts.count()) - 1; i >= 0; i--) {
    const toast = toasts.nth(i);
    await toast.hover().catch(() => undefined);
    await toast
      .locator('.codicon-notifications-clear')
      .first()
      .click({ timeout: 2000 })
      .catch(() => undefined);
  }
}

export async function screenshot(ctx: E2eContext, page: Page, name: string): Promise<void> {
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(ctx.resultsDir, `${name}.png`) });
}

/** Click the Big Shrink icon in the activity bar (opens the container; a click on the open one would close it). */
export async function openPanelFromActivityBar(page: Page): Promise<void> {
  const item = page.locator('.activitybar .action-item a[aria-label^="Big Shrink"]').first();
  await item.waitFor({ timeout: 15000 });
  const checked = await page
    .locator('.activitybar .action-item.checked a[aria-label^="Big Shrink"]')
    .count()
    .catch(() => 0);
  if (!checked) await item.click();
}

export async function openExplorer(page: Page): Promise<void> {
  const item = page.locator('.activitybar .action-item a[aria-label^="Explorer"]').first();
  const checked = page.locator('.activitybar .action-item.checked a[aria-label^="Explorer"]');
  // A transform's reveal of the Big Shrink view can take the side bar back right after the click: retry.
  for (let attempt = 1; ; attempt++) {
    if (!(await checked.count())) await item.click();
    if (await succeeds(checked.first().waitFor({ timeout: 5000 }))) return;
    if (attempt >= 3) throw new Error('the Explorer did not open (3 clicks on its activity bar item)');
  }
}

/**
 * Click `name` in the Explorer. A transform that just finished reveals the Big Shrink view a moment later,
 * which can take the side bar between opening the Explorer and the click: open it again and retry.
 */
export async function clickExplorerItem(ctx: E2eContext, page: Page, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await openExplorer(page);
    if (await succeeds(ctx.web.explorerItem(page, name).click({ timeout: 5000 }))) return;
    if (attempt >= 3) throw new Error(`${name} could not be clicked in the Explorer`);
  }
}

/** The quick pick's rows (aria labels) and the focused one. */
export async function quickPickRows(page: Page): Promise<{ rows: string[]; focused: string }> {
  const list = page.locator('.quick-input-widget .quick-input-list');
  const rows = await list
    .locator('.monaco-list-row')
    .evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
  const focused = (await list.locator('.monaco-list-row.focused').first().getAttribute('aria-label')) ?? '';
  return { rows, focused };
}

/**
 * Wait for the quick pick and check that its rows start with `order`, in that order, the first one the
 * active (default) item. `offered` and `active` name the two checks.
 */
export async function checkPickOrder(
  ctx: E2eContext,
  page: Page,
  order: string[],
  offered: string,
  active: string,
): Promise<void> {
  await pickRow(page, order[0]).waitFor({ timeout: 15000 });
  // Read the rows once the list has had a moment to fill and focus its default.
  await page.waitForTimeout(300);
  const pick = await quickPickRows(page);
  ctx.check(
    offered,
    pick.rows.length === order.length && order.every((o, i) => pick.rows[i].startsWith(o)),
    pick.rows.join(' | '),
  );
  ctx.check(active, pick.focused.startsWith(order[0]), pick.focused);
}

/** The quick pick's first row that contains `text`. */
export function pickRow(page: Page, text: string): Locator {
  return page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: text }).first();
}

/** Click the quick pick's row that contains `text`. */
export async function choose(page: Page, text: string): Promise<void> {
  const row = pickRow(page, text);
  await row.waitFor({ timeout: 15000 });
  await page.waitForTimeout(200);
  await row.click();
}

/** The model editor of `fileName` and whether its detail shows `name` (a row of the panel revealed it). */
export async function revealedInEditor(
  page: Page,
  fileName: string,
  name: string,
): Promise<{ editor: Frame; revealed: boolean }> {
  const editor = await editorFrame(page, fileName, 60000);
  const revealed = await succeeds(
    editor.waitForFunction(
      (n) => document.querySelector('[data-testid="detail"]')?.dataset.tensorName === n,
      name,
      { timeout: 30000 },
    ),
  );
  return { editor, revealed };
}

/** The modal "Overwrite?" dialog, when it appears within 15 s. */
export async function overwriteDialog(page: Page): Promise<Locator | undefined> {
  const dialog = page.locator('.monaco-dialog-box', { hasText: 'Overwrite?' });
  return (await succeeds(dialog.waitFor({ timeout: 15000 }))) ? dialog : undefined;
}

/**
 * Open `fileName` (Quick Open) in the model editor and return its title bar's action `label`, when it shows
 * within 30 s.
 */
export async function editorTitleAction(
  ctx: E2eContext,
  page: Page,
  fileName: string,
  label: string,
): Promise<Locator | undefined> {
  await openExplorer(page);
  await focusWorkbench(page);
  await ctx.web.quickOpen(page, fileName);
  const action = page.locator(`.part.editor .editor-actions .action-label[aria-label^="${label}"]`).first();
  return (await succeeds(action.waitFor({ timeout: 30000 }))) ? action : undefined;
}
