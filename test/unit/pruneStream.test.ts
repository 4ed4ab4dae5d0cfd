import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_PRUNE_OPTIONS, planPrune, type PruneOptions } from '../../src/core/prune/planPrune';
import { planPruneInt4 } from '../../src/core/prune/planPruneInt4';
import { DEFAULT_QUANTIZE_OPTIONS } from '../../src/core/quant/planQuantize';
import { LazyTensors } from '../../src/core/write/lazyTensors';
import { planWrite } from '../../src/core/write/planWrite';
import { openModel } from '../../src/runtime/openModel';
import { writeModel } from '../../src/runtime/writeModel';
import { TEST_MODELS } from '../testModels';

const MODELS = TEST_MODELS;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-pstream-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * Prunes (then 4-bit with `int4`) and writes `input` eagerly or streamed (LazyTensors); the plan as it
 * stands after writing.
 */
function pruneTo(
  input: string,
  output: string,
  options: Partial<PruneOptions>,
  streamed: boolean,
  int4 = false,
) {
  const model = openModel(input);
  try {
    const lazy = streamed ? new LazyTensors() : undefined;
    const all = { ...DEFAULT_PRUNE_OPTIONS, keepMasks: true, ...options };
    const plan = int4
      ? planPruneInt4(
          model.index,
          model.source,
          model.resolveExternal,
          all,
          DEFAULT_QUANTIZE_OPTIONS,
          undefined,
          lazy,
        )
      : planPrune(model.index, model.source, model.resolveExternal, all, undefined, { lazy });
    const ext = model.index.externalLocations.length > 0;
    const wp = planWrite(model.index, model.source, plan.edits, {
      externalData: ext ? { location: `${path.basename(output)}.data`, threshold: 1024 } : undefined,
    });
    const written = writeModel(
      wp,
      lazy ? { ...model, resolveExternal: lazy.resolver(model.resolveExternal) } : model,
      output,
      { force: true },
    );
    return { plan, files: [written.modelPath, ...written.externalFiles.map((f) => f.path)] };
  } finally {
    model.close();
  }
}

/**
 * Prunes a test model eagerly and streamed and asserts that both write the same bytes and end with the
 * same rows, summary and masks (the streamed rows are filled in as the writer reaches each weight:
 * complete once written); returns the eager plan.
 */
function assertStreamedAsEager(file: string, options: Partial<PruneOptions>, int4: boolean) {
  const input = path.join(MODELS, file);
  // Same name in two sub-folders: the model files name the same external data file.
  const [eagerDir, lazyDir] = ['eager', 'lazy'].map((d) => path.join(tmp, int4 ? `${d}4` : d));
  for (const d of [eagerDir, lazyDir]) fs.mkdirSync(d, { recursive: true });
  const eager = pruneTo(input, path.join(eagerDir, 'out.onnx'), options, false, int4);
  const lazy = pruneTo(input, path.join(lazyDir, 'out.onnx'), options, true, int4);
  assert.equal(eager.files.length, lazy.files.length);
  eager.files.forEach((f, i) =>
    assert.ok(fs.readFileSync(f).equals(fs.readFileSync(lazy.files[i])), `${path.basename(f)} differs`),
  );
  assert.deepEqual(lazy.plan.tensors, eager.plan.tensors);
  assert.deepEqual(lazy.plan.summary, eager.plan.summary);
  assert.deepEqual(lazy.plan.masks, eager.plan.masks);
  return eager.plan;
}

describe('streamed pruning (LazyTensors) writes what eager pruning writes', () => {
  const cases: [string, Partial<PruneOptions>][] = [
    // External data with small weights inline: inline tensors are made before earlier external ones.
    ['tiny_bert_random_extdata.onnx', { scope: 'global', sparsity: 0.5 }],
    ['tiny_bert_random_extdata.onnx', { sparsity: 0.75 }],
    ['ortgenai_tiny_random_gpt2_fp16_past.onnx', { scope: 'global', sparsity: 0.6 }],
    ['dtln_model_2.onnx', { method: 'nm', n: 2, m: 4 }],
    ['oww_embedding_model.onnx', { method: 'channel', sparsity: 0.25 }],
  ];
  for (const [file, options] of cases) {
    it(`${file} ${JSON.stringify(options)}: same bytes, rows, summary and masks`, () => {
      const plan = assertStreamedAsEager(file, options, false);
      assert.ok(plan.tensors.length > 0);
    });
  }
});

describe('streamed prune then 4-bit (planPruneInt4 with LazyTensors) writes what eager planning writes', () => {
  const cases: [string, Partial<PruneOptions>][] = [
    ['tiny_bert_random_extdata.onnx', { scope: 'global', sparsity: 0.5 }],
    // Conv weights stay pruned dense: the writer prunes them after planning, and fills in their rows.
    ['dtln_model_2.onnx', { sparsity: 0.6 }],
    ['ortgenai_tiny_random_gpt2_fp32_past.onnx', { method: 'nm', n: 2, m: 4 }],
  ];
  for (const [file, options] of cases) {
    it(`${file} ${JSON.stringify(options)}: same bytes, rows, summary and masks`, () => {
      const plan = assertStreamedAsEager(file, options, true);
      assert.ok(plan.tensors.some((r) => r.storage === 'MatMulNBits'));
    });
  }
});

describe('LazyTensors', () => {
  it('makes each payload once, when first read, in any order, and refuses a second or out-of-order read', () => {
    const lazy = new LazyTensors();
    const made: number[] = [];
    const part = (id: number, length: number) =>
      lazy.add(length, () => {
        made.push(id);
        return new Uint8Array(length).fill(id);
      });
    const [a] = part(1, 10);
    const [b] = part(2, 6);
    assert.equal(lazy.size, 16);
    assert.ok(a.kind === 'external' && b.kind === 'external');
    const source = lazy.resolver(() => {
      throw new Error('not this one');
    })(a.location);
    assert.deepEqual([...source.read(b.offset, 4)], [2, 2, 2, 2]);
    assert.deepEqual([...source.read(b.offset + 4, 2)], [2, 2]);
    assert.deepEqual([...source.read(a.offset, 10)], new Array(10).fill(1));
    assert.deepEqual(made, [2, 1]);
    assert.throws(() => source.read(b.offset, 6), /read twice/);
    const other = new LazyTensors();
    const [c] = other.add(8, () => new Uint8Array(8));
    assert.ok(c.kind === 'external');
    other.read(c.offset, 2);
    assert.throws(() => other.read(c.offset + 4, 2), /out of order/);
    assert.throws(() => other.read(100, 1), /no lazy tensor/);
  });
});
