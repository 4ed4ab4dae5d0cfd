// The compare view in a real workbench: two models selected in the Explorer, "Compare with…" from the
// context menu; the rows the webview draws equal `big-shrink diff --json` (order, status, names, SQNR, max
// error), the selected tensor's histograms are drawn; screenshots in dark, light and high-contrast themes.
import { execFileSync } from 'child_process';
import * as path from 'path';
import type { Frame } from 'playwright-core';
import type { ModelDiff } from '../../src/core/diff/modelDiff';
import type { E2eContext } from './lib/types';
import type { PageCanvas, PageDocument } from './pageDom';
import {
  clearToasts,
  openExplorer,
  openWorkbench,
  rowProblems,
  screenshot,
  succeeds,
} from './workbenchSteps';

declare const document: PageDocument;

const ROOT = '[data-testid="compare"]';

interface Row {
  name: string;
  nameB: string | null;
  status: string;
  sqnr: string;
  maxAbsError: string;
}

/** The compare view's frame once its comparison has ended. */
async function compareFrame(ctx: E2eContext, page: import('playwright-core').Page): Promise<Frame> {
  const frame = await ctx.web.findWebviewFrame(page, ROOT, 60000);
  await frame.waitForSelector('[data-testid="compare-status"][data-status="done"]', { timeout: 120000 });
  return frame;
}

export async function run(ctx: E2eContext): Promise<void> {
  const original = path.join(ctx.workspace, 'sample-mlp.onnx');
  const quantized = path.join(ctx.workspace, 'sample-mlp.int4.onnx');
  execFileSync(process.execPath, [ctx.cli, 'quantize', original, '--bits', '4', '--no-verify'], {
    stdio: 'ignore',
  });
  const diffOf = (a: string, b: string) =>
    JSON.parse(
      execFileSync(process.execPath, [ctx.cli, 'diff', a, b, '--json'], { encoding: 'utf8' }),
    ) as ModelDiff;

  const page = await openWorkbench(ctx, 'Big Shrink: Compare with…');
  await openExplorer(page);
  // Click, then Ctrl+click; retried until the Explorer shows both selected (a click that lands while the
  // first file is still opening can be taken as a plain click, and the menu then offers a file picker).
  let selected = 0;
  for (let attempt = 1; attempt <= 3 && selected !== 2; attempt++) {
    await ctx.web.explorerItem(page, 'sample-mlp.onnx').click();
    await page.waitForTimeout(500);
    await ctx.web.explorerItem(page, 'sample-mlp.int4.onnx').click({ modifiers: ['Control'] });
    selected = await page.locator('.explorer-folders-view .monaco-list-row.selected').count();
    if (selected !== 2) ctx.log(`compare: ${selected} Explorer rows selected after attempt ${attempt}`);
  }
  ctx.check('both models are selected in the Explorer', selected === 2, `${selected} selected`);
  await ctx.web.explorerItem(page, 'sample-mlp.int4.onnx').click({ button: 'right' });
  const item = page.locator('.context-view .monaco-menu .action-item', { hasText: 'Compare with…' }).first();
  await item.waitFor({ timeout: 10000 });
  await page.waitForTimeout(400);
  await screenshot(ctx, page, 'compare-menu');
  await item.click();

  const frame = await compareFrame(ctx, page);
  // The Explorer gives the selection in its own order: the view names which side is A.
  const labelA = await frame.evaluate(
    () => document.querySelector('[data-testid="overview-a"] .side-label')?.textContent ?? '',
  );
  const [a, b] = labelA.includes('int4') ? [quantized, original] : [original, quantized];
  ctx.check('the view shows both models side by side', labelA.length > 0, labelA);
  const expected = diffOf(a, b);
  const listed = expected.tensors.filter((t) => t.status !== 'same' || t.nameB !== undefined);

  const rows = (await frame.evaluate(() =>
    [...document.querySelectorAll('[data-testid="compare-table"] tbody tr')].map((tr) => ({
      name: tr.dataset.tensorName ?? '',
      nameB: tr.dataset.nameB ?? null,
      status: tr.dataset.status ?? '',
      sqnr: tr.dataset.sqnr ?? '',
      maxAbsError: tr.dataset.maxAbsError ?? '',
    })),
  )) as Row[];
  ctx.check(
    'rows are in the order of big-shrink diff --json (worst SQNR first)',
    rows.map((r) => r.name).join('\n') === listed.map((t) => t.name).join('\n'),
    `${rows.length} rows for ${listed.length}`,
  );
  const problems = rowProblems(
    listed,
    rows,
    (r) => r.name,
    'tensors',
    (t, r) => ({
      got: [r.status, r.nameB, r.sqnr, r.maxAbsError],
      expected: [
        t.status,
        t.nameB ?? null,
        t.weightSqnrDb === null ? 'null' : String(t.weightSqnrDb),
        t.maxAbsError === null ? 'null' : String(t.maxAbsError),
      ],
    }),
  );
  ctx.check(
    'every row equals big-shrink diff --json',
    problems.length === 0,
    problems.slice(0, 5).join('; '),
  );
  ctx.check('the quantized weights changed', expected.summary.changed > 0, JSON.stringify(expected.summary));

  // The first row is selected and both of its histograms are drawn.
  const captioned = await succeeds(
    frame.waitForFunction(
      (name) =>
        (document.querySelector('[data-testid="histogram-caption"]')?.textContent ?? '').includes(
          `${name}`,
        ) &&
        (document.querySelector('[data-testid="histogram-caption"]')?.textContent ?? '').includes('bins'),
      listed[0]?.name ?? '',
      { timeout: 30000 },
    ),
  );
  ctx.check('the selected tensor has its histograms', captioned);
  const painted = await frame.evaluate(() => {
    const canvas = document.querySelector('canvas.overlay') as unknown as PageCanvas | null;
    const data = canvas?.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    if (data) for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return n;
  });
  ctx.check('the histogram canvas is painted', painted > 500, `${painted} pixels`);

  await clearToasts(page);
  await screenshot(ctx, page, 'compare-dark');
  for (const [theme, shot] of [
    ['Default Light Modern', 'compare-light'],
    ['Default High Contrast', 'compare-high-contrast'],
  ]) {
    await ctx.setColorTheme(page, theme);
    await page.waitForTimeout(800);
    await screenshot(ctx, page, shot);
  }
}
