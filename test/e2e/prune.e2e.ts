// End-to-end test of "Prune…" in a real VS Code (code-server) and Chromium, run by
// test/e2e/lib/run-e2e.js (see test/e2e/CONTRACT.md):
//   - the palette lists "Big Shrink: Prune…";
//   - Explorer right-click on sample-mlp.onnx -> "Prune…" -> the method quick pick (magnitude 50% per
//     layer first and active) -> sample-mlp.sparse50.onnx and both reports appear; the side panel shows
//     the report: summary sizes, the sparsity line, the size figures (gzip, dense, sparse, runtime) and
//     every tensor row with its sparsity before/after, read inside its webview, equal the report JSON;
//     sorting by sparsity;
//   - the model editor's title bar "Prune…" on tiny BERT -> "Magnitude, global…" -> 90% ->
//     sparse_initializer: a smaller file, the rows stored sparse, the figures follow;
//   - screenshots in dark, light and high-contrast themes under test-results/e2e/prune/.
import * as fs from 'fs';
import * as path from 'path';
import type { Frame } from 'playwright-core';
import type { E2eContext } from './lib/types';
import type { PageDocument } from './pageDom';
import {
  checkPickOrder,
  choose,
  clearToasts,
  contextCommand,
  editorTitleAction,
  focusWorkbench,
  openPanelFromActivityBar,
  openWorkbench,
  panelFrame,
  pickRow,
  rowProblems,
  screenshot,
  transformFiles,
  waitForFiles,
} from './workbenchSteps';

interface Sizes {
  inputBytes: number;
  inputGzipBytes: number;
  outputBytes: number;
  outputGzipBytes: number;
  prunedDenseBytes: number;
  prunedSparseBytes: number;
  prunedStoredBytes: number;
  runtimeBytesBefore: number;
  runtimeBytesAfter: number;
}

interface Report {
  options: Record<string, unknown>;
  summary: {
    bytesBefore: number;
    bytesAfter: number;
    status: string;
    sparsityBefore: number;
    sparsityAfter: number;
    target?: number;
  };
  sizes: Sizes;
  tensors: {
    name: string;
    op: string;
    beforeBytes: number;
    afterBytes: number;
    weightSqnrDb: number | null;
    sparsityBefore: number;
    sparsityAfter: number;
    storage: string;
  }[];
}

// frame.evaluate() callbacks run inside the webview: `document` is the page's own (pageDom.ts).
declare const document: PageDocument;

/** One tensor row as the panel shows it: data-* attributes and the text of its sparsity cell. */
interface ShownRow {
  name: string;
  op: string;
  beforeBytes: number;
  afterBytes: number;
  sqnr: number;
  sparsityBefore: number;
  sparsityAfter: number;
  storage: string;
  sparsityText: string;
}

const readReport = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Report;

function shownRows(frame: Frame): Promise<ShownRow[]> {
  return frame.evaluate(() =>
    [...document.querySelectorAll('[data-testid="tensor-table"] tbody tr')].map((r) => ({
      name: r.dataset.tensorName ?? '',
      op: r.dataset.op ?? '',
      beforeBytes: Number(r.dataset.beforeBytes),
      afterBytes: Number(r.dataset.afterBytes),
      sqnr: Number(r.dataset.sqnr),
      sparsityBefore: Number(r.dataset.sparsityBefore),
      sparsityAfter: Number(r.dataset.sparsityAfter),
      storage: r.dataset.storage ?? '',
      sparsityText: r.querySelector('td[data-col="sparsity"]')?.textContent ?? '',
    })),
  );
}

/** The panel's summary, sparsity line, size figures and rows against the report JSON. */
async function checkPrunePanel(ctx: E2eContext, frame: Frame, reportFile: string, what: string) {
  const report = readReport(reportFile);
  const shown = await frame.evaluate(() => {
    const value = (id: string) => document.querySelector(`[data-testid="${id}"]`)?.dataset.value;
    const sparsity = document.querySelector('[data-testid="sparsity"]');
    return {
      before: Number(value('size-before')),
      after: Number(value('size-after')),
      status: document.querySelector('[data-testid="fidelity"]')?.dataset.status,
      variant: document.querySelector('[data-testid="variant"]')?.textContent ?? '',
      sparsity: sparsity && {
        before: Number(sparsity.dataset.before),
        after: Number(sparsity.dataset.after),
        target: sparsity.dataset.target === undefined ? undefined : Number(sparsity.dataset.target),
      },
      figures: [...document.querySelectorAll('[data-testid="size-figures"] tbody tr')].map((r) => ({
        id: r.dataset.figure,
        before: r.dataset.before === undefined ? undefined : Number(r.dataset.before),
        after: Number(r.dataset.after),
      })),
      columns: [...document.querySelectorAll('[data-testid="tensor-table"] thead th')].map(
        (th) => th.dataset.col,
      ),
    };
  });
  const s = report.summary;
  const z = report.sizes;
  ctx.check(
    `${what}: summary size before → after and fidelity equal the report`,
    shown.before === s.bytesBefore && shown.after === s.bytesAfter && shown.status === s.status,
    JSON.stringify({ shown: [shown.before, shown.after, shown.status], report: s }),
  );
  ctx.check(
    `${what}: the sparsity line says ${s.sparsityBefore} → ${s.sparsityAfter} (target ${s.target})`,
    !!shown.sparsity &&
      shown.sparsity.before === s.sparsityBefore &&
      shown.sparsity.after === s.sparsityAfter &&
      shown.sparsity.target === s.target,
    JSON.stringify(shown.sparsity),
  );
  const want = [
    { id: 'gzip', before: z.inputGzipBytes, after: z.outputGzipBytes },
    { id: 'dense', before: z.prunedDenseBytes, after: z.prunedDenseBytes },
    { id: 'sparse', before: undefined, after: z.prunedSparseBytes },
    { id: 'runtime', before: z.runtimeBytesBefore, after: z.runtimeBytesAfter },
  ];
  ctx.check(
    `${what}: the size figures (gzip, dense, sparse, runtime) equal the report's sizes`,
    JSON.stringify(shown.figures) === JSON.stringify(want),
    `${JSON.stringify(shown.figures)} vs ${JSON.stringify(want)}`,
  );
  ctx.check(
    `${what}: the tensor table has a sparsity column`,
    shown.columns.includes('sparsity'),
    shown.columns.join(', '),
  );
  const rows = await shownRows(frame);
  const problems = rowProblems(
    report.tensors,
    rows,
    (r) => r.name,
    'tensors',
    (t, r) => {
      const pct = `${(t.sparsityAfter * 100).toFixed(1)}%`;
      return {
        expected: [
          t.op,
          t.beforeBytes,
          t.afterBytes,
          t.weightSqnrDb ?? Infinity,
          t.sparsityBefore,
          t.sparsityAfter,
          t.storage,
        ],
        got: [r.op, r.beforeBytes, r.afterBytes, r.sqnr, r.sparsityBefore, r.sparsityAfter, r.storage],
        extra: r.sparsityText.startsWith(t.sparsityAfter === 1 ? '100%' : pct)
          ? undefined
          : `shows "${r.sparsityText}", not ${pct}`,
      };
    },
  );
  ctx.check(
    `${what}: ${rows.length} tensor rows equal the report (op, bytes, SQNR, sparsity before/after, storage)`,
    problems.length === 0,
    problems.slice(0, 4).join('; '),
  );
  return { report, rows };
}

export async function run(ctx: E2eContext): Promise<void> {
  const page = await openWorkbench(ctx, 'Big Shrink: Prune…');
  ctx.check('the command palette lists "Big Shrink: Prune…"', true);

  // ---- right-click -> Prune… -> Magnitude, 50% per layer ----
  const { out, reportJson, reportMd } = transformFiles(ctx, 'sample-mlp.sparse50.onnx');
  const t0 = Date.now();
  await contextCommand(ctx, page, 'sample-mlp.onnx', 'Prune…', 'explorer-menu-dark.png');
  await checkPickOrder(
    ctx,
    page,
    [
      'Magnitude, 50% per layer',
      'Magnitude, global…',
      '2:4',
      '4:8',
      'Output channels…',
      'Wanda 50%',
      'SparseGPT 50%',
      'SparseGPT 2:4',
    ],
    'the quick pick offers magnitude 50% per layer, global…, 2:4, 4:8, channels…, Wanda 50%, SparseGPT 50% and 2:4, in that order',
    'magnitude 50% per layer is the active (default) item',
  );
  await screenshot(ctx, page, 'prune-quick-pick-dark');
  await choose(page, 'Magnitude, 50% per layer');
  const written = await waitForFiles([out, reportJson, reportMd]);
  ctx.check('picking it writes sample-mlp.sparse50.onnx and both reports', written);
  ctx.metric('prune sample-mlp (right-click -> files written)', Date.now() - t0, 'ms');
  if (!written) return;
  const options = readReport(reportJson).options;
  ctx.check(
    'the report says magnitude, 50%, per layer, dense',
    options.method === 'magnitude' &&
      options.sparsity === 0.5 &&
      options.scope === 'layer' &&
      options.storage === 'dense',
    JSON.stringify(options),
  );

  // The panel opens by itself with the new report.
  let frame = await panelFrame(ctx, page, reportJson);
  ctx.check('the side panel opens by itself with the prune report', true);
  await screenshot(ctx, page, 'panel-after-prune-dark');
  await clearToasts(page);
  const { rows } = await checkPrunePanel(ctx, frame, reportJson, 'sample-mlp.sparse50');
  await screenshot(ctx, page, 'panel-prune-dark');

  // Sort by sparsity (highest first).
  await frame.click('[data-testid="tensor-table"] th[data-col="sparsity"] button');
  const sorted = (await shownRows(frame)).map((r) => r.sparsityAfter);
  ctx.check(
    'clicking Sparsity sorts the rows by sparsity, highest first',
    sorted.length === rows.length && sorted.every((v, i) => i === 0 || sorted[i - 1] >= v),
    sorted.join(', '),
  );

  // ---- the model editor's title bar: Prune… -> Magnitude, global… -> 90% -> sparse_initializer ----
  const action = await editorTitleAction(ctx, page, 'tiny_bert_random_inline.onnx', 'Prune');
  ctx.check('the model editor title bar has "Prune…"', !!action);
  if (action) {
    await page.waitForTimeout(500);
    await action.click();
    await choose(page, 'Magnitude, global…');
    await pickRow(page, '90%').waitFor({ timeout: 15000 });
    await screenshot(ctx, page, 'prune-sparsity-pick-dark');
    await choose(page, '90%');
    await pickRow(page, 'sparse_initializer').waitFor({ timeout: 15000 });
    await screenshot(ctx, page, 'prune-storage-pick-dark');
    await choose(page, 'sparse_initializer');
    const sparseJson = path.join(
      ctx.workspace,
      'models',
      'tiny_bert_random_inline.sparse90.sparseinit.report.json',
    );
    const ok = await waitForFiles([sparseJson, sparseJson.replace('.report.json', '.onnx')]);
    ctx.check('the title bar flow writes tiny_bert_random_inline.sparse90.sparseinit.onnx', ok);
    if (ok) {
      const r = readReport(sparseJson);
      ctx.check(
        'the report says global 90%, sparse storage, and the file is smaller',
        r.options.scope === 'global' &&
          r.options.sparsity === 0.9 &&
          r.options.storage === 'sparse' &&
          r.sizes.outputBytes < r.sizes.inputBytes,
        JSON.stringify({ options: r.options, sizes: r.sizes }),
      );
      frame = await panelFrame(ctx, page, sparseJson);
      const checked = await checkPrunePanel(ctx, frame, sparseJson, 'tiny_bert.sparse90');
      ctx.check(
        'rows stored as sparse_initializer say so',
        checked.rows.some((x) => x.storage === 'sparse_initializer'),
        checked.rows.map((x) => x.storage).join(', '),
      );
      await clearToasts(page);
      await screenshot(ctx, page, 'panel-sparse-and-editor-dark');
    }
  }

  // ---- themes ----
  await focusWorkbench(page);
  await openPanelFromActivityBar(page);
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
    if (name !== 'dark') await screenshot(ctx, page, `panel-prune-${name}`);
  }
}
