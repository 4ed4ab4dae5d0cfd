// Extension-host suite of the next steps after a fidelity FAIL: the notification of a failing quantization
// offers them (the command's outcome lists what it offered), the side panel draws them as buttons, and a
// button runs the step (GPTQ at the same bits; the most sensitive layer excluded).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { mlpModel } from '../unit/cliFixtures';
import {
  activate,
  closeAll,
  readJson,
  reportsState,
  tempDir,
  waitFor,
  type TransformOutcome,
} from './helpers';

interface Report {
  options: Record<string, unknown>;
  summary: { status: string };
  tensors: { name: string; weightSqnrDb: number }[];
}

const quantize = (model: string, preset: string) =>
  vscode.commands.executeCommand<TransformOutcome & { nextSteps?: string[] }>(
    'bigShrink.quantize',
    vscode.Uri.file(model),
    { preset, force: true },
  );

const ALL = ['Shrink to Target…', 'Try a data-aware method', 'Exclude the most sensitive layers'];

suite('Next steps after a fidelity FAIL', () => {
  suiteSetup(activate);
  teardown(closeAll);

  test('2-bit RTN FAILs: the notification and the panel offer the next steps; a pass offers none', async () => {
    const dir = tempDir('big-shrink-nextsteps-');
    const model = path.join(dir, 'mlp.onnx');
    fs.writeFileSync(model, mlpModel());
    const failed = await quantize(model, 'nbits2');
    assert.strictEqual(failed.status, 'done', JSON.stringify(failed.error));
    assert.strictEqual(readJson<Report>(failed.reportJson!).summary.status, 'fail');
    assert.deepStrictEqual(failed.nextSteps, ALL);
    const drawn = await waitFor(
      'the panel to draw the next steps',
      () => reportsState<{ file: string }>(),
      (s) => s.rendered?.current === failed.reportJson && (s.rendered?.nextSteps?.length ?? 0) > 0,
    );
    assert.deepStrictEqual(drawn.rendered?.nextSteps, ALL);

    const passed = await quantize(model, 'nbits8');
    assert.strictEqual(passed.status, 'done', JSON.stringify(passed.error));
    assert.strictEqual(passed.nextSteps, undefined);
    const clean = await waitFor(
      'the panel to show the passing report',
      () => reportsState<{ file: string }>(),
      (s) => s.rendered?.current === passed.reportJson,
    );
    assert.deepStrictEqual(clean.rendered?.nextSteps, []);
  });

  test('the panel’s buttons run GPTQ at the same bits, and quantize again without the most sensitive layer', async function () {
    this.timeout(180000);
    const dir = tempDir('big-shrink-nextsteps-run-');
    const model = path.join(dir, 'mlp.onnx');
    fs.writeFileSync(model, mlpModel());
    const failed = await quantize(model, 'nbits2');
    const rtn = readJson<Report>(failed.reportJson!);
    await waitFor(
      'the panel to show the failing report',
      () => reportsState<{ file: string }>(),
      (s) => s.current?.file === failed.reportJson,
    );
    const worst = [...rtn.tensors].sort((a, b) => a.weightSqnrDb - b.weightSqnrDb)[0].name;

    await vscode.commands.executeCommand('bigShrink._test.panelMessage', {
      type: 'nextStep/run',
      file: failed.reportJson,
      kind: 'dataAware',
    });
    const gptq = readJson<Report>(failed.reportJson!);
    assert.deepStrictEqual([gptq.options.method, gptq.options.bits], ['gptq', 2]);

    // GPTQ may pass: fail again with round-to-nearest before the next button.
    const again = await quantize(model, 'nbits2');
    assert.deepStrictEqual(again.nextSteps, ALL);
    await waitFor(
      'the panel to show the failing report again',
      () => reportsState<{ file: string }>(),
      (s) => s.current?.file === failed.reportJson,
    );
    await vscode.commands.executeCommand('bigShrink._test.panelMessage', {
      type: 'nextStep/run',
      file: failed.reportJson,
      kind: 'excludeSensitive',
    });
    const excluded = readJson<Report>(failed.reportJson!);
    assert.ok(
      new RegExp(String(excluded.options.exclude)).test(worst),
      `${worst} excluded: ${excluded.options.exclude}`,
    );
    assert.ok(!excluded.tensors.some((t) => t.name === worst), `${worst} stays in float`);
    assert.strictEqual(excluded.tensors.length, rtn.tensors.length - 1);
  });
});
