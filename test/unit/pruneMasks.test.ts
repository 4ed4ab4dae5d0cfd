import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { FormatError } from '../../src/core/errors';
import { DEFAULT_PRUNE_OPTIONS, planPrune } from '../../src/core/prune/planPrune';
import { encodeSafetensors, type KeepMask, parseSafetensors } from '../../src/core/prune/safetensors';
import { openModel } from '../../src/runtime/openModel';
import { TEST_MODELS } from '../testModels';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ORACLE = path.join(REPO, 'test', 'oracle', 'safetensors_oracle.py');
const MODELS = TEST_MODELS;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-masks-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface OracleTensor {
  dtype: string;
  shape: number[];
  ones: number;
  zeros: number;
  sha256: string;
}
const oracle = (...args: string[]) =>
  JSON.parse(execFileSync('/usr/bin/python3', [ORACLE, ...args]).toString()) as {
    tensors: Record<string, OracleTensor>;
    metadata: Record<string, string>;
  };

const describeMask = (m: KeepMask): OracleTensor => ({
  dtype: 'U8',
  shape: m.dims,
  ones: m.data.filter((v) => v === 1).length,
  zeros: m.data.filter((v) => v === 0).length,
  sha256: createHash('sha256').update(m.data).digest('hex'),
});

function writeParts(file: string, parts: Uint8Array[]): Uint8Array {
  const bytes = Buffer.concat(parts);
  fs.writeFileSync(file, bytes);
  return bytes;
}

const masks: KeepMask[] = [
  {
    name: 'layer.0/weight:0',
    dims: [3, 4],
    data: Uint8Array.from({ length: 12 }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0)),
  },
  { name: 'conv', dims: [2, 1, 3, 3], data: Uint8Array.from({ length: 18 }, (_, i) => i % 2) },
  { name: 'scalar-ish', dims: [1], data: Uint8Array.of(1) },
];

describe('safetensors keep-masks', () => {
  it('round-trips through an independent reader (json + numpy)', () => {
    const file = path.join(tmp, 'ours.safetensors');
    const bytes = writeParts(file, encodeSafetensors(masks, { model: 'x.onnx' }));
    const header = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    assert.equal(header % 8, 0, 'the header is padded to 8 bytes');
    const read = oracle('read', file);
    assert.deepEqual(read.metadata, { model: 'x.onnx' });
    assert.deepEqual(read.tensors, Object.fromEntries(masks.map((m) => [m.name, describeMask(m)])));
    // And back through our parser.
    const parsed = parseSafetensors(bytes);
    assert.deepEqual(
      parsed.masks.map((m) => ({ ...m, data: [...m.data] })),
      masks.map((m) => ({ ...m, data: [...m.data] })),
    );
  });

  it('reads a file the independent writer made (header out of data order, no padding)', () => {
    const file = path.join(tmp, 'theirs.safetensors');
    const written = oracle('write', file, '11');
    const parsed = parseSafetensors(fs.readFileSync(file));
    assert.deepEqual(
      parsed.masks.map((m) => m.name),
      ['w.a', 'block/w:b', 'empty'],
      'in data order',
    );
    assert.deepEqual(Object.fromEntries(parsed.masks.map((m) => [m.name, describeMask(m)])), written.tensors);
  });

  it('refuses what is not a U8 safetensors file, naming the problem', () => {
    const header = (h: unknown, data = new Uint8Array(0)) => {
      const json = Buffer.from(JSON.stringify(h));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      return new Uint8Array(Buffer.concat([len, json, data]));
    };
    const bad: [Uint8Array, RegExp][] = [
      [new Uint8Array(5), /shorter than/],
      [header({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }).subarray(0, 12), /does not fit/],
      [
        header({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
        /"a" is F32; keep-masks are U8/,
      ],
      [
        header({ a: { dtype: 'U8', shape: [3], data_offsets: [0, 2] } }, new Uint8Array(2)),
        /holds 2 bytes; shape \[3\] needs 3/,
      ],
      [
        header({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 9] } }, new Uint8Array(2)),
        /invalid data_offsets/,
      ],
      [header([1, 2]), /not a JSON object/],
    ];
    for (const [bytes, re] of bad)
      assert.throws(
        () => parseSafetensors(bytes),
        (e: Error) => e instanceof FormatError && re.test(e.message),
        String(re),
      );
    assert.throws(() => encodeSafetensors([masks[0], masks[0]]), /duplicate/);
  });
});

describe('applying saved masks (--mask)', () => {
  const file = path.join(MODELS, 'tiny_bert_random_inline.onnx');

  it('prunes exactly what the mask says, and reports mismatches by name', () => {
    const model = openModel(file);
    try {
      const run = (m: KeepMask[]) =>
        planPrune(model.index, model.source, model.resolveExternal, {
          ...DEFAULT_PRUNE_OPTIONS,
          masks: m,
          keepMasks: true,
        });
      const saved = planPrune(model.index, model.source, model.resolveExternal, {
        ...DEFAULT_PRUNE_OPTIONS,
        sparsity: 0.7,
        keepMasks: true,
      });
      assert.equal(saved.masks.length, saved.tensors.length);
      const applied = run(saved.masks);
      assert.deepEqual(applied.blockers, []);
      assert.deepEqual(
        applied.tensors.map((r) => [r.name, r.zerosAfter]),
        saved.tensors.map((r) => [r.name, r.zerosAfter]),
      );
      assert.deepEqual(
        applied.masks.map((m) => [...m.data]),
        saved.masks.map((m) => [...m.data]),
      );

      const w = saved.masks[0];
      const missing = run([{ ...w, name: 'no.such.weight' }]);
      assert.match(missing.blockers.join(), /1 mask names no tensor of the model: "no.such.weight"/);
      const shape = run([
        { ...w, dims: [w.dims[1], w.dims[0] * 2], data: new Uint8Array(w.data.length * 2) },
      ]);
      assert.match(
        shape.blockers.join(),
        new RegExp(`mask "${w.name}" has shape \\[64, 128\\]; the weight is \\[64, 64\\]`),
      );
      const values = run([{ ...w, data: w.data.map((v, i) => (i === 3 ? 2 : v)) }]);
      assert.match(values.blockers.join(), /values other than 0 and 1/);
      const ints = model.index.tensors.find((t) => t.dtype === 7 && t.count > 0)!;
      const notFloat = run([{ name: ints.name, dims: ints.dims, data: new Uint8Array(ints.count) }]);
      assert.match(notFloat.blockers.join(), /int64, not a float weight/);
      assert.equal(missing.edits.length, 0);
    } finally {
      model.close();
    }
  });
});
