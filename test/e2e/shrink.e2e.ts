// End-to-end test of "Shrink to Target…" in a real VS Code (code-server) and Chromium, run by
// test/e2e/lib/run-e2e.js (see test/e2e/CONTRACT.md):
//   - the palette lists "Big Shrink: Shrink to Target…";
//   - Explorer right-click on sample-mlp.onnx -> "Shrink to Target…" -> the target quick pick (the
//     setting's cosine>=0.999 active) -> sqnr>=30 -> "No size limit" -> sample-mlp.shrink.onnx and both
//     reports appear; the side panel shows the shrink report: the target line, the comparison with every
//     uniform baseline, the trade-off plot (its canvas painted, one point per candidate and baseline with a
//     figure), the candidates (what each changed, the one written = summary.chosenStep) and the layer rows
//     (one loss column per precision measured), read inside its webview, equal the report JSON; sorting
//     the layers; a layer row reveals its weight in the model editor;
//   - the model editor's title bar "Shrink to Target…" on tiny BERT -> "Custom…": a target the parser
//     refuses shows its reason as it is typed; sqnr>=35 -> "At most…" 1 MB -> the report says both;
//   - a `--refine` shrink run by the CLI, picked in the panel's history: its lowered steps are listed;
//   - screenshots under test-results/e2e/shrink/ (dark, then light).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Frame, Locator, Page } from 'playwright-core';
import type { Baseline } from '../../src/core/shrink/shrinkReport';
import type { Candidate } from '../../src/core/shrink/shrinkSearch';
import type { E2eContext } from './lib/types';
import type { PageCanvas, PageDocument } from './pageDom';
import {
  checkPickOrder,
  choose,
  clearToasts,
  contextCommand,
  editorFrame,
  editorTitleAction,
  focusWorkbench,
  openExplorer,
  openPanelFromActivityBar,
  openWorkbench,
  overwriteDialog,
  panelFrame,
  pickRow,
  quickPickRows,
  revealedInEditor,
  rowProblems,
  sameValues,
  screenshot,
  show,
  succeeds,
  transformFiles,
  waitForFiles,
} from './workbenchSteps';

interface Report {
  options: Record<string, unknown>;
  summary: { bytesBefore: number; bytesAfter: number; target: string; achieved?: number; chosenStep: number };
  layers: {
    name: string;
    op: string;
    params: number;
    choice: string;
    why: string;
    /** Every loss measured; an identical output's SQNR (infinite) is null. */
    losses: { choice: string; sqnrDb: number | null; cosine: number }[];
  }[];
  candidates: Candidate[];
  baselines: Record<string, Baseline>;
  precisionLabels: Record<string, string>;
}

// frame.evaluate() callbacks run inside the webview: `document` is the page's own (pageDom.ts).
declare const document: PageDocument;

const readReport = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Report;
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));

/** The baselines in the panel's order: uniform 8-bit, uniform 4-bit, then the others as the report has them. */
const baselineOrder = (report: Report) => [
  'uniform8',
  'uniform4',
  ...Object.keys(report.baselines).filter((id) => id !== 'uniform8' && id !== 'uniform4'),
];

/** The precisions some layer has a loss at, in the order of the report's precisionLabels (the ladder's). */
const measuredPrecisions = (report: Report) => {
  const measured = new Set(report.layers.flatMap((l) => l.losses.map((x) => x.choice)));
  return Object.keys(report.precisionLabels).filter((p) => measured.has(p));
};

/** The dataset key of a row's `data-loss-<precision>-<what>` attribute: lossInt4b128Sqnr. */
const lossKey = (p: string, what: 'Sqnr' | 'Cosine') => `loss${p[0].toUpperCase()}${p.slice(1)}${what}`;

/** What a candidate changed, as the panel's rows say it (data-change). */
const changeOf = (c: Report['candidates'][number]) =>
  c.fallback ? 'fallback' : c.lowered ? 'lowered' : c.raised ? 'raised' : 'start';

/** The data-* of every row of table `testId` in the panel. */
function rowData(frame: Frame, testId: string): Promise<Record<string, string | undefined>[]> {
  return frame.evaluate(
    (id) => [...document.querySelectorAll(`[data-testid="${id}"] tbody tr`)].map((r) => ({ ...r.dataset })),
    testId,
  );
}

/** The trade-off canvas: how many of its pixels are painted, its point count and its text alternative. */
function paintedPlot(frame: Frame): Promise<{ painted: number; points: number; label: string }> {
  return frame.evaluate(() => {
    const el = document.querySelector('[data-testid="tradeoff-chart"]');
    const canvas = el as unknown as PageCanvas | null;
    if (!el || !canvas || !canvas.width || !canvas.height) return { painted: 0, points: NaN, label: '' };
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
    return {
      painted,
      points: Number(el.dataset.points),
      label: el.getAttribute('aria-label') ?? '',
    };
  });
}

/** The target line, the comparison table and the plot against the report. */
async function checkSummaryAndPlot(ctx: E2eContext, frame: Frame, report: Report): Promise<void> {
  const s = report.summary;
  const target = await frame.evaluate(() => ({
    ...document.querySelector('[data-testid="shrink-target"]')?.dataset,
  }));
  ctx.check(
    `the panel states the target ${s.target}, achieved ${s.achieved}, met`,
    target.target === s.target && num(target.achieved) === s.achieved && target.met === 'true',
    JSON.stringify(target),
  );
  const comparison = await rowData(frame, 'shrink-comparison');
  const order = baselineOrder(report);
  const want = [
    ['original', s.bytesBefore, undefined, undefined],
    ...order.map((id) => {
      const b = report.baselines[id];
      return [id, b.bytes, b.fidelity?.cosine, b.fidelity?.sqnrDb];
    }),
    ['shrink', s.bytesAfter],
  ];
  const got = comparison.map((r, i) =>
    i === comparison.length - 1
      ? [r.config, num(r.bytes)]
      : [r.config, num(r.bytes), num(r.cosine), num(r.sqnr)],
  );
  ctx.check(
    `the comparison lists the original, every baseline (${order.join(', ')}) and the shrink with the report’s sizes and fidelity`,
    order.length > 2 && JSON.stringify(got) === JSON.stringify(want),
    `${JSON.stringify(got)} vs ${JSON.stringify(want)}`,
  );
  ctx.check(
    'every baseline says whether it meets the target as the report does',
    sameValues(
      comparison.slice(1, 1 + order.length).map((r) => r.meets),
      order.map((id) => String(report.baselines[id].meetsTarget)),
    ),
    show(comparison.map((r) => r.meets)),
  );

  // The plot: a canvas with pixels drawn, one point per candidate and per baseline with a figure (an
  // infinite SQNR has no place on the axis).
  const plot = await paintedPlot(frame);
  const plottable = [...report.candidates, ...Object.values(report.baselines)].filter(
    (c) => c.fidelity && Number.isFinite(c.fidelity.sqnrDb),
  ).length;
  ctx.check(
    `the trade-off plot is painted (${plot.painted} pixels) with ${plottable} points`,
    plot.painted > 1000 && plot.points === plottable,
    JSON.stringify(plot),
  );
  ctx.check(
    'the plot has a text alternative naming the candidates and the target',
    plot.label.includes(`${report.candidates.length} candidates`) && plot.label.includes(s.target),
    plot.label,
  );

  const candidates = await rowData(frame, 'candidate-table');
  // The written candidate is the one the engine names (with --refine or a fallback, not always the last met).
  const chosen = report.candidates.find((c) => c.step === s.chosenStep);
  const problems: string[] = [];
  if (candidates.length !== report.candidates.length)
    problems.push(`${candidates.length} rows for ${report.candidates.length} candidates`);
  report.candidates.forEach((c, i) => {
    const r = candidates[i];
    const expected = [
      c.step,
      c.bytes,
      c.fidelity?.sqnrDb,
      String(c.met),
      c === chosen ? 'true' : undefined,
      changeOf(c),
      c.raised?.name,
      c.lowered?.name,
    ];
    const shown = r && [
      num(r.step),
      num(r.bytes),
      num(r.value),
      r.met,
      r.chosen,
      r.change,
      r.raised,
      r.lowered,
    ];
    if (!shown || !sameValues(shown, expected))
      problems.push(`#${c.step}: ${show(shown ?? [])} vs ${show(expected)}`);
  });
  ctx.check(
    `the candidates table has the ${report.candidates.length} candidates in order, what each changed, the written one (#${chosen?.step}) marked`,
    problems.length === 0,
    problems.slice(0, 3).join('; '),
  );
}

/** Every layer row against the report's layers. */
async function checkLayers(ctx: E2eContext, frame: Frame, report: Report): Promise<void> {
  const rows = await rowData(frame, 'layer-table');
  const problems = rowProblems(
    report.layers,
    rows,
    (r) => r.layerName,
    'layers',
    (l, r) => {
      // Every loss the report measured, and no other.
      const losses = measuredPrecisions(report).flatMap((p) => {
        const x = l.losses.find((y) => y.choice === p);
        return [x && (x.sqnrDb ?? Infinity), x?.cosine];
      });
      return {
        expected: [l.op, l.params, l.choice, l.why, ...losses],
        got: [
          r.op,
          num(r.params),
          r.choice,
          r.why,
          ...measuredPrecisions(report).flatMap((p) => [
            num(r[lossKey(p, 'Sqnr')]),
            num(r[lossKey(p, 'Cosine')]),
          ]),
        ],
      };
    },
  );
  ctx.check(
    `${rows.length} layer rows equal the report (op, params, choice, why, every loss measured)`,
    problems.length === 0,
    problems.slice(0, 3).join('; '),
  );
  const columns = await frame.evaluate(() =>
    [...document.querySelectorAll('[data-testid="layer-table"] thead th')].map((th) => th.dataset.col),
  );
  const lossColumns = measuredPrecisions(report).map((p) => `loss-${p}`);
  ctx.check(
    `the layer table has one loss column per precision measured, lowest first (${lossColumns.join(', ')})`,
    sameValues(
      columns.filter((c) => c?.startsWith('loss-')),
      lossColumns,
    ),
    show(columns),
  );
  const whyShown = await frame.evaluate(() =>
    [...document.querySelectorAll('[data-testid="layer-table"] [data-testid="layer-why"]')].map(
      (e) => e.textContent,
    ),
  );
  ctx.check(
    'each layer row shows why it got its precision',
    sameValues(
      whyShown,
      rows.map((r) => r.why),
    ),
    show(whyShown.slice(0, 2)),
  );
}

/** The title bar flow on tiny BERT: a custom target (a bad one is refused as typed) and a size limit. */
async function shrinkBertFromTitleBar(ctx: E2eContext, page: Page, action: Locator): Promise<void> {
  await page.waitForTimeout(500);
  await action.click();
  await choose(page, 'Custom…');
  const input = page.locator('.quick-input-widget input').first();
  const message = page.locator('.quick-input-widget .quick-input-message');
  // The quick pick and the input box share the widget: type only once the box's prompt shows.
  await message.filter({ hasText: 'Fidelity the worst output' }).first().waitFor({ timeout: 15000 });
  await input.fill('cosine>=2');
  const refused = await succeeds(
    message.filter({ hasText: 'can never be met' }).first().waitFor({ timeout: 10000 }),
  );
  await screenshot(ctx, page, 'custom-target-refused-dark');
  ctx.check(
    'a custom target the parser refuses shows its reason as it is typed',
    refused,
    (await message
      .first()
      .textContent()
      .catch(() => '')) ?? '',
  );
  await input.fill('sqnr>=35');
  await page.keyboard.press('Enter');
  await choose(page, 'At most…');
  await message.filter({ hasText: 'Largest acceptable model' }).first().waitFor({ timeout: 15000 });
  await input.fill('1 MB');
  await screenshot(ctx, page, 'size-limit-typed-dark');
  await page.keyboard.press('Enter');
  const json = path.join(ctx.workspace, 'models', 'tiny_bert_random_inline.shrink.report.json');
  const ok = await waitForFiles([json, json.replace('.report.json', '.onnx')], 120000);
  ctx.check('the title bar flow writes tiny_bert_random_inline.shrink.onnx', ok);
  if (!ok) return;
  const report = readReport(json);
  ctx.check(
    'the report says target sqnr>=35, at most 1000000 bytes, and the model fits',
    report.options.target === 'sqnr>=35' &&
      report.options.maxBytes === 1000000 &&
      report.summary.bytesAfter <= 1000000,
    JSON.stringify({ options: report.options, bytes: report.summary.bytesAfter }),
  );
  const frame = await panelFrame(ctx, page, json);
  await clearToasts(page);
  await checkSummaryAndPlot(ctx, frame, report);
  await checkLayers(ctx, frame, report);
  await screenshot(ctx, page, 'panel-bert-dark');
}

/**
 * `big-shrink shrink sample-mlp.onnx --target sqnr>=30 --refine` in a terminal writes a report whose last
 * candidates lower layers from the one that met; picked in the panel's history, it is drawn with those
 * steps (data-change "lowered") and the candidate the engine wrote marked.
 */
async function showRefinedReport(ctx: E2eContext, page: Page): Promise<void> {
  const model = path.join(ctx.workspace, 'sample-mlp.onnx');
  const json = path.join(ctx.workspace, 'sample-mlp.refined.report.json');
  execFileSync(
    process.execPath,
    [
      ctx.cli,
      'shrink',
      model,
      '--target',
      'sqnr>=30',
      '--refine',
      '-o',
      json.replace('.report.json', '.onnx'),
    ],
    { stdio: 'ignore' },
  );
  const report = readReport(json);
  ctx.check(
    'the --refine report has steps lowered after the first that met',
    report.candidates.some((c) => c.lowered),
    report.candidates.map(changeOf).join(', '),
  );
  let frame = await panelFrame(ctx, page);
  const entry = `[data-testid="history"] [data-report="${json}"]`;
  await frame.waitForSelector(entry, { timeout: 30000 });
  await frame.click(entry);
  frame = await panelFrame(ctx, page, json);
  await clearToasts(page);
  await checkSummaryAndPlot(ctx, frame, report);
  await screenshot(ctx, page, 'panel-refined-dark');
}

export async function run(ctx: E2eContext): Promise<void> {
  const page = await openWorkbench(ctx, 'Big Shrink: Shrink to Target…');
  ctx.check('the command palette lists "Big Shrink: Shrink to Target…"', true);

  // ---- right-click -> Shrink to Target… -> sqnr>=30 -> No size limit ----
  const { out, reportJson, reportMd } = transformFiles(ctx, 'sample-mlp.shrink.onnx');
  const t0 = Date.now();
  await contextCommand(ctx, page, 'sample-mlp.onnx', 'Shrink to Target…', 'explorer-menu-dark.png');
  await checkPickOrder(
    ctx,
    page,
    ['cosine>=0.999', 'cosine>=0.99', 'sqnr>=30', 'top1>=0.99', 'Custom…'],
    'the quick pick offers cosine>=0.999, cosine>=0.99, sqnr>=30, top1>=0.99 and Custom…, in that order',
    'the setting’s cosine>=0.999 is the active (default) item',
  );
  await screenshot(ctx, page, 'target-pick-dark');
  await choose(page, 'sqnr>=30');
  await pickRow(page, 'No size limit').waitFor({ timeout: 15000 });
  await screenshot(ctx, page, 'size-limit-pick-dark');
  await choose(page, 'No size limit');
  const written = await waitForFiles([out, reportJson, reportMd], 120000);
  ctx.check('picking it writes sample-mlp.shrink.onnx and both reports', written);
  ctx.metric('shrink sample-mlp (right-click -> files written)', Date.now() - t0, 'ms');
  if (!written) return;
  const report = readReport(reportJson);
  ctx.check(
    'the report says target sqnr>=30 and no size limit',
    report.options.target === 'sqnr>=30' && report.options.maxBytes === undefined,
    JSON.stringify(report.options),
  );

  // The panel opens by itself with the new report.
  let frame = await panelFrame(ctx, page, reportJson);
  ctx.check('the side panel opens by itself with the shrink report', true);
  await screenshot(ctx, page, 'panel-after-shrink-dark');
  await clearToasts(page);
  await checkSummaryAndPlot(ctx, frame, report);
  await checkLayers(ctx, frame, report);
  await screenshot(ctx, page, 'panel-shrink-dark');
  await frame.evaluate(() =>
    (
      document.querySelector('[data-testid="section-layers"]') as unknown as { scrollIntoView(): void }
    ).scrollIntoView(),
  );
  await screenshot(ctx, page, 'panel-shrink-layers-dark');

  // Sort the layers by a loss every layer has (the search starts each layer at its lowest precision).
  const every = measuredPrecisions(report).find((p) =>
    report.layers.every((l) => l.losses.some((x) => x.choice === p)),
  );
  await frame.click(`[data-testid="layer-table"] th[data-col="loss-${every}"] button`);
  const sorted = (await rowData(frame, 'layer-table')).map((r) => Number(r[lossKey(every ?? '', 'Sqnr')]));
  ctx.check(
    `clicking the ${every} loss column sorts the layers by that loss, highest SQNR first`,
    sorted.length === report.layers.length && sorted.every((v, i) => i === 0 || sorted[i - 1] >= v),
    sorted.join(', '),
  );

  // A layer row reveals its weight in the model editor.
  const target = report.layers[0].name;
  await frame.click(`[data-testid="layer-table"] tr[data-layer-name="${target}"]`);
  const { revealed } = await revealedInEditor(page, 'sample-mlp.onnx', target);
  ctx.check(
    `a click on layer ${target} opens sample-mlp.onnx in the model editor with it selected`,
    revealed,
  );
  await clearToasts(page);
  await screenshot(ctx, page, 'panel-and-editor-dark');

  // ---- the same again: the target, then "Overwrite?" (modal); Overwrite replaces the model and reports ----
  await openExplorer(page);
  const stamps = [out, reportJson].map((f) => fs.statSync(f).mtimeMs);
  await contextCommand(ctx, page, 'sample-mlp.onnx', 'Shrink to Target…');
  await pickRow(page, 'top1>=0.99').waitFor({ timeout: 15000 });
  const top1 = (await quickPickRows(page)).rows.find((r) => r.startsWith('top1>=0.99')) ?? '';
  ctx.check(
    'with a report of the model at hand, top1>=0.99 is offered without the "needs [batch, classes]" caveat',
    !!top1 && !top1.includes('needs [batch, classes]'),
    top1,
  );
  await choose(page, 'sqnr>=30');
  await choose(page, 'No size limit');
  const dialog = await overwriteDialog(page);
  ctx.check('shrinking again asks "Overwrite?" in a modal dialog', !!dialog);
  if (dialog) {
    await screenshot(ctx, page, 'overwrite-dialog-dark');
    await dialog.locator('.monaco-button', { hasText: 'Overwrite' }).first().click();
    const changed = () =>
      [out, reportJson].every((f, i) => fs.existsSync(f) && fs.statSync(f).mtimeMs !== stamps[i]);
    const deadline = Date.now() + 60000;
    while (!changed() && Date.now() < deadline) await page.waitForTimeout(200);
    ctx.check('Overwrite replaces the model and its report', changed() && fs.existsSync(reportMd));
  }

  // ---- the model editor's title bar: Shrink to Target… -> Custom… (checked as typed) -> at most 1 MB ----
  // A model without [batch, classes] outputs, open in the editor: no top-1 target is offered.
  await openExplorer(page);
  await focusWorkbench(page);
  await ctx.web.quickOpen(page, 'dtln_model_2.onnx');
  await editorFrame(page, 'dtln_model_2.onnx', 60000);
  const dtlnAction = page
    .locator('.part.editor .editor-actions .action-label[aria-label^="Shrink to Target"]')
    .first();
  await dtlnAction.waitFor({ timeout: 30000 });
  await page.waitForTimeout(500);
  await dtlnAction.click();
  await pickRow(page, 'sqnr>=30').waitFor({ timeout: 15000 });
  const rows = (await quickPickRows(page)).rows;
  ctx.check(
    'for dtln_model_2 (3-D outputs), open in the editor, the targets leave out top1>=0.99',
    rows.some((r) => r.startsWith('sqnr>=30')) && !rows.some((r) => r.startsWith('top1')),
    rows.map((r) => r.split(',')[0]).join(' | '),
  );
  await page.keyboard.press('Escape');

  const action = await editorTitleAction(ctx, page, 'tiny_bert_random_inline.onnx', 'Shrink to Target');
  ctx.check('the model editor title bar has "Shrink to Target…"', !!action);
  if (action) await shrinkBertFromTitleBar(ctx, page, action);

  // ---- a --refine shrink from the CLI: the panel lists the steps lowered while backing off ----
  await focusWorkbench(page);
  await openPanelFromActivityBar(page);
  await showRefinedReport(ctx, page);

  // ---- light theme ----
  await focusWorkbench(page);
  await openPanelFromActivityBar(page);
  await ctx.setColorTheme(page, 'Default Light Modern');
  // The panel shows the last shrink (tiny BERT's).
  frame = await panelFrame(ctx, page);
  await frame
    .waitForFunction(() =>
      (document as unknown as { body: { className: string } }).body.className.includes('vscode-light'),
    )
    .catch(() => undefined);
  await page.waitForTimeout(500);
  const light = await paintedPlot(frame);
  ctx.check(
    `in the light theme the plot is drawn again (${light.painted} pixels)`,
    light.painted > 1000,
    JSON.stringify(light),
  );
  await screenshot(ctx, page, 'panel-shrink-light');
  await ctx.setColorTheme(page, 'Default Dark Modern');
}
