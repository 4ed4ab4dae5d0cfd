// End-to-end test of the model editor's Graph tab in a real VS Code (code-server) and Chromium, run by
// test/e2e/lib/run-e2e.js (see test/e2e/CONTRACT.md):
//   - the Graph tab of sample-mlp.onnx, tiny BERT and the tiny GPT-2 lists one accessible node per node of
//     the model (count equal to `big-shrink inspect --json`'s model.nodeCount), each named by op type and
//     node name; the transformer layers are found as blocks;
//   - a click on a node on the canvas selects its weight in the layers table, and a row selected in the
//     table selects its node; ArrowDown moves to a consumer;
//   - "Exclude from quantization" on the fc1/MatMul node writes ^fc1\.weight$ into the workspace folder's
//     bigShrink.quantize.exclude, and the next "Quantize to 4-bit" leaves fc1.weight in float32 (read back
//     with `big-shrink inspect --json` on the written model) while fc2.weight is quantized;
//   - screenshots in dark, light and high-contrast themes under test-results/e2e/graph/.
import * as fs from 'fs';
import * as path from 'path';
import type { Frame, Page } from 'playwright-core';
import type { E2eContext } from './lib/types';
import type { PageDocument, PageElement } from './pageDom';
import {
  clearToasts,
  contextCommand,
  editorFrame,
  focusWorkbench,
  openWorkbench,
  screenshot,
  transformFiles,
  waitForFiles,
} from './workbenchSteps';

declare const document: PageDocument & { activeElement: PageElement | null };

interface CliReport {
  model: { nodeCount: number; graphs: string[] };
  tensors: { name: string; dtype: string; consumers: string[]; consumerOps: string[]; learned: boolean }[];
}

/** Test models the graph must show, copied from test/models into the workspace. */
const MODELS = ['tiny_bert_random_inline.onnx', 'ortgenai_tiny_random_gpt2_fp32_past.onnx'];

/** Quick-open `name` and return its editor's frame (a Ctrl+P lost to a focused webview is tried again). */
async function open(ctx: E2eContext, page: Page, name: string): Promise<Frame> {
  for (let attempt = 1; ; attempt++) {
    await focusWorkbench(page);
    await ctx.web.quickOpen(page, name);
    try {
      return await editorFrame(page, name, attempt < 3 ? 10000 : 30000);
    } catch (e) {
      if (attempt >= 3) throw e;
      ctx.log(`${name} did not open (attempt ${attempt}); trying again`);
      await page.keyboard.press('Escape');
    }
  }
}

/** Show the Graph tab and wait until its node list is filled and no layout is running. */
async function showGraph(frame: Frame): Promise<void> {
  await frame.click('vscode-tab-header[data-tab="graph"]');
  await frame.waitForFunction(
    () =>
      [...document.querySelectorAll('[data-testid="graph-nodes"] li')].length > 0 &&
      document.querySelector('[data-testid="graph-view"]')?.getAttribute('aria-busy') !== 'true',
    undefined,
    { timeout: 60000 },
  );
  await frame.waitForTimeout(300);
}

/** The accessible node list: kind, op type, name, aria-label, weights, box and selection of every node. */
function graphNodes(frame: Frame) {
  return frame.evaluate(() =>
    [...document.querySelectorAll('[data-testid="graph-nodes"] li')].map((li) => ({
      index: Number(li.dataset.index),
      kind: li.dataset.kind ?? '',
      op: li.dataset.op ?? '',
      name: li.dataset.name ?? '',
      label: li.getAttribute('aria-label') ?? '',
      weights: (li.dataset.weights ?? '').split('\n').filter(Boolean),
      box: li.dataset.box ? li.dataset.box.split(',').map(Number) : undefined,
      selected: li.getAttribute('aria-selected') === 'true',
    })),
  );
}

/** Page coordinates of the centre of node `index` on the canvas (undefined when it is not in view). */
async function nodePoint(frame: Frame, index: number): Promise<{ x: number; y: number } | undefined> {
  const canvas = frame.locator('canvas[data-testid="graph-canvas"]');
  const rect = await canvas.boundingBox();
  const info = await frame.evaluate((i) => {
    const li = document.querySelector(`[data-testid="graph-nodes"] li[data-index="${i}"]`);
    const view = document.querySelector('canvas[data-testid="graph-canvas"]')?.getAttribute('data-view');
    return { box: li?.dataset.box, view };
  }, index);
  if (!rect || !info.box || !info.view) return undefined;
  const [x, y, w, h] = info.box.split(',').map(Number);
  const [scale, tx, ty] = info.view.split(',').map(Number);
  const px = rect.x + (x + w / 2) * scale + tx;
  const py = rect.y + (y + h / 2) * scale + ty;
  const inside = px > rect.x && py > rect.y && px < rect.x + rect.width && py < rect.y + rect.height;
  return inside ? { x: px, y: py } : undefined;
}

/** The node list against `inspect --json`: one op node per index node, each named by op type and name. */
async function checkNodes(ctx: E2eContext, frame: Frame, file: string, what: string) {
  const cli = (await ctx.inspect(file)) as CliReport;
  const nodes = await graphNodes(frame);
  const ops = nodes.filter((n) => n.kind === 'op');
  ctx.check(
    `${what}: the accessible node list has model.nodeCount (${cli.model.nodeCount}) nodes`,
    cli.model.graphs.length === 1 && ops.length === cli.model.nodeCount,
    `${ops.length} listed, graphs ${cli.model.graphs.join(', ')}`,
  );
  const unnamed = ops.filter((n) => !n.label.startsWith(`${n.op} ${n.name}`) || !n.op || !n.name);
  ctx.check(
    `${what}: every node's accessible name is its op type and name`,
    unnamed.length === 0,
    JSON.stringify(unnamed.slice(0, 3)),
  );
  // Every learned weight the CLI lists as read by a node sits on a listed node (Constant-node weights too).
  const onNodes = new Set(ops.flatMap((n) => n.weights));
  const missing = cli.tensors.filter((t) => t.learned && t.consumers.length > 0 && !onNodes.has(t.name));
  ctx.check(
    `${what}: every learned weight read by a node is shown on it`,
    missing.length === 0,
    missing
      .slice(0, 4)
      .map((t) => t.name)
      .join(', '),
  );
  return { cli, nodes };
}

/** The tensor selected in the layers table (the Layers tab is shown first: the table is drawn when visible). */
async function selectedInTable(frame: Frame): Promise<string | undefined> {
  await frame.click('vscode-tab-header[data-tab="layers"]');
  await frame.waitForTimeout(400);
  return frame.evaluate(
    () => document.querySelector('[data-testid="layers-table"] [aria-selected="true"]')?.dataset.tensorName,
  );
}

export async function run(ctx: E2eContext): Promise<void> {
  const dir = path.join(ctx.workspace, 'graph-models');
  fs.mkdirSync(dir, { recursive: true });
  for (const m of MODELS) fs.copyFileSync(path.join(ctx.root, 'test', 'models', m), path.join(dir, m));
  const page = await openWorkbench(ctx, 'Big Shrink: Quantize to 4-bit');
  ctx.log('workbench ready');

  // ---- sample-mlp.onnx: nodes, click <-> table, keyboard ----
  const sample = path.join(ctx.workspace, 'sample-mlp.onnx');
  let frame = await open(ctx, page, 'sample-mlp.onnx');
  const t0 = Date.now();
  await showGraph(frame);
  ctx.metric('graph tab of sample-mlp (click -> nodes listed)', Date.now() - t0, 'ms');
  const { nodes } = await checkNodes(ctx, frame, sample, 'sample-mlp');
  await screenshot(ctx, page, 'sample-graph-dark');

  const fc1 = nodes.find((n) => n.weights.includes('fc1.weight'));
  ctx.check(
    'fc1.weight sits on the fc1/MatMul node',
    fc1?.name === 'fc1/MatMul' && fc1.op === 'MatMul',
    JSON.stringify(fc1),
  );
  if (!fc1) return;
  await frame.click('[data-testid="graph-fit"]');
  await frame.waitForTimeout(300);
  const at = await nodePoint(frame, fc1.index);
  ctx.check('the fc1/MatMul node is drawn in view after Fit', !!at);
  if (at) {
    await page.mouse.click(at.x, at.y);
    await frame.waitForTimeout(300);
    const selected = (await graphNodes(frame)).find((n) => n.selected);
    ctx.check(
      'a click on the node selects it in the graph',
      selected?.index === fc1.index,
      `${selected?.name}`,
    );
    const inTable = await selectedInTable(frame);
    ctx.check(
      'a click on the fc1/MatMul node selects fc1.weight in the layers table',
      inTable === 'fc1.weight',
      `${inTable}`,
    );
  }
  // The other way: a row selected in the table selects the node that reads it.
  await frame.click('[data-testid="layers-table"] [data-tensor-name="fc2.weight"]');
  await frame.waitForTimeout(200);
  await frame.click('vscode-tab-header[data-tab="graph"]');
  await frame.waitForTimeout(300);
  const fromTable = (await graphNodes(frame)).find((n) => n.selected);
  ctx.check(
    'selecting fc2.weight in the table selects the fc2/Gemm node',
    fromTable?.name === 'fc2/Gemm',
    `${fromTable?.name}`,
  );
  // Keyboard: ArrowDown from fc2/Gemm moves to its consumer fc2_relu.
  if (fromTable) {
    await frame.focus(`[data-testid="graph-nodes"] li[data-index="${fromTable.index}"]`);
    await frame.press(`[data-testid="graph-nodes"] li[data-index="${fromTable.index}"]`, 'ArrowDown');
    await frame.waitForTimeout(300);
    const next = (await graphNodes(frame)).find((n) => n.selected);
    ctx.check(
      'ArrowDown moves from fc2/Gemm to its consumer fc2_relu',
      next?.name === 'fc2_relu',
      `${next?.name}`,
    );
  }

  // ---- "Exclude from quantization", then Quantize to 4-bit ----
  await frame.click('[data-testid="graph-fit"]');
  await frame.waitForTimeout(300);
  const point = await nodePoint(frame, fc1.index);
  if (point) await page.mouse.click(point.x, point.y, { button: 'right' });
  const menuShown = await frame
    .locator('[data-testid="graph-menu"]:not([hidden]) [data-testid="graph-menu-exclude"]')
    .waitFor({ timeout: 5000 })
    .then(() => true)
    .catch(() => false);
  ctx.check('a right-click on the node opens its menu with "Exclude from quantization"', menuShown);
  await screenshot(ctx, page, 'node-menu-dark');
  if (menuShown) await frame.click('[data-testid="graph-menu-exclude"]');
  const settingsFile = path.join(ctx.workspace, '.vscode', 'settings.json');
  let exclude: string | undefined;
  for (let i = 0; i < 50 && exclude === undefined; i++) {
    await page.waitForTimeout(200);
    try {
      exclude = (JSON.parse(fs.readFileSync(settingsFile, 'utf8')) as Record<string, string>)[
        'bigShrink.quantize.exclude'
      ];
    } catch {
      exclude = undefined;
    }
  }
  ctx.check(
    'the exclusion is written to the workspace folder settings as ^fc1\\.weight$',
    exclude === '^fc1\\.weight$',
    `${exclude}`,
  );
  await clearToasts(page);
  const { out, reportJson } = transformFiles(ctx, 'sample-mlp.int4.onnx');
  await contextCommand(ctx, page, 'sample-mlp.onnx', 'Quantize to 4-bit');
  const written = await waitForFiles([out, reportJson], 120000);
  ctx.check('Quantize to 4-bit writes sample-mlp.int4.onnx', written);
  if (written) {
    const after = (await ctx.inspect(out)) as CliReport;
    const fc1After = after.tensors.find((t) => t.name === 'fc1.weight');
    ctx.check(
      'in the written model fc1.weight is still float32',
      fc1After?.dtype === 'float32',
      JSON.stringify(fc1After),
    );
    const fc2After = after.tensors.find((t) => t.name === 'fc2.weight');
    ctx.check(
      'fc2.weight (not excluded) was quantized',
      fc2After === undefined || fc2After.dtype !== 'float32',
      JSON.stringify(fc2After),
    );
  }

  // ---- tiny BERT and tiny GPT-2: node counts and transformer blocks ----
  for (const m of MODELS) {
    await clearToasts(page);
    frame = await open(ctx, page, m);
    const t1 = Date.now();
    await showGraph(frame);
    ctx.metric(`graph tab of ${m} (click -> nodes listed)`, Date.now() - t1, 'ms');
    await checkNodes(ctx, frame, path.join(dir, m), m);
    const blocks = await frame.evaluate(
      () =>
        [...document.querySelectorAll('[data-testid="graph-nodes"] li')].filter(
          (li) => /layers\.\d|h\.\d/.test(li.getAttribute('aria-label') ?? '') || !!li.dataset.box,
        ).length,
    );
    ctx.check(`${m}: nodes listed with their places`, blocks > 0);
    await screenshot(ctx, page, `${m.replace(/\.onnx$/, '')}-graph-dark`);
  }
  // Search jumps to a node by name (an exact name first), Enter to the next match.
  await frame.fill('[data-testid="graph-search"]', 'GptAttention_2');
  await frame.waitForTimeout(600);
  const found = (await graphNodes(frame)).find((n) => n.selected);
  ctx.check(
    'typing GptAttention_2 in the search box jumps to that node',
    found?.name === 'GptAttention_2',
    `${found?.name}`,
  );
  await frame.press('[data-testid="graph-search"]', 'Enter');
  await frame.waitForTimeout(600);
  const next = (await graphNodes(frame)).find((n) => n.selected);
  ctx.check(
    'Enter jumps to the next match, GptAttention_2_matmul',
    next?.name === 'GptAttention_2_matmul',
    `${next?.name}`,
  );
  // The node reading a tensor is found by the tensor's name.
  await frame.fill('[data-testid="graph-search"]', 'transformer.h.3.mlp.c_fc.weight');
  await frame.waitForTimeout(600);
  const reader = (await graphNodes(frame)).find((n) => n.selected);
  ctx.check(
    'searching a weight name selects the node that reads it',
    !!reader?.weights.includes('transformer.h.3.mlp.c_fc.weight'),
    `${reader?.name}`,
  );

  // ---- themes, with the weight-size overlay and its legend ----
  await frame.selectOption('[data-testid="graph-overlay"]', 'size');
  await frame.waitForTimeout(300);
  const legend = await frame.evaluate(
    () => document.querySelector('[data-testid="graph-legend"]')?.textContent ?? '',
  );
  ctx.check('the weight-size overlay shows its legend', /KiB/.test(legend), legend);
  for (const [theme, kind, name] of [
    ['Default Light Modern', 'vscode-light', 'light'],
    ['Default High Contrast', 'vscode-high-contrast', 'high-contrast'],
    ['Default Dark Modern', 'vscode-dark', 'dark'],
  ] as const) {
    await focusWorkbench(page);
    await ctx.setColorTheme(page, theme);
    await frame
      .waitForFunction((k) => document.body.classList.contains(k), kind, { timeout: 20000 })
      .catch(() => undefined);
    await clearToasts(page);
    await screenshot(ctx, page, `graph-overlay-${name}`);
  }
}
