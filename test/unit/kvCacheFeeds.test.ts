import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openModel } from '../../src/runtime/openModel';
import { synthesizeFeeds } from '../../src/runtime/verifyModels';
import { testModel } from '../testModels';
import { loadOrt } from '../../src/runtime/loadOrt';

const ort = loadOrt();

describe('synthesized inputs of a KV-cache model (ORT GenAI GPT-2 export): empty past, full window', () => {
  const feedsOf = (dims: Record<string, number>) => {
    const model = openModel(testModel('ortgenai_tiny_random_gpt2_fp32_past.onnx'));
    try {
      const main = model.index.graphs[0];
      return synthesizeFeeds(
        ort,
        model.index,
        main.inputs.map((i) => i.name),
        { dims },
        [],
      );
    } finally {
      model.close();
    }
  };

  for (const window of [8, 16]) {
    it(`window ${window}: past length 0, attention_mask over the window, position_ids 0…${window - 1}`, async () => {
      const feeds = feedsOf(window === 8 ? {} : { seq_len: window });
      assert.deepEqual(feeds.input_ids.dims, [1, window]);
      assert.deepEqual(feeds.attention_mask.dims, [1, window]);
      assert.ok(Array.from(feeds.attention_mask.data as Int32Array).every((v) => v === 1));
      assert.deepEqual(
        Array.from(feeds.position_ids.data as Int32Array),
        Array.from({ length: window }, (_, i) => i),
      );
      for (const [name, t] of Object.entries(feeds))
        if (name.startsWith('past_')) assert.equal(t.dims[3], 0, `${name} [${t.dims}]`);
      // onnxruntime accepts them: the present outputs hold the window.
      const session = await ort.InferenceSession.create(
        testModel('ortgenai_tiny_random_gpt2_fp32_past.onnx'),
      );
      try {
        const out = await session.run(feeds);
        assert.equal(out.present_0.dims[3], window);
        assert.equal(out.logits.dims[1], window);
      } finally {
        await session.release();
      }
    });
  }
});
