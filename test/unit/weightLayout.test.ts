import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { ModelIndex, NodeInfo, TensorInfo } from '../../src/core/onnx/modelIndex';
import { weightLayout } from '../../src/core/onnx/weightLayout';
import { openModel } from '../../src/runtime/openModel';
import { TEST_MODELS } from '../testModels';

const MODELS = TEST_MODELS;

/** An index holding only the nodes weightLayout looks at. */
function indexOf(nodes: Pick<NodeInfo, 'opType' | 'domain'>[]): ModelIndex {
  return { nodes: nodes.map((n, id) => ({ ...n, id, attributes: [] })) } as unknown as ModelIndex;
}

function tensor(dims: number[], nodeId: number, input: number): TensorInfo {
  return { dims, consumers: [{ nodeId, input }] } as unknown as TensorInfo;
}

describe('weightLayout: com.microsoft::Attention', () => {
  const index = indexOf([
    { opType: 'Attention', domain: 'com.microsoft' },
    { opType: 'Attention', domain: '' },
  ]);

  it('reads the packed QKV weight [hidden, 3*hidden] like MatMul B: sums over axis 0, channels on axis 1', () => {
    assert.deepEqual(weightLayout(index, tensor([32, 96], 0, 1)), {
      dims: [32, 96],
      reductionAxis: 0,
      channelAxis: 1,
    });
  });

  it('has no layout for the bias, a weight of another rank, or the default-domain Attention (Q, K, V inputs)', () => {
    assert.equal(weightLayout(index, tensor([96], 0, 2)), undefined);
    assert.equal(weightLayout(index, tensor([2, 32, 96], 0, 1)), undefined);
    assert.equal(weightLayout(index, tensor([32, 96], 1, 1)), undefined);
  });

  it('gives every attention weight of the ORT-fused GPT-2 that layout', () => {
    const model = openModel(path.join(MODELS, 'ortgenai_tiny_random_gpt2_fp32_past.onnx'));
    try {
      const qkv = model.index.tensors.filter((t) =>
        t.consumers.some((c) => model.index.nodes[c.nodeId].opType === 'Attention' && c.input === 1),
      );
      assert.equal(qkv.length, 5);
      for (const t of qkv) {
        assert.deepEqual(
          weightLayout(model.index, t),
          { dims: t.dims, reductionAxis: 0, channelAxis: 1 },
          t.name,
        );
      }
    } finally {
      model.close();
    }
  });
});
