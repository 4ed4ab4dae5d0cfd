import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { readFloat32 } from '../../src/core/quant/planQuantize';
import { sensitivityFileOf, summarizeSensitivity } from '../../src/core/sensitivity/sensitivitySummary';
import { isSweepable } from '../../src/core/sensitivity/sweepPoints';
import { sweepShape, tensorSweep } from '../../src/core/sensitivity/tensorSweep';
import { weightSweep } from '../../src/core/sensitivity/weightSweep';
import { DataType } from '../../src/core/tensor/dataType';
import { openModel } from '../../src/runtime/openModel';
import { measureSensitivity } from '../../src/runtime/sensitivity';
import { TEST_MODELS } from '../testModels';

const MODELS = TEST_MODELS;

describe('tensorSweep: the editor reads a weight the way big-shrink sensitivity does', () => {
  for (const file of ['tiny_bert_random_inline.onnx', 'ortgenai_tiny_random_gpt2_fp16_past.onnx']) {
    it(`${file}: every measured layer's sweep equals the CLI report's (MatMul, Gemm transB, fp16)`, async () => {
      const model = path.join(MODELS, file);
      const report = await measureSensitivity(model, { bits: 4 });
      assert.ok(report.layers.length >= 4, `${report.layers.length} layers measured`);
      const opened = openModel(model);
      try {
        for (const layer of report.layers) {
          const t = opened.index.tensors.find((x) => x.name === layer.name && x.graph === 'main')!;
          const sweep = tensorSweep(opened.index, t.id, opened.source, opened.resolveExternal);
          assert.deepEqual(sweep, layer.sweep, layer.name);
        }
      } finally {
        opened.close();
      }
    });
  }

  it('Gemm transB=1 reads [N, K]; a Conv weight [O, I, k, k] is blocked per output channel', () => {
    const opened = openModel(path.join(MODELS, 'oww_embedding_model.onnx'));
    try {
      const conv = opened.index.tensors.find(
        (t) => t.dims.length === 4 && t.consumers.some((c) => opened.index.nodes[c.nodeId].opType === 'Conv'),
      )!;
      const [O, I, kh, kw] = conv.dims;
      assert.deepEqual(sweepShape(opened.index, conv), { K: I * kh * kw, N: O, layout: 'NK', alpha: 1 });
      const values = readFloat32(conv, opened.source, opened.resolveExternal)!;
      const expected = weightSweep(values, I * kh * kw, O, { layout: 'NK' });
      assert.deepEqual(tensorSweep(opened.index, conv.id, opened.source, opened.resolveExternal), expected);
      // A different block size is a different result (the option reaches the quantizer).
      const wide = tensorSweep(opened.index, conv.id, opened.source, opened.resolveExternal, {
        blockSize: 16,
      });
      assert.notDeepEqual(wide.bits, expected.bits);
    } finally {
      opened.close();
    }
    const bert = openModel(path.join(MODELS, 'tiny_bert_random_inline.onnx'));
    try {
      const gemm = bert.index.tensors.find((t) =>
        t.consumers.some((c) => {
          const n = bert.index.nodes[c.nodeId];
          return n.opType === 'Gemm' && c.input === 1 && n.attributes.some((a) => a.name === 'transB' && a.i);
        }),
      )!;
      assert.ok(gemm, 'tiny BERT has a Gemm with transB=1');
      assert.deepEqual(sweepShape(bert.index, gemm), {
        K: gemm.dims[1],
        N: gemm.dims[0],
        layout: 'NK',
        alpha: 1,
      });
    } finally {
      bert.close();
    }
  });

  it('only learned float weights of 2+ dims are swept; others are refused with a reason', () => {
    const base = { dtype: 'float32', dims: [4, 8], learned: true };
    assert.equal(isSweepable(base), true);
    assert.equal(isSweepable({ ...base, dims: [32] }), false);
    assert.equal(isSweepable({ ...base, dtype: 'int8' }), false);
    assert.equal(isSweepable({ ...base, learned: false }), false);
    assert.equal(isSweepable({ ...base, dims: [0, 8] }), false);
    const opened = openModel(path.join(MODELS, 'tiny_bert_random_inline.onnx'));
    try {
      const bias = opened.index.tensors.find((t) => t.dims.length === 1 && t.dtype === DataType.FLOAT)!;
      assert.throws(
        () => tensorSweep(opened.index, bias.id, opened.source, opened.resolveExternal),
        /2 or more dims/,
      );
    } finally {
      opened.close();
    }
  });
});

describe('summarizeSensitivity', () => {
  it('keeps the per-layer figures, reads JSON null SQNR as Infinity (exact) or NaN (failed)', () => {
    const json = JSON.parse(
      JSON.stringify({
        bits: 4,
        blockSize: 32,
        layers: [
          {
            name: 'a',
            op: 'MatMul',
            params: 10,
            weightSqnrDb: 20,
            outputSqnrDb: 30.5,
            cosine: 0.99,
            cosineLoss: 0.01,
          },
          {
            name: 'b',
            op: 'Gemm',
            params: 5,
            weightSqnrDb: Infinity,
            outputSqnrDb: Infinity,
            cosine: 1,
            cosineLoss: 0,
          },
          {
            name: 'c',
            op: 'MatMul',
            params: 5,
            weightSqnrDb: 1,
            outputSqnrDb: NaN,
            cosine: NaN,
            cosineLoss: NaN,
            error: 'x',
          },
        ],
      }),
    );
    const s = summarizeSensitivity(json, '/m.sensitivity.json');
    assert.equal(s.bits, 4);
    assert.deepEqual(
      s.layers.map((l) => [l.name, l.outputSqnrDb, l.weightSqnrDb, l.error]),
      [
        ['a', 30.5, 20, undefined],
        ['b', Infinity, Infinity, undefined],
        ['c', NaN, 1, 'x'],
      ],
    );
    assert.throws(() => summarizeSensitivity({ tensors: [] }, 'f'), /not a sensitivity report/);
    assert.throws(() => summarizeSensitivity({ bits: 4, layers: [{}] }, 'f'), /layer 0 has no name/);
  });

  it('names the file after the model', () => {
    assert.equal(sensitivityFileOf('/w/model.onnx'), '/w/model.sensitivity.json');
    assert.equal(sensitivityFileOf('/w/Model.ONNX'), '/w/Model.sensitivity.json');
  });
});
