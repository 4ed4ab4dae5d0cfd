import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { FormatError } from '../../src/core/errors';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import { indexModel } from '../../src/core/onnx/indexModel';
import { looksLike } from '../../src/core/onnx/plainFormatError';
import { testModel } from '../testModels';
import { richModel } from './modelFixtures';

const text = (s: string) => new TextEncoder().encode(s);
/** The message indexModel refuses `bytes` with (it must refuse with a FormatError). */
function refusal(bytes: Uint8Array): string {
  try {
    indexModel(new MemoryByteSource(bytes));
  } catch (e) {
    assert.ok(e instanceof FormatError, `a FormatError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('indexModel accepted the bytes');
}

const PNG = new Uint8Array([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1,
  8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
]);

describe('bad files are named plainly first, with the technical detail after', () => {
  it('a text file: not an ONNX model, it looks like text, then the scanner’s words', () => {
    const m = refusal(text('hello world, this is text\n'));
    assert.match(m, /^not an ONNX model \(it looks like text; /);
    assert.match(m, /unsupported wire type 4 of field 13, at byte 2\)$/);
  });

  it('JSON, a PNG image, an empty file, a Git LFS pointer', () => {
    assert.match(
      refusal(text('{"model": "no", "layers": [1, 2]}\n')),
      /^not an ONNX model \(it looks like JSON; /,
    );
    assert.match(refusal(PNG), /^not an ONNX model \(it looks like a PNG image; .*at byte \d+\)$/);
    assert.equal(refusal(new Uint8Array(0)), 'not an ONNX model (the file is empty)');
    const lfs = 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 1807522\n';
    assert.match(refusal(text(lfs)), /^not an ONNX model \(it looks like a Git LFS pointer/);
  });

  it('a truncated model: the file ends at byte N but a field needs M', () => {
    const whole = fs.readFileSync(testModel('silero_vad_legacy.onnx'));
    const cut = whole.subarray(0, 700000);
    const m = refusal(cut);
    const got = /^truncated: the file ends at byte 700000 but a field needs (\d+) \((.*)\)$/.exec(m);
    assert.ok(got, m);
    assert.ok(Number(got[1]) > 700000 && Number(got[1]) <= whole.length, m);
    assert.match(got[2], /runs past the end of its message/);
  });

  it('every cut of a small model is "truncated", never "not an ONNX model"', () => {
    const bytes = richModel();
    for (let cut = 3; cut < bytes.length; cut += 7) {
      const m = refusal(bytes.subarray(0, cut));
      assert.match(
        m,
        /^truncated: the file ends at byte \d+ but a field needs \d+ \(/,
        `cut at ${cut}: ${m}`,
      );
      assert.ok(m.includes(`ends at byte ${cut} `), `cut at ${cut}: ${m}`);
    }
  });

  it('a wire fault inside a model that is not a truncation says damaged', () => {
    const bytes = Uint8Array.from(richModel());
    // Walk the ModelProto's fields to the graph (field 7) and make its first tag one of wire type 7,
    // which protobuf does not have.
    const varint = (at: number): [number, number] => {
      let v = 0;
      let shift = 1;
      let p = at;
      for (;;) {
        const b = bytes[p++];
        v += (b & 0x7f) * shift;
        shift *= 128;
        if (!(b & 0x80)) return [v, p];
      }
    };
    let pos = 0;
    for (;;) {
      const [tag, afterTag] = varint(pos);
      const wire = tag & 7;
      if (wire === 0) pos = varint(afterTag)[1];
      else if (wire === 2) {
        const [length, valueStart] = varint(afterTag);
        if (tag >> 3 === 7) {
          bytes[valueStart] = 0x0f;
          break;
        }
        pos = valueStart + length;
      } else assert.fail(`unexpected wire type ${wire} at ${pos}`);
    }
    assert.match(
      refusal(bytes),
      /^damaged: not a valid ONNX model \(unsupported wire type 7 of field 1, at byte \d+\)$/,
    );
  });

  it('looksLike names common formats and says nothing of unknown binary', () => {
    assert.equal(looksLike(new MemoryByteSource(new Uint8Array([0x1f, 0x8b, 8, 0]))), 'a gzip file');
    assert.match(looksLike(new MemoryByteSource(text('PK\u0003\u0004rest')))!, /ZIP archive/);
    assert.equal(looksLike(new MemoryByteSource(new Uint8Array([0x08, 0x01, 0x00, 0x91]))), undefined);
  });
});
