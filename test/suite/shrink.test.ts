// Extension-host suite of "Shrink to Target…": the command runs `big-shrink shrink` in a child process
// through the runner the other transforms use and writes MODEL.shrink.onnx with both reports; the Big
// Shrink panel receives the shrink report (target, layers, candidates, baselines) and draws the plot, the
// candidates and the layers; a layer row reveals its weight in the model editor; the quick pick's default
// comes from `bigShrink.shrink.target`; a bad target is refused before anything runs, a target no
// candidate meets ends in the CLI's reason naming the model; cancelling leaves the folder as it was.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Candidate } from '../../src/core/shrink/shrinkSearch';
import type { Fidelity } from '../../src/core/shrink/shrinkTarget';
import type { LayerLoss, ShrinkFigures } from '../../src/protocol/shrinkFigures';
import {
  acceptQuickPick,
  activate,
  assertCancelLeavesNothing,
  assertTransformCommand,
  closeAll,
  contributes,
  copyTestModel,
  lastState,
  listing,
  makeSampleModel,
  readJson,
  reportsState,
  runExtensionScript,
  tempDir,
  waitFor,
  type TransformOutcome,
} from './helpers';

/** The side panel's current report (the parts read here). */
interface Current {
  file: string;
  transform: string;
  variant: string;
  shrink?: ShrinkFigures;
}

interface Report {
  options: Record<string, unknown>;
  summary: { target: string; achieved?: number; bytesAfter: number; chosenStep: number };
  layers: { name: string; choice: string; why: string; losses: LayerLoss[] }[];
  candidates: Candidate[];
  baselines: Record<string, { bytes: number; fidelity?: Fidelity }>;
  precisionLabels: Record<string, string>;
}

const panelState = () => reportsState<Current>();
const readReport = (file: string) => readJson<Report>(file);
const shrink = (model: string, request?: Record<string, unknown>) =>
  vscode.commands.executeCommand<TransformOutcome>(
    'bigShrink.shrinkToTarget',
    vscode.Uri.file(model),
    request,
  );

const copyModel = () => copyTestModel('big-shrink-shrink-');

suite('Shrink to Target and the side panel', () => {
  suiteSetup(activate);
  teardown(closeAll);

  test('contributes "Shrink to Target…" to the Explorer, the model editor title and the palette, with a setting', async () => {
    await assertTransformCommand('bigShrink.shrinkToTarget', 'Shrink to Target…');
    const c = contributes<{
      configuration: { properties: Record<string, { default: unknown; pattern?: string }> };
    }>();
    const setting = c.configuration.properties['bigShrink.shrink.target'];
    assert.strictEqual(setting?.default, 'cosine>=0.999');
    const pattern = new RegExp(setting.pattern!);
    assert.ok(['cosine>=0.999', 'sqnr >= 30', 'top1>=.99'].every((t) => pattern.test(t)));
    assert.ok(!['cosine>0.9', 'accuracy>=0.9', ''].some((t) => pattern.test(t)));
  });

  test('a fixed target writes MODEL.shrink.onnx and both reports; the panel gets and draws the shrink report', async () => {
    const { dir, model } = copyModel();
    const outcome = await shrink(model, { target: 'sqnr>=40' });
    assert.strictEqual(outcome.status, 'done', JSON.stringify(outcome.error));
    assert.deepStrictEqual(listing(dir), [
      'bert.onnx',
      'bert.shrink.onnx',
      'bert.shrink.report.json',
      'bert.shrink.report.md',
    ]);
    const report = readReport(outcome.reportJson!);
    assert.strictEqual(report.options.target, 'sqnr>=40');
    assert.ok(report.candidates.length > 1, 'several candidates: a trade-off curve');

    const state = await waitFor(
      'the side panel to draw the shrink report',
      panelState,
      (s) =>
        s.rendered?.current === outcome.reportJson &&
        s.rendered?.shrink?.candidateRows === report.candidates.length &&
        s.rendered?.shrink?.layerRows === report.layers.length,
    );
    assert.ok(state.visible, 'the panel is visible');
    assert.ok(state.posted.includes('reports/current') || state.posted.includes('reports/init'));
    assert.strictEqual(state.current?.transform, 'shrink');
    assert.strictEqual(state.current?.variant, 'target sqnr>=40');
    const s = state.current!.shrink!;
    assert.strictEqual(s.target, report.summary.target);
    assert.strictEqual(s.achieved, report.summary.achieved);
    assert.ok(s.met);
    assert.deepStrictEqual(
      s.candidates.map((c) => [c.step, c.bytes, c.met, c.fidelity]),
      report.candidates.map((c) => [c.step, c.bytes, c.met, c.fidelity]),
    );
    // The written model is the candidate the engine names (it met the target), and its size is the file's.
    const chosen = report.candidates.find((c) => c.step === report.summary.chosenStep);
    assert.ok(chosen?.met, `candidate ${report.summary.chosenStep} is written and met the target`);
    assert.strictEqual(s.chosenStep, chosen.step);
    assert.strictEqual(report.summary.bytesAfter, chosen.bytes);
    assert.strictEqual(report.summary.bytesAfter, fs.statSync(outcome.output!).size);
    assert.deepStrictEqual(
      s.layers.map((l) => [l.name, l.choice, l.why, l.losses]),
      // An identical output (SQNR infinite) is null in JSON.
      report.layers.map((l) => [
        l.name,
        l.choice,
        l.why,
        l.losses.map((x) => ({ ...x, sqnrDb: x.sqnrDb ?? Infinity })),
      ]),
    );
    // Every uniform configuration the engine ran: 8-bit, then 4-bit, then the others in the report's order.
    const others = Object.keys(report.baselines).filter((id) => id !== 'uniform8' && id !== 'uniform4');
    assert.ok(others.length > 0, 'the engine compares with more than uniform 8 and 4 bits');
    const order = ['uniform8', 'uniform4', ...others];
    assert.deepStrictEqual(
      s.baselines.map((b) => [b.id, b.bytes, b.fidelity]),
      order.map((id) => [id, report.baselines[id].bytes, report.baselines[id].fidelity]),
    );
    // Every candidate and baseline with a figure is plotted; the comparison has a row for each baseline.
    const plottable = [...report.candidates, ...Object.values(report.baselines)].filter(
      (c) => c.fidelity && Number.isFinite(c.fidelity.sqnrDb),
    );
    assert.strictEqual(state.rendered!.shrink!.plotted, plottable.length);
    assert.deepStrictEqual(state.rendered!.shrink!.comparison, ['original', ...order, 'shrink']);
    // One loss column per precision measured, lowest first (the report's precisionLabels follow the ladder).
    const measured = new Set(report.layers.flatMap((l) => l.losses.map((x) => x.choice)));
    assert.ok(measured.size > 2, `losses measured at ${[...measured].join(', ')}`);
    assert.deepStrictEqual(state.rendered!.shrink!.layerColumns, [
      'name',
      'choice',
      ...Object.keys(report.precisionLabels)
        .filter((p) => measured.has(p))
        .map((p) => `loss-${p}`),
    ]);
  });

  test('a --refine report from the CLI: the panel shows the lowered steps and the candidate the engine wrote', async function () {
    this.timeout(120000);
    const { dir, model } = copyModel();
    // Exit 3 when the held-out evaluation samples miss what the calibration samples met: written either way.
    runExtensionScript('dist/cli.js', ['shrink', model, '--target', 'sqnr>=40', '--refine'], [0, 3]);
    const json = path.join(dir, 'bert.shrink.report.json');
    const report = readReport(json);
    const lowered = report.candidates.filter((c) => c.lowered);
    assert.ok(lowered.length > 0, 'backing off tried lowering layers');
    await vscode.commands.executeCommand('bigShrink._test.panelMessage', {
      type: 'report/select',
      file: json,
    });
    const state = await waitFor(
      'the side panel to draw the refined report',
      panelState,
      (st) =>
        st.rendered?.current === json && st.rendered?.shrink?.candidateRows === report.candidates.length,
    );
    const s = state.current!.shrink!;
    assert.deepStrictEqual(
      s.candidates.map((c) => [c.step, c.raised, c.lowered, c.fallback]),
      report.candidates.map((c) => [c.step, c.raised, c.lowered, c.fallback]),
    );
    assert.strictEqual(s.chosenStep, report.summary.chosenStep);
    assert.strictEqual(report.candidates[s.chosenStep! - 1].bytes, report.summary.bytesAfter);
    const plottable = [...report.candidates, ...Object.values(report.baselines)].filter(
      (c) => c.fidelity && Number.isFinite(c.fidelity.sqnrDb),
    );
    assert.strictEqual(state.rendered!.shrink!.plotted, plottable.length);
  });

  test('a layer row opens the input model with that layer’s weight selected', async () => {
    const { model } = copyModel();
    const outcome = await shrink(model, { target: 'cosine>=0.99' });
    assert.strictEqual(outcome.status, 'done', JSON.stringify(outcome.error));
    await waitFor('the panel to show it', panelState, (s) => s.current?.file === outcome.reportJson);
    const name = readReport(outcome.reportJson!).layers.at(-1)!.name;
    await vscode.commands.executeCommand('bigShrink._test.panelMessage', {
      type: 'tensor/reveal',
      file: outcome.reportJson,
      name,
    });
    const s = await waitFor(
      `${name} to be selected in the model editor`,
      () => lastState(vscode.Uri.file(model)),
      (st) => st?.selection?.name === name,
    );
    assert.ok(s?.posted.includes('editor/reveal'), 'the editor was asked to reveal it');
  });

  test('the quick pick: Enter, Enter runs the target of the settings without a size limit', async () => {
    const { model } = copyModel();
    const config = vscode.workspace.getConfiguration('bigShrink.shrink');
    await config.update('target', 'sqnr >= 35', vscode.ConfigurationTarget.Global);
    try {
      const running = shrink(model);
      await acceptQuickPick(2);
      const outcome = await running;
      assert.strictEqual(outcome.status, 'done', JSON.stringify(outcome));
      assert.strictEqual(path.basename(outcome.output!), 'bert.shrink.onnx');
      const report = readReport(outcome.reportJson!);
      assert.strictEqual(report.options.target, 'sqnr>=35');
      assert.strictEqual(report.options.maxBytes, undefined);
    } finally {
      await config.update('target', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test('a bad target is refused before anything runs, with the parser’s reason', async () => {
    const { dir, model } = copyModel();
    for (const [target, reason] of [
      ['cosine>=1.5', /can never be met/],
      ['accuracy>=0.9', /takes "cosine>=X"/],
    ] as const) {
      const outcome = await shrink(model, { target });
      assert.strictEqual(outcome.status, 'skipped', target);
      assert.strictEqual(outcome.error?.file, model, target);
      assert.match(outcome.error?.reason ?? '', reason);
    }
    const tooSmall = await shrink(model, { target: 'cosine>=0.99', maxBytes: -3 });
    assert.strictEqual(tooSmall.status, 'skipped');
    assert.match(tooSmall.error?.reason ?? '', /max-bytes/);
    assert.deepStrictEqual(listing(dir), ['bert.onnx']);
  });

  test('a target no candidate meets, or a size limit too small: the CLI’s reason names the model, nothing written', async () => {
    const { dir, model } = copyModel();
    const unmet = await shrink(model, { target: 'sqnr>=200' });
    assert.strictEqual(unmet.status, 'failed');
    assert.strictEqual(unmet.error?.file, model);
    assert.match(unmet.error?.reason ?? '', /sqnr>=200 is met by no candidate/);
    const limited = await shrink(model, { target: 'cosine>=0.999', maxBytes: 1000 });
    assert.strictEqual(limited.status, 'failed');
    assert.strictEqual(limited.error?.file, model);
    assert.ok(limited.error?.reason, 'a reason');
    assert.deepStrictEqual(listing(dir), ['bert.onnx']);
  });

  suite('cancelling', () => {
    let big = '';
    suiteSetup(function () {
      this.timeout(120000);
      // ~30 MB of MatMul/Gemm weights: several seconds of measuring and searching, then writing and verifying.
      big = makeSampleModel(path.join(tempDir('big-shrink-shrink-cancel-'), 'bench.onnx'), 30);
    });

    for (const when of ['measuring', 'the output appears'] as const) {
      test(`while ${when} leaves nothing behind`, async function () {
        this.timeout(180000);
        await assertCancelLeavesNothing(
          big,
          () => shrink(big, { target: 'cosine>=0.99' }),
          when === 'measuring' ? { afterMs: 800 } : { once: (added) => added.length > 0, withinMs: 150000 },
        );
      });
    }
  });
});
