// weightReader: raw float32 weights read as they are quantized, a few rows at a time, each piece checked
// for NaN and infinities as it arrives.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { readFloat32 } from '../../src/core/quant/planQuantize';
import { quantizeBlockwise } from '../../src/core/quant/quantizeBlockwise';
import { weightReader } from '../../src/core/quant/weightReader';
import type { WeightRows } from '../../src/core/simd/quantizeKernels';
import { openModel } from '../../src/runtime/openModel';
import { floatTensor, valueInfo } from './modelFixtures';
import { rng } from './tensorFixtures';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-weightreader-'));

describe('weightReader', () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads a weight in pieces as it is quantized, and finds a NaN or infinity in any piece', () => {
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
      const read = weightReader(source, resolveExternal, () => {
        fallbacks++;
        return undefined;
      });
      const tensor = (name: string) => index.tensors.find((t) => t.name === name)!;
      const o = { bits: 4 as const, blockSize: 32, symmetric: false, scaleType: 'float32' as const };
      const ok = read(tensor('ok'));
      assert.ok(ok && !(ok instanceof Float32Array), 'a raw float32 weight is read as it is quantized');
      const whole = new Float32Array(K * N);
      assert.equal(ok.fill(0, whole), true);
      assert.deepEqual(whole, readFloat32(tensor('ok'), source, resolveExternal));
      assert.deepEqual(quantizeBlockwise(ok, K, N, o), quantizeBlockwise(whole, K, N, o));
      for (const [name, bad] of weights.slice(1)) {
        const rows = read(tensor(name)) as WeightRows;
        for (const layout of ['KN', 'NK'] as const)
          assert.equal(quantizeBlockwise(rows, K, N, o, layout), undefined, `${name} ${layout}`);
        // The piece holding the bad value says so; one without it does not.
        const piece = new Float32Array(1000);
        assert.equal(rows.fill(bad!, piece), false, `${name}: the piece from ${bad}`);
        assert.equal(rows.fill(bad! > 5000 ? 0 : 5000, piece), true, `${name}: a piece without it`);
      }
      assert.equal(fallbacks, 0, 'no raw float32 weight comes from the fallback');
    } finally {
      model.close();
    }
  });
});
