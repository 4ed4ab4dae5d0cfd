// End-to-end test of the sweep and the measured sensitivity in the model editor, in a real VS Code
// (code-server) and Chromium, run by test/e2e/lib/run-e2e.js (see test/e2e/CONTRACT.md):
//   - selecting a weight of sample-mlp.onnx paints the sweep chart in the detail, and the seven figures
//     read in the webview equal `big-shrink sensitivity --json` (an exact SQNR, JSON null, shows as ∞);
//   - the 4-bit SQNR column follows the background sweeps;
//   - "Big Shrink: Measure Sensitivity" from the palette writes sample-mlp.sensitivity.json; the
//     Sensitivity column shows each measured layer's output SQNR and sorts by it; the overview charts it;
//   - screenshots under test-results/e2e/sensitivity/.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Frame, Page } from 'playwright-core';
import type { E2eContext } from './lib/types';
import type { PageCanvas, PageDocument } from './pageDom';
import {
  clearToasts,
  editorFrame,
  focusWorkbench,
  openWorkbench,
  screenshot,
  succeeds,
  waitForFiles,
  workbenchReady,
} from './workbenchSteps';

interface CliSweep {
  bits: Record<string, number | null>;
  sparsity: Record<string, number | null>;
}
interface CliReport {
  bits: number;
  layers: { name: string; op: string; outputSqnrDb: number | null; error?: string; sweep: CliSweep }[];
}

// frame.evaluate() callbacks run inside the webview: `document` is the page's own (pageDom.ts).
declare const document: PageDocument;

/** A figure of the CLI's JSON as a number (JSON has no Infinity: null is an exact, infinite SQNR). */
const fromJson = (v: number | null) => (v === null ? Infinity : v);

/** Pixels of a canvas that are not transparent. */
function painted(frame: Frame, selector: string): Promise<number> {
  return frame.evaluate((sel) => {
    const canvas = document.querySelector(sel) as unknown as PageCanvas | null;
    if (!canvas || canvas.width === 0 || canvas.height === 0) return 0;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return n;
  }, selector);
}

async function showTab(frame: Frame, tab: 'overview' | 'layers' | 'charts'): Promise<void> {
  await frame.click(`vscode-tab-header[data-tab="${tab}"]`);
  await frame.waitForTimeout(200);
}

/** The value in `data-value` of column `col` of each row in view, by tensor name. */
function columnValues(frame: Frame, col: string): Promise<Record<string, string | undefined>> {
  return frame.evaluate((c) => {
    const out: Record<string, string | undefined> = {};
    for (const row of document.querySelectorAll('[data-testid="layers-table"] [data-tensor-name]'))
      out[row.dataset.tensorName ?? ''] = row.querySelector(`[data-col="${c}"]`)?.dataset.value;
    return out;
  }, col);
}

async function openModel(ctx: E2eContext, page: Page, name: string): Promise<Frame> {
  for (let attempt = 1; ; attempt++) {
    await focusWorkbench(page);
    await ctx.web.quickOpen(page, name);
    try {
      return await editorFrame(page, name, attempt < 3 ? 15000 : 30000);
    } catch (e) {
      if (attempt >= 3) throw e;
      await page.keyboard.press('Escape');
    }
  }
}

export async function run(ctx: E2eContext): Promise<void> {
  const page = await openWorkbench(ctx, 'Big Shrink: Show Compaction Reports');

  const model = path.join(ctx.workspace, 'sample-mlp.onnx');
  const cli = JSON.parse(
    execFileSync(process.execPath, [ctx.cli, 'sensitivity', model, '--json'], { encoding: 'utf8' }),
  ) as CliReport;
  ctx.check('the CLI measured the sample', cli.layers.length >= 2, `${cli.layers.length} layers`);

  const frame = await openModel(ctx, page, 'sample-mlp.onnx');
  await frame.waitForFunction(
    () => document.querySelector('[data-testid="status"]')?.dataset.status === 'done',
    undefined,
    { timeout: 60000 },
  );
  await showTab(frame, 'layers');

  // ---- the sweep of each measured weight, read in the detail ----
  for (const layer of cli.layers) {
    await frame.click(`[data-testid="layers-table"] [data-tensor-name="${layer.name}"] [data-col="name"]`);
    await frame.waitForFunction(
      (n) => {
        const s = document.querySelector('[data-testid="detail-sweep"]');
        return s?.dataset.tensorName === n && s.dataset.state === 'ready';
      },
      layer.name,
      { timeout: 30000 },
    );
    const shown = await frame.evaluate(() => {
      const out: Record<string, string | undefined> = {};
      for (const td of document.querySelectorAll('[data-testid="sweep-figures"] td[data-key]'))
        out[td.dataset.key ?? ''] = td.dataset.value;
      return out;
    });
    const expected: Record<string, number> = {};
    for (const [b, v] of Object.entries(layer.sweep.bits)) expected[`bits-${b}`] = fromJson(v);
    for (const [p, v] of Object.entries(layer.sweep.sparsity)) expected[`sparsity-${p}`] = fromJson(v);
    // fc2 of the sample is 2:4-sparse: pruning 25 or 50% is exact (∞ dB, null in the JSON).
    const wrong = Object.entries(expected).filter(([k, v]) => !Object.is(Number(shown[k]), v));
    ctx.check(
      `${layer.name} (${layer.op}): the 7 sweep figures in the webview equal big-shrink sensitivity --json`,
      Object.keys(shown).length === 7 && wrong.length === 0,
      `shown ${JSON.stringify(shown)}; differ: ${wrong.map(([k, v]) => `${k} ${shown[k]} vs ${v}`).join(', ')}`,
    );
    await frame.waitForTimeout(200);
    const pixels = await painted(frame, '[data-testid="sweep-chart"]');
    ctx.check(`${layer.name}: the sweep chart is painted`, pixels > 300, `${pixels} pixels`);
  }
  await screenshot(ctx, page, 'sweep-detail-dark');

  // ---- the 4-bit SQNR column (background sweeps) ----
  await frame.waitForFunction(
    (names) => {
      const rows = [...document.querySelectorAll('[data-testid="layers-table"] [data-tensor-name]')];
      return names.every((n) =>
        rows.some((r) => r.dataset.tensorName === n && r.querySelector('[data-col="sqnr4"]')?.dataset.value),
      );
    },
    cli.layers.map((l) => l.name),
    { timeout: 30000 },
  );
  const sqnr4 = await columnValues(frame, 'sqnr4');
  ctx.check(
    'the 4-bit SQNR column equals the CLI sweep at 4 bits',
    cli.layers.every((l) => Object.is(Number(sqnr4[l.name]), fromJson(l.sweep.bits['4']))),
    JSON.stringify(sqnr4),
  );
  const before = await columnValues(frame, 'sensitivity');
  ctx.check(
    'the Sensitivity column is empty before measuring',
    Object.values(before).every((v) => v === undefined),
    JSON.stringify(before),
  );

  // ---- Measure Sensitivity from the palette ----
  await focusWorkbench(page);
  await ctx.web.runCommand(page, 'Big Shrink: Measure Sensitivity');
  const file = path.join(ctx.workspace, 'sample-mlp.sensitivity.json');
  const written = await waitForFiles([file], 120000);
  ctx.check('Measure Sensitivity writes sample-mlp.sensitivity.json', written);
  if (!written) return;
  await page.waitForTimeout(300);
  const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as CliReport;
  ctx.check(
    'the saved report measured the same layers as the CLI, with the same sweeps',
    JSON.stringify(saved.layers.map((l) => [l.name, l.sweep])) ===
      JSON.stringify(cli.layers.map((l) => [l.name, l.sweep])),
  );
  await frame.waitForFunction(
    (names) => {
      const rows = [...document.querySelectorAll('[data-testid="layers-table"] [data-tensor-name]')];
      return names.every((n) =>
        rows.some(
          (r) => r.dataset.tensorName === n && r.querySelector('[data-col="sensitivity"]')?.dataset.value,
        ),
      );
    },
    saved.layers.filter((l) => !l.error).map((l) => l.name),
    { timeout: 30000 },
  );
  const measured = await columnValues(frame, 'sensitivity');
  ctx.check(
    'the Sensitivity column shows each layer’s output SQNR from the report',
    saved.layers.every((l) => l.error || Object.is(Number(measured[l.name]), fromJson(l.outputSqnrDb))),
    JSON.stringify(measured),
  );
  await clearToasts(page);
  await screenshot(ctx, page, 'sensitivity-column-dark');

  // Sort by Sensitivity: the first click puts the lowest output SQNR (the most sensitive layer) first.
  await frame.click('[data-testid="layers-table"] .head[data-col="sensitivity"]');
  await frame.waitForTimeout(200);
  const order = await frame.evaluate(() =>
    // Rows are positioned, not ordered, in the DOM (virtualized): their row index is the order shown.
    [...document.querySelectorAll('[data-testid="layers-table"] [data-tensor-name]')]
      .sort((a, b) => Number(a.getAttribute('aria-rowindex')) - Number(b.getAttribute('aria-rowindex')))
      .map((r) => r.querySelector('[data-col="sensitivity"]')?.dataset.value)
      .filter((v): v is string => v !== undefined)
      .map(Number),
  );
  const ascending = [...order].sort((a, b) => a - b);
  ctx.check(
    'clicking Sensitivity sorts the measured rows by output SQNR, most sensitive first',
    order.length === saved.layers.length && JSON.stringify(order) === JSON.stringify(ascending),
    order.join(', '),
  );

  // ---- the overview's chart ----
  await showTab(frame, 'overview');
  await frame.waitForFunction(
    (n) => document.querySelector('[data-testid="sensitivity"]')?.dataset.rows === String(n),
    saved.layers.length,
    { timeout: 15000 },
  );
  await frame.evaluate(() =>
    (
      document.querySelector('[data-testid="sensitivity"]') as unknown as { scrollIntoView(): void }
    ).scrollIntoView(),
  );
  await frame.waitForTimeout(300);
  const chart = await painted(frame, '[data-testid="sensitivity-chart"]');
  ctx.check('the overview charts the measured sensitivity', chart > 500, `${chart} pixels`);
  await screenshot(ctx, page, 'sensitivity-overview-dark');

  // The overview's button measures again (the file is replaced, atomically).
  const measuredAt = fs.statSync(file).mtimeMs;
  await frame.click('[data-testid="measure-sensitivity"]');
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline && fs.statSync(file).mtimeMs === measuredAt) await page.waitForTimeout(100);
  ctx.check(
    'the overview’s Measure Sensitivity button measures again',
    fs.statSync(file).mtimeMs !== measuredAt,
  );
  await page.waitForTimeout(500);
  await clearToasts(page);

  // Reopened, the editor loads the saved report by itself.
  await ctx.setColorTheme(page, 'Default Light Modern');
  await page.reload();
  await workbenchReady(ctx, page, 'Big Shrink: Show Compaction Reports');
  const again = await openModel(ctx, page, 'sample-mlp.onnx');
  const loaded = await succeeds(
    again.waitForFunction(
      (n) => document.querySelector('[data-testid="sensitivity"]')?.dataset.rows === String(n),
      saved.layers.length,
      { timeout: 30000 },
    ),
  );
  ctx.check('a reopened editor loads sample-mlp.sensitivity.json', loaded);
  await screenshot(ctx, page, 'sensitivity-overview-light');
}
