// Extension-host suite of the sweep and the measured sensitivity in the model editor: selecting a weight
// makes the webview ask for its sweep, computed in a worker and equal to the core's weightSweep; "Measure
// Sensitivity" runs the CLI, writes <model>.sensitivity.json atomically and the webview gets its rows; an
// open model loads an existing report; cancelling writes nothing.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { summarizeModel } from '../../src/core/inspect/summarizeModel';
import { readFloat32 } from '../../src/core/quant/planQuantize';
import { isSweepable, type WeightSweep } from '../../src/core/sensitivity/sweepPoints';
import { weightSweep } from '../../src/core/sensitivity/weightSweep';
import { openModel as openFile } from '../../src/runtime/openModel';
import {
  activate,
  closeAll,
  contributes,
  copyTestModel,
  lastState,
  openModel,
  testModels,
  tempDir,
  waitFor,
  type LastState,
} from './helpers';

/** lastState with what this feature adds (src/extension/commands.ts). */
interface SensitivityState extends LastState {
  sweeps: { id: number; sweep?: WeightSweep; error?: string }[];
  sensitivity?: { file: string; bits: number; layers: { name: string; outputSqnrDb: number }[] };
}

/** What `bigShrink.measureSensitivity` returns (src/extension/sensitivityCommand.ts). */
interface Outcome {
  status: 'done' | 'failed' | 'cancelled' | 'skipped';
  model?: string;
  file?: string;
  layers?: number;
  error?: { file: string; reason: string };
}

const state = async (uri: vscode.Uri) => (await lastState(uri)) as SensitivityState | undefined;

const copyModel = (name?: string) => copyTestModel('big-shrink-sensitivity-', name).model;

/** The first MatMul weight (input B, [K, N]) of `file` and its sweep straight from the core. */
function matMulWeight(file: string): { id: number; name: string; sweep: WeightSweep } {
  const m = openFile(file);
  try {
    const t = m.index.tensors.find(
      (x) =>
        x.dims.length === 2 &&
        x.consumers.some((c) => c.input === 1 && m.index.nodes[c.nodeId].opType === 'MatMul'),
    )!;
    assert.ok(t, `${file} has a MatMul weight`);
    const values = readFloat32(t, m.source, m.resolveExternal)!;
    return { id: t.id, name: t.name, sweep: weightSweep(values, t.dims[0], t.dims[1], { blockSize: 32 }) };
  } finally {
    m.close();
  }
}

suite('Sweep and measured sensitivity', () => {
  const config = () => vscode.workspace.getConfiguration('bigShrink.sensitivity');
  suiteSetup(async () => {
    await activate();
    // Only the selected weight is swept: the sweep must come from the selection, not the background job.
    await config().update('sweepAll', false, vscode.ConfigurationTarget.Global);
  });
  suiteTeardown(async () => {
    await config().update('sweepAll', undefined, vscode.ConfigurationTarget.Global);
  });
  teardown(closeAll);

  test('contributes Measure Sensitivity (editor title, palette) and the bigShrink.sensitivity settings', async () => {
    const c = contributes<{
      menus: Record<string, { command: string; when?: string }[]>;
      configuration: { properties: Record<string, { default: unknown }> };
    }>();
    assert.ok((await vscode.commands.getCommands(true)).includes('bigShrink.measureSensitivity'));
    for (const menu of ['editor/title', 'commandPalette'])
      assert.ok(
        c.menus[menu].some(
          (m) => m.command === 'bigShrink.measureSensitivity' && /bigShrink\.modelEditor/.test(m.when ?? ''),
        ),
        `${menu} offers it in the model editor`,
      );
    assert.strictEqual(c.configuration.properties['bigShrink.sensitivity.bits'].default, 4);
    assert.strictEqual(c.configuration.properties['bigShrink.sensitivity.blockSize'].default, 32);
    assert.strictEqual(c.configuration.properties['bigShrink.sensitivity.sweepAll'].default, true);
  });

  test('selecting a MatMul weight: the webview asks, a worker sweeps, the message equals weightSweep', async () => {
    const model = copyModel();
    const expected = matMulWeight(model);
    const { uri } = await openModel(model);
    await vscode.commands.executeCommand('bigShrink._test.revealTensor', uri, expected.name);
    const s = await waitFor(
      `the sweep of ${expected.name} to reach the webview`,
      () => state(uri),
      (x) => !!x && x.rendered.some((r) => r.view === 'sweep') && x.sweeps.some((r) => r.id === expected.id),
    );
    assert.strictEqual(s!.selection?.name, expected.name, 'the webview selected the revealed weight');
    assert.ok(s!.received.includes('sweep/request'), 'the webview asked for the sweep');
    assert.ok(s!.posted.includes('sweep/rows'), 'the host sent it');
    const got = s!.sweeps.find((r) => r.id === expected.id)!;
    assert.strictEqual(got.error, undefined);
    assert.deepStrictEqual(got.sweep, expected.sweep);
    assert.ok(got.sweep!.bits[2] < got.sweep!.bits[8], 'more bits, less error');
    // Only selections were swept (the first row, selected on open, and this one): the background is off.
    assert.ok(s!.sweeps.length <= 2, `${s!.sweeps.length} sweeps`);
  });

  test('with bigShrink.sensitivity.sweepAll every weight of 2+ dims is swept in the background', async () => {
    await config().update('sweepAll', true, vscode.ConfigurationTarget.Global);
    try {
      const model = copyModel();
      const m = openFile(model);
      const weights = summarizeModel(m.index, m.file).tensors.filter(isSweepable);
      m.close();
      assert.ok(weights.length >= 4, `${weights.length} weights to sweep`);
      const { uri } = await openModel(model);
      const s = await waitFor(
        'the background sweeps',
        () => state(uri),
        (x) => !!x && weights.every((w) => x.sweeps.some((r) => r.id === w.id && r.sweep)),
      );
      assert.strictEqual(new Set(s!.sweeps.map((r) => r.id)).size, s!.sweeps.length, 'each sweep once');
    } finally {
      await config().update('sweepAll', false, vscode.ConfigurationTarget.Global);
    }
  });

  test('Measure Sensitivity writes <model>.sensitivity.json and the webview gets its rows; reopening loads it', async function () {
    this.timeout(180000);
    const model = copyModel();
    const { uri } = await openModel(model);
    const before = await state(uri);
    assert.strictEqual(before?.sensitivity, undefined, 'not measured yet');
    const outcome = await vscode.commands.executeCommand<Outcome>('bigShrink.measureSensitivity', uri, {
      bits: 4,
    });
    assert.strictEqual(outcome.status, 'done', JSON.stringify(outcome.error));
    const file = model.replace(/\.onnx$/, '.sensitivity.json');
    assert.strictEqual(outcome.file, file);
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      bits: number;
      layers: { name: string; outputSqnrDb: number; sweep: WeightSweep }[];
    };
    assert.strictEqual(saved.bits, 4);
    assert.ok(saved.layers.length >= 4, `${saved.layers.length} layers`);
    assert.strictEqual(outcome.layers, saved.layers.length);
    assert.deepStrictEqual(
      fs.readdirSync(path.dirname(model)).filter((f) => f.includes('.tmp-')),
      [],
      'no temporary file left',
    );
    const s = await waitFor(
      'the measured rows to reach the webview',
      () => state(uri),
      (x) => !!x && x.rendered.some((r) => r.view === 'sensitivity' && r.rows > 0),
    );
    assert.ok(s!.posted.includes('sensitivity/report'));
    assert.deepStrictEqual(
      s!.sensitivity!.layers.map((l) => [l.name, l.outputSqnrDb]),
      saved.layers.map((l) => [l.name, l.outputSqnrDb]),
    );
    const shown = s!.rendered.filter((r) => r.view === 'sensitivity').pop()!;
    assert.strictEqual(shown.rows, saved.layers.length, 'every measured layer has a row in the table');

    // The data-free sweep of the report and the editor's agree for the same weight.
    const weight = matMulWeight(model);
    const layer = saved.layers.find((l) => l.name === weight.name);
    assert.ok(layer, `${weight.name} was measured`);
    assert.deepStrictEqual(layer!.sweep, weight.sweep);

    await closeAll();
    const reopened = await openModel(model);
    const again = await waitFor(
      'the saved report to load',
      () => state(reopened.uri),
      (x) => !!x && x.rendered.some((r) => r.view === 'sensitivity' && r.rows === saved.layers.length),
    );
    assert.strictEqual(again!.sensitivity!.file, file);
  });

  test('a model onnxruntime cannot load: the command fails with the file and the reason, writes nothing', async () => {
    const dir = tempDir('big-shrink-sensitivity-');
    const model = path.join(dir, 'linear.onnx');
    // Gemm-6 (an old opset onnxruntime no longer implements).
    fs.copyFileSync(path.join(testModels(), 'onnx-backend/pytorch-converted/test_Linear/model.onnx'), model);
    const outcome = await vscode.commands.executeCommand<Outcome>(
      'bigShrink.measureSensitivity',
      vscode.Uri.file(model),
    );
    assert.strictEqual(outcome.status, 'failed');
    assert.strictEqual(outcome.error?.file, model);
    assert.match(outcome.error?.reason ?? '', /onnxruntime cannot load it/);
    assert.deepStrictEqual(fs.readdirSync(dir), ['linear.onnx']);
  });

  test('cancelling Measure Sensitivity leaves no report', async function () {
    this.timeout(120000);
    const model = copyModel('ortgenai_tiny_random_gpt2_fp32_past.onnx');
    const { uri } = await openModel(model);
    const run = vscode.commands.executeCommand<Outcome>('bigShrink.measureSensitivity', uri);
    await waitFor(
      'the run to start',
      () => vscode.commands.executeCommand<number>('bigShrink._test.cancelSensitivity'),
      (n) => n > 0,
    );
    const outcome = await run;
    assert.strictEqual(outcome.status, 'cancelled');
    assert.deepStrictEqual(fs.readdirSync(path.dirname(model)), ['bert.onnx'], 'the folder is as it was');
    assert.strictEqual((await state(uri))?.sensitivity, undefined);
  });
});
