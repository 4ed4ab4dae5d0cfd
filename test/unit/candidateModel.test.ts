import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as OrtTypes from 'onnxruntime-node';
import { planOneWeight } from '../../src/core/sensitivity/planOneWeight';
import { DEFAULT_QUANTIZE_OPTIONS } from '../../src/core/quant/planQuantize';
import { planWrite } from '../../src/core/write/planWrite';
import { buildCandidate } from '../../src/runtime/candidateModel';
import { materialize } from '../../src/runtime/materialize';
import { openModel, type OpenedModel } from '../../src/runtime/openModel';
import { REPO_ROOT } from '../testModels';
import { loadOrt } from '../../src/runtime/loadOrt';

const ort = loadOrt();

/** A two-layer GenAI-style decoder from scripts/make-llm-model.js (external data, KV-cache inputs). */
describe('buildCandidate on an external-data model', () => {
  let dir: string;
  let model: OpenedModel;
  let file: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-candidate-'));
    file = path.join(dir, 'llm.onnx');
    const made = spawnSync(
      process.execPath,
      [
        path.join(REPO_ROOT, 'scripts', 'make-llm-model.js'),
        file,
        '--hidden',
        '128',
        '--layers',
        '2',
        '--vocab',
        '500',
        '--dtype',
        'fp32',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(made.status, 0, made.stderr);
    model = openModel(file);
  });
  after(() => {
    model?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const feeds = () => {
    const f: Record<string, OrtTypes.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from([1n, 7n, 42n, 300n, 5n]), [1, 5]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(5).fill(1n), [1, 5]),
    };
    for (let l = 0; l < 2; l++)
      for (const kv of ['key', 'value'])
        f[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, 1, 0, 64]);
    return f;
  };

  /** Logits of the candidate with one weight at 4 bits, built in memory inline (the reference) or by buildCandidate. */
  async function logits(bytes: Uint8Array, options: OrtTypes.InferenceSession.SessionOptions) {
    const s = await ort.InferenceSession.create(bytes, options);
    try {
      return Array.from((await s.run(feeds())).logits.data as Float32Array);
    } finally {
      await s.release();
    }
  }

  function edits() {
    const t = model.index.tensors.find((x) => x.name === 'model.layers.1.mlp.down_proj.weight')!;
    const plan = planOneWeight(
      model.index,
      model.source,
      model.resolveExternal,
      t,
      { kind: 'nbits', bits: 4, blockSize: 32 },
      DEFAULT_QUANTIZE_OPTIONS,
    );
    assert.ok(plan.row, plan.error);
    return plan.edits;
  }

  it('reads untouched weights from the original data file: small message, same outputs as inlining', async () => {
    const e = edits();
    const inline = materialize(planWrite(model.index, model.source, e, { inline: true }), model);
    const c = buildCandidate(model, e, {});
    assert.equal(c.storage, 'original-data');
    // The message holds the graph and the changed weight only: far less than the inlined model.
    assert.ok(c.bytes.length < inline.length / 3, `${c.bytes.length} vs ${inline.length}`);
    assert.ok(Math.abs(c.totalBytes - inline.length) < 4096, `${c.totalBytes} vs ${inline.length}`);
    assert.deepEqual(await logits(c.bytes, c.sessionOptions), await logits(inline, {}));
    c.dispose();
  });

  it('past the inline limit the changed tensors go to a side file in the model folder, removed after', async () => {
    const e = edits();
    const inline = materialize(planWrite(model.index, model.source, e, { inline: true }), model);
    const c = buildCandidate(model, e, {}, undefined, 1000);
    assert.equal(c.storage, 'side-file');
    const side = fs.readdirSync(dir).filter((f) => f.startsWith('.big-shrink-candidate-'));
    assert.equal(side.length, 1);
    // The changed weight is in the side file, not in the message.
    const inMessage = buildCandidate(model, e, {}).bytes.length;
    assert.ok(c.bytes.length < inMessage - 40_000, `${c.bytes.length} vs ${inMessage}`);
    assert.ok(Math.abs(c.totalBytes - inline.length) < 8192, `${c.totalBytes} vs ${inline.length}`);
    assert.deepEqual(await logits(c.bytes, c.sessionOptions), await logits(inline, {}));
    c.dispose();
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('.big-shrink-candidate-')),
      [],
    );
  });
});
