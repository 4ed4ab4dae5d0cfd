// End-to-end test of the model editor in a real VS Code (code-server) and Chromium, run by
// test/e2e/lib/run-e2e.js (see test/e2e/CONTRACT.md):
//   - three test models: tensor names and statistics read from inside the webview equal
//     `big-shrink inspect --json` (1e-9 relative);
//   - selecting a tensor draws the detail histogram; arrow keys move the selection;
//   - an invalid file shows the error view;
//   - screenshots in a dark and a light theme under test-results/e2e/modelEditor/;
//   - the Functional core tab: "Measure activations" shows per layer what `big-shrink activations --json`
//     says (units that never fire), with the importance curves drawn;
//   - timings on a ~100 MB model: open -> overview visible, open -> all statistics.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Frame, Page } from 'playwright-core';
import type { E2eContext } from './lib/types';
import type { PageCanvas, PageDocument } from './pageDom';
import { editorFrame, focusWorkbench, openWorkbench, succeeds } from './workbenchSteps';

interface CliTensor {
  id: number;
  name: string;
  dtype: string;
  dims: number[];
  bytes: number;
  learned: boolean;
  /** Weights it holds (a MatMulNBits B: K·N, not its bytes). */
  parameters: number;
  stats?: { min: number; max: number; mean: number; std: number; sparsity: number; count: number };
}
interface CliReport {
  tensors: CliTensor[];
}

/** What the webview shows for one row (exact values from data-value). */
interface ShownRow {
  id: number;
  name: string;
  stats: string;
  values: Record<string, string | undefined>;
}

// frame.evaluate() callbacks run inside the webview: `document` and `performance` are the page's own
// (pageDom.ts).
declare const performance: {
  timeOrigin: number;
  getEntriesByName(name: string): { startTime: number }[];
};
declare const document: PageDocument;

const STAT_COLUMNS = ['min', 'max', 'mean', 'std', 'sparsity'] as const;
const near = (a: number, b: number) =>
  a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

/**
 * Open the quick input with `key`, type `text`, move to the row whose label starts with `rowText` and
 * press Enter. Waiting for the *focused* row matters: Enter pressed while the list still filters picks
 * whatever was first before, and the best fuzzy match is not always the wanted row ("Preferences: Browse
 * Color Themes in Marketplace" ranks above "Preferences: Color Theme").
 */
async function quickPick(page: Page, key: string, text: string, rowText: string): Promise<void> {
  await focusWorkbench(page);
  await page.keyboard.press(key);
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(key === 'F1' ? `>${text}` : text);
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: rowText })
    .first()
    .waitFor({ timeout: 15000 });
  for (let i = 0; i < 15; i++) {
    const focused = await page
      .locator('.quick-input-list .monaco-list-row.focused')
      .first()
      .textContent({ timeout: 2000 })
      .catch(() => '');
    if (focused?.startsWith(rowText)) {
      await page.keyboard.press('Enter');
      return;
    }
    await page.keyboard.press('ArrowDown');
    await page.waitForTimeout(50);
  }
  throw new Error(`the quick input never focused a row starting with "${rowText}"`);
}

/**
 * Quick-open `name` (a unique file name in the workspace) and return its editor's frame. A Ctrl+P
 * pressed while a webview has the focus is sometimes lost: then try again.
 */
async function open(
  ctx: E2eContext,
  page: Page,
  name: string,
  entered?: (at: number) => void,
): Promise<Frame> {
  for (let attempt = 1; ; attempt++) {
    await quickPick(page, 'Control+P', name, name).catch(async (e) => {
      await page.keyboard.press('Escape');
      if (attempt >= 3) throw e;
    });
    entered?.(Date.now());
    try {
      return await editorFrame(page, name, attempt < 3 ? 8000 : 30000);
    } catch (e) {
      if (attempt >= 3) throw e;
      ctx.log(`${name} did not open (attempt ${attempt}); trying again`);
      await page.keyboard.press('Escape');
    }
  }
}

async function statusOf(frame: Frame): Promise<string | undefined> {
  return frame.evaluate(() => document.querySelector('[data-testid="status"]')?.dataset.status);
}

async function waitStatus(frame: Frame, status: string, timeoutMs = 120000): Promise<void> {
  await frame.waitForFunction(
    (s) => document.querySelector('[data-testid="status"]')?.dataset.status === s,
    status,
    { timeout: timeoutMs, polling: 25 },
  );
}

async function showTab(frame: Frame, tab: 'overview' | 'layers' | 'charts' | 'core'): Promise<void> {
  await frame.click(`vscode-tab-header[data-tab="${tab}"]`);
  await frame.waitForTimeout(150);
}

async function setFilter(frame: Frame, text: string): Promise<void> {
  await frame.locator('[data-testid="filter"] input').fill(text);
  await frame.waitForTimeout(100);
}

/** Rows the (virtualized) table has in the DOM now. */
function shownRows(frame: Frame): Promise<ShownRow[]> {
  return frame.evaluate(
    (columns) => {
      return [...document.querySelectorAll('[data-testid="layers-table"] [data-tensor-name]')].map((row) => {
        const values: Record<string, string | undefined> = {};
        for (const c of columns) values[c] = row.querySelector(`[data-col="${c}"]`)?.dataset.value;
        return {
          id: Number(row.dataset.tensorId),
          name: row.dataset.tensorName ?? '',
          stats: row.dataset.stats ?? '',
          values,
        };
      });
    },
    ['min', 'max', 'mean', 'std', 'sparsity', 'params', 'bytes', 'dtype'],
  );
}

function compareRows(ctx: E2eContext, model: string, rows: ShownRow[], cli: CliReport, atLeast = 3): number {
  let compared = 0;
  const problems: string[] = [];
  for (const row of rows) {
    const t = cli.tensors[row.id];
    if (!t || t.name !== row.name) {
      problems.push(`row ${row.id} ${row.name} is ${t?.name} in the CLI`);
      continue;
    }
    if (!t.stats) continue;
    for (const c of STAT_COLUMNS) {
      const shown = Number(row.values[c]);
      if (!near(shown, t.stats[c]))
        problems.push(`${t.name}.${c}: webview ${row.values[c]} vs CLI ${t.stats[c]}`);
    }
    if (Number(row.values.bytes) !== t.bytes)
      problems.push(`${t.name}.bytes ${row.values.bytes} vs ${t.bytes}`);
    if (Number(row.values.params) !== (t.learned ? t.parameters : t.dims.reduce((a, b) => a * b, 1)))
      problems.push(`${t.name}.params ${row.values.params}`);
    if (row.values.dtype !== t.dtype) problems.push(`${t.name}.dtype ${row.values.dtype} vs ${t.dtype}`);
    compared++;
  }
  ctx.check(
    `${model}: ${compared} rows in the webview equal big-shrink inspect --json`,
    problems.length === 0 && compared >= atLeast,
    problems.slice(0, 5).join('; '),
  );
  return compared;
}

/** Pixels of the canvas that are not transparent (the page background shows through them otherwise). */
function paintedPixels(
  frame: Frame,
  selector: string,
): Promise<{ painted: number; total: number; width: number }> {
  return frame.evaluate((sel) => {
    const canvas = document.querySelector(sel) as unknown as PageCanvas;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
    return { painted, total: canvas.width * canvas.height, width: canvas.width };
  }, selector);
}

/** Checks one model; returns the name of the tensor left selected (the editor must remember it). */
async function checkModel(ctx: E2eContext, page: Page, file: string, screenshots?: string): Promise<string> {
  const name = path.basename(file);
  const frame = await open(ctx, page, name);
  await waitStatus(frame, 'done');
  const cli = (await ctx.inspect(file)) as CliReport;
  await frame.waitForSelector('[data-testid="overview"][data-ready="true"]');
  const overviewText = await frame.textContent('[data-testid="overview"]');
  ctx.check(
    `${name}: overview shows the model`,
    !!overviewText && /IR version/.test(overviewText) && /Parameters/.test(overviewText),
  );
  if (screenshots) await page.screenshot({ path: path.join(ctx.resultsDir, `${screenshots}-overview.png`) });

  await showTab(frame, 'layers');
  await frame.waitForSelector('[data-testid="layers-table"] [data-tensor-name][data-stats="ready"]');
  const first = await shownRows(frame);
  ctx.log(`${name}: ${first.length} rows in view, ${cli.tensors.length} tensors in the CLI report`);
  compareRows(ctx, name, first, cli);

  // Filter to the largest learned tensor and compare it too.
  const largest = cli.tensors.filter((t) => t.learned && t.stats).sort((a, b) => b.bytes - a.bytes)[0];
  await setFilter(frame, largest.name);
  await frame.waitForFunction(
    (n) => [...document.querySelectorAll('[data-tensor-name]')].some((r) => r.dataset.tensorName === n),
    largest.name,
  );
  const filtered = (await shownRows(frame)).filter((r) => r.name === largest.name);
  ctx.check(`${name}: filter finds ${largest.name}`, filtered.length === 1);
  compareRows(ctx, `${name} (filtered to the largest tensor)`, filtered, cli, 1);

  // Select it: the detail histogram is drawn.
  await frame.click(`[data-testid="layers-table"] [data-tensor-id="${filtered[0]?.id}"] [data-col="name"]`);
  await frame.waitForFunction(
    (n) => document.querySelector('[data-testid="detail"]')?.dataset.tensorName === n,
    largest.name,
  );
  const pixels = await paintedPixels(frame, '[data-testid="detail-histogram"]');
  ctx.check(
    `${name}: detail histogram drawn`,
    pixels.painted > 500,
    `${pixels.painted} of ${pixels.total} pixels painted`,
  );
  const detailMin = await frame.getAttribute(
    '[data-testid="detail"] [data-fact="min"] [data-value]',
    'data-value',
  );
  ctx.check(
    `${name}: detail min equals the CLI`,
    near(Number(detailMin), largest.stats!.min),
    `${detailMin} vs ${largest.stats!.min}`,
  );

  // A filter that hides the selected row: the detail pane says so instead of showing the tensor.
  await setFilter(frame, 'no-such-tensor-zzz');
  const hidden = await succeeds(
    frame.waitForSelector('[data-testid="detail"] [data-testid="detail-hidden"]', { timeout: 5000 }),
  );
  const hiddenName = await frame.getAttribute('[data-testid="detail"]', 'data-tensor-name');
  ctx.check(`${name}: the detail pane lets go of a row the filter hides`, hidden && hiddenName === '');

  // Keyboard: clear the filter, focus the table, ArrowDown moves the selection.
  await setFilter(frame, '');

  await frame.waitForSelector('[data-testid="layers-table"] .row');
  // Column headers are not cut at the default width; op names that are carry their full text.
  const cut = await frame.evaluate(() => {
    const out: string[] = [];
    for (const head of document.querySelectorAll('[data-testid="layers-table"] .cell.head')) {
      const label = head.querySelector('.label');
      if (!label) continue;
      // The text's own width against its box (scrollWidth rounds: a 0.2 px overflow still ellipsizes).
      const page = document as unknown as {
        createRange(): { selectNodeContents(n: unknown): void; getBoundingClientRect(): { width: number } };
      };
      const range = page.createRange();
      range.selectNodeContents(label);
      const box = (
        label as unknown as { getBoundingClientRect(): { width: number } } | null
      )?.getBoundingClientRect();
      if (label && box && range.getBoundingClientRect().width > box.width + 0.01)
        out.push(`header ${label.textContent}`);
    }
    for (const cell of document.querySelectorAll('[data-testid="layers-table"] .row [data-col="op"]')) {
      if (cell.scrollWidth > cell.clientWidth + 1 && !(cell.title ?? '').startsWith(cell.textContent ?? ''))
        out.push(`op ${cell.textContent}`);
    }
    return out;
  });
  ctx.check(
    `${name}: no column header or op name is cut without its full text`,
    cut.length === 0,
    cut.join(', '),
  );

  await frame.focus('[data-testid="layers-table"]');
  const before = await frame.getAttribute('[data-testid="detail"]', 'data-tensor-name');
  await page.keyboard.press('ArrowDown');
  await frame.waitForTimeout(100);
  const after = await frame.getAttribute('[data-testid="detail"]', 'data-tensor-name');
  ctx.check(
    `${name}: ArrowDown selects the next tensor`,
    !!after && after !== before,
    `${before} -> ${after}`,
  );
  if (screenshots) {
    // The row context menu (webview/context) copies the tensor name.
    await frame.click(`[data-testid="layers-table"] [data-tensor-name="${after}"] [data-col="min"]`, {
      button: 'right',
    });
    const copy = page.locator('.monaco-menu .action-item', { hasText: 'Copy Tensor Name' }).first();
    await copy.waitFor({ timeout: 10000 });
    await page.waitForTimeout(500); // menus fade in; a click before that is lost
    await copy.click();
    const status = page.locator('.part.statusbar', { hasText: `Copied ${after}` });
    const copied = await succeeds(status.waitFor({ timeout: 5000 }));
    ctx.check(`${name}: the row context menu copies the tensor name`, copied, `${after}`);
    if (await page.locator('.context-view .monaco-menu').isVisible()) await page.keyboard.press('Escape');
    await frame.waitForTimeout(200);
    await page.screenshot({ path: path.join(ctx.resultsDir, `${screenshots}-layers.png`) });
    await showTab(frame, 'charts');
    await frame.waitForSelector('[data-testid="charts"][data-ready="true"]');
    await frame.waitForTimeout(300);
    const chart = await paintedPixels(frame, '[data-testid="chart-params"]');
    ctx.check(`${name}: parameters chart drawn`, chart.painted > 500, `${chart.painted} pixels`);
    await page.screenshot({ path: path.join(ctx.resultsDir, `${screenshots}-charts.png`) });
    await showTab(frame, 'layers');
  }
  return after ?? '';
}

async function waitTheme(page: Page, name: string, kind: string): Promise<Frame> {
  const frame = await editorFrame(page, name);
  await frame.waitForFunction((k) => document.body.classList.contains(k), kind, { timeout: 20000 });
  await frame.waitForTimeout(400);
  return frame;
}

/**
 * Switch the colour theme with "Preferences: Color Theme" (as a user would; a settings.json write is not
 * always picked up live) and wait until the webview has the matching body class.
 */
async function setTheme(
  ctx: E2eContext,
  page: Page,
  fileName: string,
  theme: string,
  kind: string,
): Promise<Frame> {
  for (let attempt = 1; ; attempt++) {
    await quickPick(page, 'F1', 'Preferences: Color Theme', 'Preferences: Color Theme');
    const input = page.locator('.quick-input-widget input');
    await page
      .locator(
        '.quick-input-widget input[aria-label*="Color Theme" i], .quick-input-widget input[placeholder*="Color Theme" i]',
      )
      .waitFor({ timeout: 10000 })
      .catch(() => {});
    await input.fill(theme);
    await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: theme }).first().waitFor();
    await page.waitForTimeout(100);
    await page.keyboard.press('Enter');
    try {
      return await waitTheme(page, fileName, kind);
    } catch (e) {
      if (attempt >= 2) throw e;
      await page.keyboard.press('Escape');
    }
  }
}

/**
 * The Functional core tab: "Measure activations" runs in the CLI child; each layer then says how many of
 * its units never fire, as `big-shrink activations --json` does, and its importance curve is drawn.
 */
async function checkCore(ctx: E2eContext, page: Page, frame: Frame, model: string): Promise<void> {
  const name = path.basename(model);
  const cli = JSON.parse(
    execFileSync(process.execPath, [ctx.cli, 'activations', model, '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'], // its progress lines stay out of the test's log
    }),
  ) as { units: { name: string; units: number; samples: number; neverFire: number[] }[] };
  await showTab(frame, 'core');
  await frame.click('[data-testid="measure-activations"]');
  const ready = await succeeds(
    frame.waitForSelector('[data-testid="core"][data-status="ready"]', { timeout: 120000 }),
  );
  ctx.check(`${name}: Measure activations finishes in the Functional core tab`, ready);
  if (!ready) return;
  await frame.waitForTimeout(300);
  const shown = await frame.evaluate(() =>
    [...document.querySelectorAll('[data-testid="core-layer"]')].map((card) => ({
      layer: card.dataset.layer ?? '',
      text: card.querySelector('[data-testid="fire-text"]')?.textContent ?? '',
    })),
  );
  const expected = cli.units.map((u) => ({
    layer: u.name,
    text: `${u.neverFire.length} of ${u.units} hidden units never fire on ${u.samples} samples`,
  }));
  ctx.check(
    `${name}: every layer says how many of its units never fire, as big-shrink activations does`,
    JSON.stringify(shown) === JSON.stringify(expected),
    `${JSON.stringify(shown)} vs ${JSON.stringify(expected)}`,
  );
  const curve = await paintedPixels(frame, '[data-testid="core-layer"] canvas');
  ctx.check(`${name}: the importance curve is drawn`, curve.painted > 200, `${curve.painted} pixels`);
  await page.screenshot({ path: path.join(ctx.resultsDir, 'dark-core.png') });
  await showTab(frame, 'layers');
}

export async function run(ctx: E2eContext): Promise<void> {
  // Start dark (code-server's default is light; read at start-up), then switch to light and high contrast.
  const page = await openWorkbench(ctx, 'Big Shrink: Show Compaction Reports');
  ctx.log('workbench ready, extension contributions registered');

  // The generated model first, then the test models.
  await checkModel(ctx, page, path.join(ctx.workspace, 'sample-mlp.onnx'), 'dark-sample');

  const selected = new Map<string, string>();
  const models = [
    'tiny_bert_random_inline.onnx',
    'tiny_bert_random_extdata.onnx',
    'ortgenai_tiny_random_gpt2_fp16_past.onnx',
  ];
  for (const m of models) {
    const left = await checkModel(
      ctx,
      page,
      path.join(ctx.workspace, 'models', m),
      m.startsWith('ortgenai') ? 'dark-gpt2-fp16' : undefined,
    );
    selected.set(m, left);
  }

  // The error view.
  const bad = await open(ctx, page, 'invalid.onnx');
  await bad.waitForSelector('[data-testid="error-view"]:not([hidden])');
  const reason = (await bad.textContent('[data-testid="error-reason"]')) ?? '';
  const fileShown = (await bad.textContent('[data-testid="error-file"]')) ?? '';
  ctx.check(
    'invalid.onnx shows the error view with file and reason',
    fileShown.endsWith('invalid.onnx') && reason.length > 0,
    `${fileShown}: ${reason}`,
  );
  await page.screenshot({ path: path.join(ctx.resultsDir, 'error-dark.png') });

  // Light and high-contrast themes.
  const themed = 'tiny_bert_random_inline.onnx';
  let frame = await open(ctx, page, themed);
  await waitStatus(frame, 'done');
  // Shown again after other editors hid it: the webview restored its tab and selection (getState).
  if (selected.has(themed)) {
    const restored = await frame.getAttribute('[data-testid="detail"]', 'data-tensor-name');
    const tab = await frame.getAttribute('vscode-tab-header[data-tab="layers"]', 'active');
    ctx.check(
      `${themed}: reopened with its selection and tab restored`,
      restored === selected.get(themed) && tab !== null,
      `selected ${restored}, expected ${selected.get(themed)}; layers tab active: ${tab !== null}`,
    );
  }
  frame = await setTheme(ctx, page, themed, 'Default Light Modern', 'vscode-light');
  await page.screenshot({ path: path.join(ctx.resultsDir, 'light-layers.png') });
  await showTab(frame, 'overview');
  await page.screenshot({ path: path.join(ctx.resultsDir, 'light-overview.png') });
  await showTab(frame, 'charts');
  await frame.waitForTimeout(300);
  await page.screenshot({ path: path.join(ctx.resultsDir, 'light-charts.png') });
  await showTab(frame, 'layers');
  const lightPixels = await paintedPixels(frame, '[data-testid="detail-histogram"]');
  ctx.check(
    'light theme: detail histogram drawn',
    lightPixels.painted > 500,
    `${lightPixels.painted} pixels`,
  );
  frame = await setTheme(ctx, page, themed, 'Default High Contrast', 'vscode-high-contrast');
  await page.screenshot({ path: path.join(ctx.resultsDir, 'high-contrast-layers.png') });
  frame = await setTheme(ctx, page, themed, 'Default Dark Modern', 'vscode-dark');
  await checkCore(ctx, page, frame, path.join(ctx.workspace, 'models', themed));

  // Timings on a ~100 MB model.
  const big = path.join(ctx.workspace, 'bench-100mb.onnx');
  const t0 = Date.now();
  await ctx.makeModel(big, { megabytes: 100 });
  ctx.log(
    `generated ${path.basename(big)}: ${(fs.statSync(big).size / 1e6).toFixed(1)} MB in ${Date.now() - t0} ms`,
  );
  const tCli = Date.now();
  const bigReport = (await ctx.inspect(big)) as CliReport;
  const cliMs = Date.now() - tCli;
  // Open it from the explorer (quick open's file index may not list a file this new yet).
  const item = ctx.web.explorerItem(page, path.basename(big));
  await item.waitFor({ timeout: 30000 });
  await item.click();
  const opened = Date.now();
  const bigFrame = await editorFrame(page, path.basename(big), 60000);
  await bigFrame.waitForSelector('[data-testid="overview"][data-ready="true"]', { timeout: 60000 });
  const overviewMs = Date.now() - opened;
  await waitStatus(bigFrame, 'done', 300000);
  const statsMs = Date.now() - opened;
  // Split the overview time: VS Code's webview start-up (click -> the webview's document exists) and the
  // editor's own part (its script starts -> overview drawn), from the webview's performance marks.
  const marks = await bigFrame.evaluate(() => {
    const at = (name: string) => performance.getEntriesByName(name)[0]?.startTime ?? NaN;
    return {
      origin: performance.timeOrigin,
      script: at('modelEditor:script'),
      overview: at('modelEditor:overview'),
    };
  });
  const bootstrapMs = Math.round(marks.origin + marks.script - opened);
  const ownMs = Math.round(marks.overview - marks.script);
  const drawnMs = Math.round(marks.origin + marks.overview - opened);
  ctx.metric('model editor: open -> overview drawn (100 MB)', drawnMs, 'ms', '≤ 1000 ms');
  ctx.metric('  of which VS Code webview start-up (click -> editor script runs)', bootstrapMs, 'ms');
  ctx.metric('  of which the editor (script start -> overview drawn)', ownMs, 'ms', '≤ 1000 ms');
  ctx.metric('model editor: open -> overview seen by the test through Playwright (100 MB)', overviewMs, 'ms');
  ctx.metric(
    'model editor: open -> all statistics (100 MB)',
    statsMs,
    'ms',
    `≤ big-shrink inspect (${cliMs} ms) + 1000 ms`,
  );
  // Timings are printed with their targets above, not asserted: these machines are too noisy for that
  // (speed is judged by `npm run bench` and these printed figures).
  await showTab(bigFrame, 'layers');
  await bigFrame.waitForSelector('[data-testid="layers-table"] [data-tensor-name][data-stats="ready"]');
  compareRows(ctx, path.basename(big), await shownRows(bigFrame), bigReport);
  ctx.check('status shows the statistics as done', (await statusOf(bigFrame)) === 'done');
}
