// weightReader: weights read a chunk at a time into the quantizer kernels' memory, each chunk checked for
// NaN and infinities as it arrives.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { readFloat32 } from '../../src/core/quant/planQuantize';
import { weightReader } from '../../src/core/quant/weightReader';
import { openModel } from '../../src/runtime/openModel';
import { floatTensor, valueInfo } from './modelFixtures';
import { rng } from './tensorFixtures';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-weightreader-'));

describe('weightReader', () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads weights of several chunks whole, and finds a NaN or infinity in any chunk', () => {
    const random = rng(3);
    const [K, N] = [640, 512]; // 327,680 values: two chunks of 256 Ki values
    const weights: [string, number | undefined][] = [
      ['ok', undefined],
      ['nanLast', K * N - 1],
      ['infFirst', 0],
      ['infSecondChunk', (1 << 18) + 5],
    ];
    const initializer = weights.map(([name, bad], i) => {
      const v = Array.from({ length: K * N }, () => random() - 0.5);
      if (bad !== undefined) v[bad] = i % 2 ? NaN : -Infinity;
      return floatTensor(name, [K, N], v);
    });
    const node = weights.map(([name]) => ({ opType: 'MatMul', input: ['x', name], output: [`y_${name}`] }));
    const file = path.join(dir, 'chunks.onnx');
    fs.writeFileSync(
      file,
      onnx.ModelProto.encode({
        irVersion: 8,
        opsetImport: [{ version: 17 }],
        graph: {
          name: 'g',
          node,
          initializer,
          input: [valueInfo('x', [1, K])],
          output: weights.map(([name]) => valueInfo(`y_${name}`, [1, N])),
        },
      }).finish(),
    );
    const model = openModel(file);
    try {
      const { index, source, resolveExternal } = model;
      let fallbacks = 0;
      const read = weightReader(index, source, resolveExternal, 32, 4, () => {
        fallbacks++;
        return undefined;
      });
      const tensor = (name: string) => index.tensors.find((t) => t.name === name)!;
      const ok = read(tensor('ok'));
      assert.ok(ok, 'a finite weight is read');
      assert.deepEqual(ok, readFloat32(tensor('ok'), source, resolveExternal));
      for (const [name] of weights.slice(1)) assert.equal(read(tensor(name)), undefined, name);
      assert.equal(fallbacks, 0, 'raw float32 weights are all read into the scratch');
    } finally {
      model.close();
    }
  });
});
