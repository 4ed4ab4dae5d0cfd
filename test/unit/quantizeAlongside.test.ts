// Round-to-nearest on two threads (quantizeAlongside: a worker quantizes a share of the weights while the
// plan runs) must write the very file one thread writes.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  planQuantize,
  type QuantizeOptions,
} from '../../src/core/quant/planQuantize';
import { openModel } from '../../src/runtime/openModel';
import { quantizeAlongside } from '../../src/runtime/quantizeAlongside';
import { floatTensor, valueInfo } from './modelFixtures';
import { planAndWrite } from './quantizeFiles';
import { rng } from './tensorFixtures';
import { testModel } from '../testModels';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-alongside-'));

/**
 * A chain of MatMuls and Gemms: weights of several sizes, one holding a NaN (skipped), one stored as
 * float_data (not raw), one read by a MatMul and by a Gemm with transB=1 (two quantizations), a Gemm with
 * alpha (folded in), and K not a multiple of the block size.
 */
function chainModel(): string {
  const random = rng(7);
  const values = (n: number) => Array.from({ length: n }, () => (random() - 0.5) * 0.2);
  const dims = [96, 64, 40, 64, 96, 64];
  const initializer: onnx.ITensorProto[] = [];
  const node: onnx.INodeProto[] = [];
  let x = 'x';
  for (let i = 0; i + 1 < dims.length; i++) {
    const [K, N] = [dims[i], dims[i + 1]];
    const v = values(K * N);
    if (i === 2) v[17] = NaN;
    initializer.push(floatTensor(`w${i}`, [K, N], v, i === 3));
    node.push({ opType: 'MatMul', input: [x, `w${i}`], output: [`h${i}`], name: `mm${i}` });
    x = `h${i}`;
  }
  // w0 [96, 64] again, as Gemm transB=1 (B is [N, K] = [96, 64]: K = 64) and as a Gemm with alpha.
  node.push(
    {
      opType: 'Gemm',
      input: [x, 'w0'],
      output: ['g0'],
      name: 'gemmT',
      attribute: [{ name: 'transB', type: 2, i: 1 }],
    },
    {
      opType: 'Gemm',
      input: ['g0', 'w5'],
      output: ['y'],
      name: 'gemmA',
      attribute: [{ name: 'alpha', type: 1, f: 0.5 }],
    },
  );
  initializer.push(floatTensor('w5', [96, 48], values(96 * 48)));
  const file = path.join(dir, 'chain.onnx');
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ version: 17 }],
    graph: {
      name: 'chain',
      node,
      initializer,
      input: [valueInfo('x', [1, 96])],
      output: [valueInfo('y', [1, 48])],
    },
  }).finish();
  fs.writeFileSync(file, bytes);
  return file;
}

/** The bytes of the output file and its external data (when any). */
function written(file: string): Buffer[] {
  return [file, `${file}.data`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f));
}

/**
 * Quantizes `input` on one thread and on two (the worker given every other weight, reading `workerReads`,
 * the input unless a test makes it fail); both outputs.
 */
function bothWays(input: string, options: Partial<QuantizeOptions> = {}, workerReads = input) {
  const o = { ...DEFAULT_QUANTIZE_OPTIONS, ...options };
  // The same file name in two folders: the external data's location is written into the model.
  const out = (threads: string) => {
    fs.mkdirSync(path.join(dir, threads), { recursive: true });
    return path.join(dir, threads, path.basename(input));
  };
  const one = planAndWrite(
    input,
    out('one'),
    (m) => planQuantize(m.index, m.source, m.resolveExternal, o),
    (p) => p.tensors.length > 0,
  );
  let fromWorker = 0;
  const two = planAndWrite(
    input,
    out('two'),
    (m) => {
      const alongside = quantizeAlongside({ ...m, path: workerReads }, o, {
        always: true,
        giveWorker: (i) => i % 2 === 1,
      });
      assert.ok(alongside, 'two threads for a model of several weights');
      try {
        return planQuantize(m.index, m.source, m.resolveExternal, o, undefined, alongside.hooks);
      } finally {
        fromWorker = alongside.fromWorker;
        alongside.dispose();
      }
    },
    (p) => p.tensors.length > 0,
  );
  return { one, two, fromWorker, files: [written(out('one')), written(out('two'))] };
}

describe('quantize on two threads (quantizeAlongside)', () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the bytes one thread writes, with the same report rows and the NaN weight skipped', () => {
    for (const symmetric of [false, true]) {
      const { one, two, fromWorker, files } = bothWays(chainModel(), { symmetric });
      assert.ok(fromWorker >= 2, `the worker quantized ${fromWorker} weights`);
      assert.equal(files[0].length, 1);
      assert.ok(files[0][0].equals(files[1][0]), `same file bytes (${symmetric ? 'sym' : 'asym'})`);
      assert.deepEqual(two.tensors, one.tensors);
      assert.deepEqual(two.skipped, one.skipped);
      assert.deepEqual(
        one.skipped.map(({ bytes, ...row }) => ({ ...row, float: bytes! > 0 })),
        [{ name: 'mm2', op: 'MatMul', reason: 'w2 holds NaN or infinite values', tensor: 'w2', float: true }],
      );
    }
  });

  it('a worker that fails (its model cannot be opened) leaves its weights to the plan: same bytes', () => {
    const input = chainModel();
    const { one, two, fromWorker, files } = bothWays(input, {}, path.join(dir, 'missing.onnx'));
    assert.equal(fromWorker, 0);
    assert.ok(files[0][0].equals(files[1][0]), 'same file bytes');
    assert.deepEqual(two.tensors, one.tensors);
  });

  it('BIG_SHRINK_QUANTIZE_THREADS=1 or 2 decides whether a worker runs', () => {
    const model = openModel(chainModel());
    const before = process.env.BIG_SHRINK_QUANTIZE_THREADS;
    try {
      process.env.BIG_SHRINK_QUANTIZE_THREADS = '1';
      assert.equal(quantizeAlongside(model, DEFAULT_QUANTIZE_OPTIONS, { always: true }), undefined);
      process.env.BIG_SHRINK_QUANTIZE_THREADS = '2';
      const alongside = quantizeAlongside(model, DEFAULT_QUANTIZE_OPTIONS);
      assert.ok(alongside, 'a worker for a model of 5 KB when asked for two threads');
      alongside.dispose();
    } finally {
      if (before === undefined) delete process.env.BIG_SHRINK_QUANTIZE_THREADS;
      else process.env.BIG_SHRINK_QUANTIZE_THREADS = before;
      model.close();
    }
  });

  for (const file of ['tiny_bert_random_extdata.onnx', 'ortgenai_tiny_random_gpt2_fp16_past.onnx']) {
    it(`${file}: the same model and external data bytes as one thread`, () => {
      const input = testModel(file);
      const { one, two, fromWorker, files } = bothWays(input);
      assert.ok(fromWorker >= 2, `the worker quantized ${fromWorker} weights`);
      assert.ok(one.tensors.length >= 4);
      assert.equal(files[0].length, files[1].length);
      files[0].forEach((b, i) => assert.ok(b.equals(files[1][i]), `file ${i} has the same bytes`));
      assert.deepEqual(two.tensors, one.tensors);
    });
  }
});
