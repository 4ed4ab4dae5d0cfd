// End-to-end test of the transforms and the Big Shrink side panel in a real VS Code (code-server) and
// Chromium, run by test/e2e/lib/run-e2e.js (see test/e2e/CONTRACT.md):
//   - Explorer right-click on sample-mlp.onnx -> "Quantize to 4-bit": the model and both reports appear,
//     the side panel opens by itself; opened again from the activity bar, its summary, tensor rows and
//     node rows (read inside its webview) equal the report JSON; sorting by SQNR; a row reveals its
//     tensor in the model editor;
//   - the same again asks "Overwrite?" (modal) and, cancelled, changes nothing;
//   - "Quantize…" quick pick (8-bit on tiny BERT) adds a second report to the history;
//   - Cancel on the progress notification of a ~200 MB model leaves no file behind;
//   - screenshots in dark, light and high-contrast themes under test-results/e2e/quantize/.
import * as fs from 'fs';
import * as path from 'path';
import type { Frame } from 'playwright-core';
import type { E2eContext } from './lib/types';
import type { PageDocument } from './pageDom';
import {
  clearToasts,
  contextCommand,
  focusWorkbench,
  clickExplorerItem,
  openExplorer,
  openPanelFromActivityBar,
  openWorkbench,
  overwriteDialog,
  PANEL,
  panelFrame,
  revealedInEditor,
  rowProblems,
  screenshot,
  succeeds,
  transformFiles,
  waitForFiles,
} from './workbenchSteps';

interface Report {
  input: { files: { path: string; bytes: number }[] };
  summary: {
    bytesBefore: number;
    bytesAfter: number;
    ratio: number;
    status: string;
    tensors: number;
    nodes: number;
  };
  tensors: {
    name: string;
    op: string;
    beforeDtype: string;
    afterDtype: string;
    beforeBytes: number;
    afterBytes: number;
    weightSqnrDb: number | null;
  }[];
  nodes: { node: string; from: string; to: string; weight: string }[];
}

// frame.evaluate() callbacks run inside the webview: `document` is the page's own (pageDom.ts).
declare const document: PageDocument;

/** One tensor row as the panel shows it (from its data-* attributes). */
interface ShownTensor {
  name: string;
  op: string;
  beforeDtype: string;
  afterDtype: string;
  beforeBytes: number;
  afterBytes: number;
  sqnr: number;
}

function shownTensors(frame: Frame): Promise<ShownTensor[]> {
  return frame.evaluate(() =>
    [...document.querySelectorAll('[data-testid="tensor-table"] tbody tr')].map((r) => ({
      name: r.dataset.tensorName ?? '',
      op: r.dataset.op ?? '',
      beforeDtype: r.dataset.beforeDtype ?? '',
      afterDtype: r.dataset.afterDtype ?? '',
      beforeBytes: Number(r.dataset.beforeBytes),
      afterBytes: Number(r.dataset.afterBytes),
      sqnr: Number(r.dataset.sqnr),
    })),
  );
}

/** The panel's summary and rows against the report JSON. */
async function checkPanel(
  ctx: E2eContext,
  frame: Frame,
  reportFile: string,
  what: string,
): Promise<ShownTensor[]> {
  const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as Report;
  const summary = await frame.evaluate(() => {
    const value = (id: string) => document.querySelector(`[data-testid="${id}"]`)?.dataset.value;
    return {
      before: Number(value('size-before')),
      after: Number(value('size-after')),
      ratio: Number(value('ratio')),
      status: document.querySelector('[data-testid="fidelity"]')?.dataset.status,
      badge: document.querySelector('[data-testid="fidelity-badge"]')?.textContent,
      output: document.querySelector('[data-testid="output-name"]')?.textContent,
      nodes: [...document.querySelectorAll('[data-testid="node-table"] tbody tr')].map((r) => ({
        node: r.dataset.node,
        from: r.dataset.from,
        to: r.dataset.to,
        weight: r.dataset.weight,
      })),
    };
  });
  const s = report.summary;
  ctx.check(
    `${what}: summary size before → after and ratio equal the report`,
    summary.before === s.bytesBefore &&
      summary.after === s.bytesAfter &&
      Math.abs(summary.ratio - s.ratio) < 1e-12,
    JSON.stringify({ shown: summary, report: s }),
  );
  ctx.check(
    `${what}: fidelity badge is the report's status (${s.status})`,
    summary.status === s.status && (summary.badge ?? '').toLowerCase().startsWith(s.status.slice(0, 3)),
    `${summary.status} / ${summary.badge}`,
  );
  ctx.check(
    `${what}: the summary names the output`,
    summary.output === path.basename(reportFile).replace(/\.report\.json$/, '.onnx'),
    `${summary.output}`,
  );
  const rows = await shownTensors(frame);
  const problems = rowProblems(
    report.tensors,
    rows,
    (r) => r.name,
    'tensors',
    (t, r) => ({
      // A weight left unchanged has SQNR null in the JSON (infinite).
      expected: [t.op, t.beforeDtype, t.afterDtype, t.beforeBytes, t.afterBytes, t.weightSqnrDb ?? Infinity],
      got: [r.op, r.beforeDtype, r.afterDtype, r.beforeBytes, r.afterBytes, r.sqnr],
    }),
  );
  ctx.check(
    `${what}: ${rows.length} tensor rows in the panel equal the report (op, dtypes, bytes, SQNR)`,
    problems.length === 0,
    problems.slice(0, 4).join('; '),
  );
  ctx.check(
    `${what}: node rows equal the report`,
    JSON.stringify(summary.nodes) ===
      JSON.stringify(report.nodes.map((n) => ({ node: n.node, from: n.from, to: n.to, weight: n.weight }))),
    `${summary.nodes.length} rows, ${report.nodes.length} nodes`,
  );
  return rows;
}

export async function run(ctx: E2eContext): Promise<void> {
  const page = await openWorkbench(ctx, 'Big Shrink: Quantize to 4-bit');
  ctx.log('workbench ready, extension contributions registered');

  // The panel before any transform: it says how to start.
  await openPanelFromActivityBar(page);
  const emptyFrame = await ctx.web.findWebviewFrame(page, `${PANEL} [data-testid="empty"]:not([hidden])`);
  const emptyText = (await emptyFrame.textContent('[data-testid="empty"]')) ?? '';
  ctx.check(
    'before any transform the panel says how to start',
    /Quantize to 4-bit/.test(emptyText),
    emptyText,
  );
  await screenshot(ctx, page, 'panel-empty-dark');
  await openExplorer(page);

  // ---- right-click -> Quantize to 4-bit ----
  const sample = path.join(ctx.workspace, 'sample-mlp.onnx');
  const { out, reportJson, reportMd } = transformFiles(ctx, 'sample-mlp.int4.onnx');
  const t0 = Date.now();
  await contextCommand(ctx, page, 'sample-mlp.onnx', 'Quantize to 4-bit', 'explorer-menu-dark.png');
  const written = await waitForFiles([out, reportJson, reportMd]);
  ctx.check('Quantize to 4-bit writes sample-mlp.int4.onnx and both reports', written);
  ctx.metric('quantize sample-mlp (right-click -> files written)', Date.now() - t0, 'ms');
  if (!written) return;
  const input = (JSON.parse(fs.readFileSync(reportJson, 'utf8')) as Report).input.files[0]?.path;
  ctx.check('the report names sample-mlp.onnx as its input', input === sample, `${input}`);

  // The panel opens by itself with the new report.
  let frame = await panelFrame(ctx, page, reportJson);
  ctx.check('the side panel opens by itself with the new report', true);
  await screenshot(ctx, page, 'panel-after-quantize-dark');
  await clearToasts(page);

  // Away to the Explorer and back through the activity bar: the panel is drawn again from the host's state.
  await openExplorer(page);
  await page.waitForTimeout(500);
  await openPanelFromActivityBar(page);
  frame = await panelFrame(ctx, page, reportJson);
  const rows = await checkPanel(ctx, frame, reportJson, 'sample-mlp.int4');

  // Sort by SQNR (descending first), then back to the report order.
  await frame.click('[data-testid="tensor-table"] th[data-col="sqnr"] button');
  const sorted = await shownTensors(frame);
  const sqnrs = sorted.map((r) => r.sqnr);
  ctx.check(
    'clicking SQNR sorts the rows by SQNR, highest first',
    sqnrs.every((v, i) => i === 0 || sqnrs[i - 1] >= v) && sorted.length === rows.length,
    sqnrs.join(', '),
  );
  const ariaSort = await frame.getAttribute('[data-testid="tensor-table"] th[data-col="sqnr"]', 'aria-sort');
  ctx.check('the sorted header says aria-sort="descending"', ariaSort === 'descending', `${ariaSort}`);
  await screenshot(ctx, page, 'panel-sorted-dark');

  // Narrow side bar: nothing runs off to the right (tables scroll inside their own box); the summary says
  // what stayed float.
  const layout = await frame.evaluate(() => {
    const root = document.querySelector('html')!;
    return {
      overflow: root.scrollWidth - root.clientWidth,
      stayed: document.querySelector('[data-testid="stayed-float"]')?.textContent ?? '',
    };
  });
  ctx.check(
    'the panel does not overflow the side bar sideways',
    layout.overflow <= 1,
    `${layout.overflow} px`,
  );
  ctx.check('the summary says which weights stayed float', /stayed float/.test(layout.stayed), layout.stayed);

  // Open in Editor: the same panel in an editor tab, with room; then closed again.
  await frame.click('[data-testid="open-in-editor"]');
  const wide = await ctx.web
    .findWebviewFrame(page, '#app.in-editor [data-testid="summary"]', 20000)
    .catch(() => undefined);
  const wideReport = await wide
    ?.evaluate(() => document.querySelector('[data-testid="summary"]')?.dataset.report)
    .catch(() => undefined);
  ctx.check(
    'Open in Editor shows the same report in an editor tab',
    wideReport === reportJson,
    `${wideReport}`,
  );
  await page.waitForTimeout(500);
  await screenshot(ctx, page, 'panel-in-editor-dark');
  await ctx.web.runCommand(page, 'View: Close Editor');
  await page.waitForTimeout(300);

  // A row reveals its tensor in the model editor.
  const target = 'fc2.weight';
  await frame.click(`[data-testid="tensor-table"] tr[data-tensor-name="${target}"]`);
  const { editor, revealed } = await revealedInEditor(page, 'sample-mlp.onnx', target);
  ctx.check(
    `a click on ${target} opens sample-mlp.onnx in the model editor with ${target} selected`,
    revealed,
  );
  const selectedRow = await editor
    .evaluate(
      () => document.querySelector('[data-testid="layers-table"] [aria-selected="true"]')?.dataset.tensorName,
    )
    .catch(() => undefined);
  ctx.check(`the layers table shows ${target} selected`, selectedRow === target, `${selectedRow}`);
  await screenshot(ctx, page, 'panel-and-editor-dark');

  // ---- the same again: "Overwrite?" (modal); Cancel changes nothing ----
  await openExplorer(page);
  const stampBefore = fs.statSync(out).mtimeMs;
  await contextCommand(ctx, page, 'sample-mlp.onnx', 'Quantize to 4-bit');
  const dialog = await overwriteDialog(page);
  ctx.check('quantizing again asks "Overwrite?" in a modal dialog', !!dialog);
  if (dialog) {
    await screenshot(ctx, page, 'overwrite-dialog-dark');
    await dialog.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
    await page.waitForTimeout(1500);
    ctx.check('Cancel in the dialog leaves the output untouched', fs.statSync(out).mtimeMs === stampBefore);
    // Again, and Overwrite: the CLI runs with --force and replaces the model and both reports.
    const reportStamp = fs.statSync(reportJson).mtimeMs;
    await contextCommand(ctx, page, 'sample-mlp.onnx', 'Quantize to 4-bit');
    await dialog.waitFor({ timeout: 15000 });
    await dialog.locator('.monaco-button', { hasText: 'Overwrite' }).first().click();
    const deadline = Date.now() + 60000;
    let replaced = false;
    while (!replaced && Date.now() < deadline) {
      await page.waitForTimeout(200);
      replaced =
        fs.statSync(out).mtimeMs !== stampBefore &&
        fs.existsSync(reportJson) &&
        fs.statSync(reportJson).mtimeMs !== reportStamp &&
        fs.existsSync(reportMd);
    }
    ctx.check('Overwrite in the dialog replaces the model and its reports', replaced);
  }

  // ---- Quantize… quick pick: 8-bit on tiny BERT ----
  const bert = 'tiny_bert_random_inline.onnx';
  await clickExplorerItem(ctx, page, 'models');
  await ctx.web.explorerItem(page, bert).waitFor({ timeout: 15000 });
  await contextCommand(ctx, page, bert, 'Quantize…');
  const picker = page.locator('.quick-input-widget');
  await picker
    .locator('.quick-input-list .monaco-list-row', { hasText: '8-bit MatMulNBits' })
    .first()
    .waitFor();
  await screenshot(ctx, page, 'quantize-quick-pick-dark');
  await picker
    .locator('.quick-input-list .monaco-list-row', { hasText: '8-bit MatMulNBits' })
    .first()
    .click();
  await picker.locator('.quick-input-list .monaco-list-row', { hasText: '128' }).first().waitFor();
  await picker.locator('.quick-input-list .monaco-list-row', { hasText: '128' }).first().click();
  const bertReport = path.join(ctx.workspace, 'models', 'tiny_bert_random_inline.int8.report.json');
  const ok = await waitForFiles([bertReport, bertReport.replace('.report.json', '.onnx')]);
  ctx.check('Quantize… -> 8-bit MatMulNBits, block 128 writes tiny_bert_random_inline.int8.onnx', ok);
  if (ok) {
    const options = (JSON.parse(fs.readFileSync(bertReport, 'utf8')) as { options: Record<string, unknown> })
      .options;
    ctx.check(
      'the report says 8 bits, block 128',
      options.bits === 8 && options.blockSize === 128,
      JSON.stringify(options),
    );
    frame = await panelFrame(ctx, page, bertReport);
    // The panel was hidden behind the Explorer meanwhile: its webview restored the sort (getState).
    const sort = await frame.getAttribute('[data-testid="tensor-table"] th[data-col="sqnr"]', 'aria-sort');
    ctx.check('hidden and shown again, the panel keeps its sort by SQNR', sort === 'descending', `${sort}`);
    await checkPanel(ctx, frame, bertReport, 'tiny_bert.int8');
    const history = await frame.evaluate(() =>
      [...document.querySelectorAll('[data-testid="history"] [data-report]')].map((e) => e.dataset.report),
    );
    ctx.check(
      'the history lists both reports, newest first',
      history[0] === bertReport && history.includes(reportJson),
      history.join(', '),
    );
    await clearToasts(page);
    await screenshot(ctx, page, 'panel-pass-dark');
    // Pick the older report in the history: the diff above follows.
    await frame.click(`[data-testid="history"] [data-report="${reportJson}"]`);
    await panelFrame(ctx, page, reportJson);
    ctx.check('a click in the history shows that report', true);
  }

  // ---- themes ----
  await focusWorkbench(page);
  for (const [theme, kind, name] of [
    ['Default Light Modern', 'vscode-light', 'light'],
    ['Default High Contrast', 'vscode-high-contrast', 'high-contrast'],
    ['Default Dark Modern', 'vscode-dark', 'dark'],
  ] as const) {
    await ctx.setColorTheme(page, theme);
    frame = await panelFrame(ctx, page);
    await frame
      .waitForFunction((k) => document.body.classList.contains(k), kind, { timeout: 20000 })
      .catch(() => undefined);
    if (name !== 'dark') await screenshot(ctx, page, `panel-and-editor-${name}`);
  }

  // ---- Cancel on the progress notification: nothing left behind ----
  const big = path.join(ctx.workspace, 'bench-200mb.onnx');
  await ctx.makeModel(big, { megabytes: 200 });
  const before = fs.readdirSync(ctx.workspace).sort();
  await openExplorer(page);
  const bigItem = ctx.web.explorerItem(page, path.basename(big));
  await bigItem.waitFor({ timeout: 30000 });
  await contextCommand(ctx, page, path.basename(big), 'Quantize to 4-bit');
  const toast = page
    .locator('.notifications-toasts .notification-toast', { hasText: 'Quantizing bench-200mb.onnx' })
    .first();
  await toast.waitFor({ timeout: 15000 });
  await screenshot(ctx, page, 'progress-notification-dark');
  await toast.locator('.monaco-button, .action-label', { hasText: 'Cancel' }).first().click();
  await toast.waitFor({ state: 'hidden', timeout: 30000 });
  await page.waitForTimeout(1000);
  const said = await succeeds(
    page.locator('.part.statusbar', { hasText: 'cancelled bench-200mb.onnx' }).waitFor({ timeout: 5000 }),
  );
  ctx.check('the status bar says the run was cancelled', said);
  const after = fs.readdirSync(ctx.workspace).sort();
  ctx.check(
    'Cancel on the progress notification leaves no file behind',
    JSON.stringify(after) === JSON.stringify(before),
    `new: ${after.filter((f) => !before.includes(f)).join(', ') || 'none'}`,
  );
}
