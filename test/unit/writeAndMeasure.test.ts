import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { DEFAULT_PRUNE_OPTIONS, planPrune } from '../../src/core/prune/planPrune';
import { planWrite } from '../../src/core/write/planWrite';
import { describeFile } from '../../src/runtime/describeFiles';
import { OffThreadHash } from '../../src/runtime/offThreadHash';
import { openModel } from '../../src/runtime/openModel';
import { writeModel, writeModelAsync } from '../../src/runtime/writeModel';
import { TEST_MODELS } from '../testModels';

const MODELS = TEST_MODELS;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-wm-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('writeModelAsync', () => {
  it('writes the bytes writeModel writes, hashed as written; refuses what writeModel refuses', async () => {
    const input = path.join(MODELS, 'tiny_bert_random_extdata.onnx');
    const model = openModel(input);
    try {
      const plan = planPrune(model.index, model.source, model.resolveExternal, DEFAULT_PRUNE_OPTIONS);
      const wp = () =>
        planWrite(model.index, model.source, plan.edits, {
          externalData: { location: 'out.onnx.data', threshold: 1024 },
        });
      fs.mkdirSync(path.join(tmp, 'sync'));
      fs.mkdirSync(path.join(tmp, 'async'));
      const a = writeModel(wp(), model, path.join(tmp, 'sync', 'out.onnx'));
      const b = await writeModelAsync(wp(), model, path.join(tmp, 'async', 'out.onnx'));
      const files = (r: typeof a) => [
        { path: r.modelPath, sha256: r.modelSha256 },
        ...r.externalFiles.map((f) => ({ path: f.path, sha256: f.sha256! })),
      ];
      assert.equal(files(a).length, 2);
      files(a).forEach((f, i) => {
        const g = files(b)[i];
        assert.ok(fs.readFileSync(f.path).equals(fs.readFileSync(g.path)), path.basename(f.path));
        assert.equal(f.sha256, sha256(f.path));
        assert.equal(g.sha256, sha256(g.path));
      });
      await assert.rejects(
        writeModelAsync(wp(), model, path.join(tmp, 'async', 'out.onnx')),
        /already exists/,
      );
      await assert.rejects(
        writeModelAsync(wp(), model, input, { force: true }),
        /refusing to overwrite an input/,
      );
      assert.deepEqual(
        fs.readdirSync(path.join(tmp, 'async')).sort(),
        ['out.onnx', 'out.onnx.data'],
        'no temporary file left behind',
      );
    } finally {
      model.close();
    }
  });
});

describe('hashing on a worker thread', () => {
  it('OffThreadHash digests shared-buffer chunks as createHash does', async () => {
    const buffers = [new SharedArrayBuffer(1 << 16), new SharedArrayBuffer(1 << 16)];
    const views = buffers.map((b) => new Uint8Array(b));
    const hash = new OffThreadHash(buffers);
    const reference = createHash('sha256');
    for (let i = 0; i < 9; i++) {
      const length = 1000 + i * 7000;
      const slot = i % 2;
      for (let j = 0; j < length; j++) views[slot][j] = (i * 31 + j * 7) & 0xff;
      reference.update(views[slot].subarray(0, length));
      await hash.update(slot, length);
    }
    assert.equal(await hash.digest(), reference.digest('hex'));
  });

  it('writeModelAsync hashes a large external data file off the thread, correctly', async () => {
    const input = path.join(MODELS, 'tiny_bert_random_extdata.onnx');
    const model = openModel(input);
    try {
      const big = new Float32Array((17 << 20) + 3); // 68 MiB: above the off-thread threshold
      for (let i = 0; i < big.length; i += 4099) big[i] = i;
      const wp = planWrite(
        model.index,
        model.source,
        [
          {
            kind: 'addTensor',
            graph: model.index.graphs[0].path,
            name: 'big',
            tensor: { dtype: 1, dims: [big.length], data: new Uint8Array(big.buffer) },
          },
        ],
        // Unaligned tensors: the file does not end on a 4 KiB boundary.
        { externalData: { location: 'big.onnx.data', threshold: 1024, alignment: 1 } },
      );
      const r = await writeModelAsync(wp, model, path.join(tmp, 'big.onnx'));
      assert.ok(r.externalFiles[0].bytes > 64 << 20);
      assert.equal(r.externalFiles[0].sha256, sha256(r.externalFiles[0].path));
      assert.equal(r.modelSha256, sha256(r.modelPath));
      // Written around the page cache (whole aligned chunks, the last one padded, then cut to length):
      // byte for byte what the plain synchronous writer writes.
      fs.mkdirSync(path.join(tmp, 'sync'), { recursive: true });
      const plain = writeModel(wp, model, path.join(tmp, 'sync', 'big.onnx'));
      assert.notEqual(
        r.externalFiles[0].bytes % 4096,
        0,
        `${r.externalFiles[0].bytes}: the test needs a padded last chunk`,
      );
      assert.equal(fs.statSync(r.externalFiles[0].path).size, plain.externalFiles[0].bytes);
      assert.ok(
        fs.readFileSync(r.externalFiles[0].path).equals(fs.readFileSync(plain.externalFiles[0].path)),
      );
    } finally {
      model.close();
    }
  });
});

describe('describeFile', () => {
  it('gzip: exact up to the limit, estimated from samples above it (and says so)', async () => {
    // 8 MiB: half zeros, half noise in stripes, so the estimate has something to get wrong.
    const file = path.join(tmp, 'striped.bin');
    const bytes = Buffer.alloc(8 << 20);
    let seed = 7;
    for (let i = 0; i < bytes.length; i += 1 << 16) {
      if ((i >> 16) % 2 === 0) continue;
      for (let j = i; j < i + (1 << 16); j++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        bytes[j] = seed >>> 24;
      }
    }
    fs.writeFileSync(file, bytes);
    const exact = zlib.gzipSync(bytes).length;
    const whole = await describeFile(file, { gzip: true });
    assert.equal(whole.gzipBytes, exact);
    assert.equal(whole.gzipEstimated, undefined);
    assert.equal(whole.sha256, sha256(file));
    const sampled = await describeFile(file, { gzip: true, gzipExactUpTo: 1 << 20 });
    assert.equal(sampled.gzipEstimated, true);
    assert.equal(sampled.gzipSampledFraction, 0.5); // 32 × 128 KiB of 8 MiB
    // Blocks compressed one by one pay their own headers and a cold window: a few % more than whole.
    assert.ok(Math.abs(sampled.gzipBytes! / exact - 1) < 0.05, `${sampled.gzipBytes} vs ${exact}`);
    assert.equal(sampled.sha256, whole.sha256);
    // A known hash is taken as given: the file is not read for it.
    const known = await describeFile(file, { sha256: 'given' });
    assert.deepEqual(known, { path: file, bytes: bytes.length, sha256: 'given' });
  });
});
