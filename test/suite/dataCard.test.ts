// Extension-host suite of the model editor's Data card: an open model shows "synthetic inputs" until data
// is chosen; choosing a folder (the dialog's answer given by the test hook) has the CLI child read it, the
// recipe MODEL.inputs.json is written beside the model and the card shows the sample count and the split;
// a folder that cannot be used shows why and leaves the recipe alone.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  activate,
  closeAll,
  EXTENSION_ID,
  lastState,
  openModel,
  tempDir,
  waitFor,
  type LastState,
} from './helpers';

interface DataState {
  status: 'none' | 'loading' | 'ready' | 'error';
  recipeFile?: string;
  section?: { source: string; calibration: number; evaluation: number; paths: string[] };
  preview?: { kind: string; thumbnails?: { dataUrl: string }[] };
  error?: string;
}

const state = async (uri: vscode.Uri) =>
  (await lastState(uri)) as (LastState & { data?: DataState }) | undefined;

/** Text-line PNGs drawn by sharp from SVG (the extension bundles sharp's loader; the test uses its own). */
async function textLines(dir: string, lines: string[]): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sharp = require('sharp') as typeof import('sharp');
  for (const [i, text] of lines.entries()) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="240" height="60"><rect width="100%" height="100%" fill="white"/><text x="10" y="42" font-size="28" font-family="sans-serif">${text}</text></svg>`;
    await sharp(Buffer.from(svg))
      .png()
      .toFile(path.join(dir, `line${i}.png`));
  }
}

suite('Data card', () => {
  suiteSetup(activate);
  teardown(closeAll);

  test('choosing a folder writes MODEL.inputs.json and shows the samples and split', async () => {
    const dir = tempDir('big-shrink-datacard-');
    try {
      const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
      const model = path.join(dir, 'ocr.onnx');
      fs.copyFileSync(
        path.join(ext.extensionPath, 'test', 'models', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
        model,
      );
      const images = path.join(dir, 'images');
      fs.mkdirSync(images);
      await textLines(images, ['hello world', 'big shrink', 'data card', 'real inputs']);

      const { uri } = await openModel(model);
      const none = await waitFor(
        'the Data card to read the model',
        () => state(uri),
        (s) => !!s?.data && s.data.status !== 'loading',
      );
      assert.strictEqual(none?.data?.status, 'none');
      assert.strictEqual(none?.data?.section?.source, 'synthetic');

      const bad = path.join(dir, 'bad');
      fs.mkdirSync(bad);
      fs.writeFileSync(path.join(bad, 'x.png'), 'not an image');
      const refused = (await vscode.commands.executeCommand(
        'bigShrink._test.dataAction',
        uri,
        'chooseFolder',
        bad,
      )) as DataState;
      assert.strictEqual(refused.status, 'error');
      assert.match(refused.error ?? '', /x\.png: cannot be decoded as an image/);
      assert.ok(!fs.existsSync(path.join(dir, 'ocr.inputs.json')), 'no recipe for unusable data');

      const chosen = (await vscode.commands.executeCommand(
        'bigShrink._test.dataAction',
        uri,
        'chooseFolder',
        images,
      )) as DataState;
      assert.strictEqual(chosen.status, 'ready', chosen.error);
      assert.strictEqual(chosen.recipeFile, path.join(dir, 'ocr.inputs.json'));
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(chosen.recipeFile!, 'utf8')).data, ['images']);
      assert.strictEqual(chosen.section!.calibration + chosen.section!.evaluation, 4);
      assert.ok((chosen.preview?.thumbnails?.length ?? 0) >= 4);
      assert.ok(chosen.preview!.thumbnails![0].dataUrl.startsWith('data:image/png;base64,'));
      // The webview got the new state.
      const after = await waitFor(
        'the webview to get the data state',
        () => state(uri),
        (s) => (s?.posted.filter((p) => p === 'data/state').length ?? 0) >= 2,
      );
      assert.ok(after);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
