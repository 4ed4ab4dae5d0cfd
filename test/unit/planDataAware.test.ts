import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_QUANTIZE_OPTIONS } from '../../src/core/quant/planQuantize';
import { openModel } from '../../src/runtime/openModel';
import { DataAwareCancelledError, planDataAware } from '../../src/runtime/planDataAware';
import { TEST_MODELS } from '../testModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const MODELS = TEST_MODELS;
const SCRIPT = path.join(REPO, 'dist', 'dataAwareWorker.js');

describe('planDataAware (calibration and solves on worker threads)', () => {
  const input = path.join(MODELS, 'tiny_bert_random_extdata.onnx');

  it('collects every activation of a model with external data and says what it ran on', async () => {
    const model = openModel(input);
    const messages: string[] = [];
    try {
      const plan = await planDataAware(
        model,
        DEFAULT_QUANTIZE_OPTIONS,
        'search',
        { batches: 2 },
        {
          workerScript: SCRIPT,
          onProgress: (m) => messages.push(m),
        },
      );
      assert.deepEqual(plan.uncovered, []);
      assert.equal(plan.rows.length, 14);
      // The Gemms see one row per batch: calibration goes on until they have K = 64 rows.
      assert.ok(
        plan.rows.every((r) => r.rows >= r.K),
        JSON.stringify(plan.rows.map((r) => r.rows)),
      );
      assert.match(plan.calibration, /^64 synthesized batches \(seeds 1001–1064\): input_ids int64\[1,8\]/);
      assert.ok(messages.some((m) => m.startsWith('calibrating: batch 64/64')));
      assert.ok(messages.some((m) => m.startsWith('quantized 14/14 layers')));
      const t0 = model.index.tensors.find((x) => x.name === plan.rows[0].name)!;
      const row = plan.rows[0];
      assert.ok(plan.quantizer(t0, row.layout, 1, row.K, row.N), 'the quantizer answers for a solved weight');
    } finally {
      model.close();
    }
  });

  it('stops when cancelled, during the calibration or the solves', async () => {
    for (const when of ['calibrating', 'quantiz']) {
      const model = openModel(input);
      const controller = new AbortController();
      try {
        await assert.rejects(
          planDataAware(
            model,
            DEFAULT_QUANTIZE_OPTIONS,
            'gptq',
            { batches: 2 },
            {
              workerScript: SCRIPT,
              signal: controller.signal,
              onProgress: (m) => {
                if (m.startsWith(when)) controller.abort();
              },
            },
          ),
          DataAwareCancelledError,
        );
      } finally {
        model.close();
      }
    }
  });
});
