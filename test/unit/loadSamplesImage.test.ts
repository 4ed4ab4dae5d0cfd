import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testModel } from '../testModels';
import { cli, FIXTURES, maxAbsDiff, python, readFloat32Npy, samplesOf, tempDir } from './dataTestKit';

// PIL's resize + normalize, the reference the decoded tensors are checked against.
const REFERENCE = `
import sys, numpy as np
from PIL import Image
d, H, W = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for f in sys.argv[4:]:
    img = Image.open(f'{d}/{f}').convert('RGB').resize((W, H), Image.BILINEAR)
    a = (np.asarray(img, dtype=np.float32) / 255 - 0.5) / 0.5
    np.save(f'{d}/../{f}.nchw.npy', a.transpose(2, 0, 1).astype(np.float32))
    np.save(f'{d}/../{f}.nhwc.bgr.npy', a[:, :, ::-1].astype(np.float32))
`;

const OCR = 'ch_ppocr_mobile_v2.0_cls_infer.onnx';
const DIMS = { 'p2o.DynamicDimension.1': 48, 'p2o.DynamicDimension.2': 192 };
const DIMS_FLAG = 'p2o.DynamicDimension.1=48,p2o.DynamicDimension.2=192';
const FILES = ['line0.png', 'line1.png', 'line2.png', 'line3.png', 'line4.jpg'];

describe('image data', () => {
  let dir: string;
  let images: string;
  before(() => {
    dir = tempDir('images');
    images = path.join(dir, 'images');
    fs.mkdirSync(images);
    python([path.join(FIXTURES, 'make_text_images.py'), images]);
    python(['-c', REFERENCE, images, '48', '192', ...FILES]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('decodes text-line images as PIL resizes and normalizes them (within 2/255)', async () => {
    const set = await samplesOf(testModel(OCR), {
      data: [{ path: images }],
      dims: DIMS,
      calibration: 0,
      recipe: {
        version: 1,
        inputs: { x: { source: 'image', image: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } } },
      },
    });
    assert.equal(set.source, 'files');
    assert.equal(set.evaluation.length, FILES.length);
    FILES.forEach((f, i) => {
      const t = set.evaluation[i].x;
      assert.deepEqual(t.dims, [1, 3, 48, 192]);
      const ref = readFloat32Npy(path.join(dir, `${f}.nchw.npy`));
      // Measured: at most 2 of 255 pixel levels (×2 after the 0.5 std) between libvips and PIL.
      assert.ok(
        maxAbsDiff(t.data as Float32Array, ref) <= (2 / 255) * 2 + 1e-6,
        `${f}: ${maxAbsDiff(t.data as Float32Array, ref)}`,
      );
    });
  });

  it('lays out NHWC and BGR as the recipe asks', async () => {
    const model = path.join(dir, 'nhwc.onnx');
    python([
      '-c',
      `import onnx, sys
from onnx import helper, TensorProto
g = helper.make_graph([helper.make_node('Identity', ['img'], ['out'])], 'g',
  [helper.make_tensor_value_info('img', TensorProto.FLOAT, [1, 48, 192, 3])],
  [helper.make_tensor_value_info('out', TensorProto.FLOAT, [1, 48, 192, 3])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]); m.ir_version = 8
onnx.save(m, sys.argv[1])`,
      model,
    ]);
    const set = await samplesOf(model, {
      data: [{ path: path.join(images, 'line3.png') }],
      recipe: {
        version: 1,
        inputs: { img: { source: 'image', image: { channels: 'BGR', mean: [0.5], std: [0.5] } } },
      },
    });
    const t = set.evaluation[0].img;
    assert.deepEqual(t.dims, [1, 48, 192, 3]);
    assert.ok(
      maxAbsDiff(t.data as Float32Array, readFloat32Npy(path.join(dir, 'line3.png.nhwc.bgr.npy'))) <=
        4 / 255 + 1e-6,
    );
  });

  it('verifies the OCR classifier on the images, skipping an undecodable one by name', async (t) => {
    const work = tempDir('ocr');
    t.after(() => fs.rmSync(work, { recursive: true, force: true }));
    const data = path.join(work, 'data');
    fs.cpSync(images, data, { recursive: true });
    fs.writeFileSync(path.join(data, 'broken.png'), 'this is not a PNG');
    const model = path.join(work, 'ocr.onnx');
    fs.copyFileSync(testModel(OCR), model);
    const converted = cli(['convert', model, '--fp16', '--data', data, '--dims', DIMS_FLAG, '--json']);
    assert.equal(converted.status, 0, converted.stderr);
    assert.match(converted.stderr, /broken\.png: cannot be decoded as an image/);
    const report = JSON.parse(converted.stdout);
    assert.equal(report.data.source, 'files');
    assert.equal(report.data.calibration + report.data.evaluation, FILES.length);
    assert.deepEqual(
      report.data.skipped.map((s: { path: string }) => path.basename(s.path)),
      ['broken.png'],
    );
    assert.match(
      fs.readFileSync(path.join(work, 'ocr.fp16.report.md'), 'utf8'),
      /Measured on the model's real inputs/,
    );
    const verified = cli([
      'verify',
      model,
      path.join(work, 'ocr.fp16.onnx'),
      '--data',
      data,
      '--dims',
      DIMS_FLAG,
      '--calibration',
      '0',
      '--json',
    ]);
    assert.equal(verified.status, 0, verified.stderr);
    const v = JSON.parse(verified.stdout);
    assert.equal(v.data.evaluation, FILES.length);
    // Every evaluation image was run and compared (the figures pool them; dims are one image's scores).
    assert.equal(v.metrics.samples, FILES.length);
    assert.equal(v.metrics.task, 'classification');
    assert.deepEqual(v.outputs[0].dims, [1, 2]);
    assert.ok(v.outputs[0].cosine > 0.999);
  });

  it('fails with exit 1 when no file is usable, naming the files', () => {
    const work = tempDir('bad-images');
    try {
      fs.writeFileSync(path.join(work, 'a.png'), 'not an image');
      fs.writeFileSync(path.join(work, 'b.png'), '');
      const r = cli(['data', testModel(OCR), '--data', work, '--dims', DIMS_FLAG]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /nothing usable is left/);
      assert.match(r.stderr, /a\.png: cannot be decoded as an image/);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
