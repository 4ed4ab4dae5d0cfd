// typedToRaw: the raw_data bytes of a tensor stored in typed fields, as a rewrite that moves it to external
// data writes them. 4-bit types hold two elements per int32_data value (low nibble first), as ONNX packs
// them and as the index decodes them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ByteSource } from '../../src/core/io/byteSource';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import { WireReader } from '../../src/core/onnx/wireReader';
import { typedToRaw } from '../../src/core/write/typedToRaw';
import { typedPart } from './tensorFixtures';

const INT4 = 22;
const UINT4 = 21;
const FLOAT4E2M1 = 23;
const INT32_DATA = 5;

describe('typedToRaw', () => {
  it('4-bit int32_data: each value is one raw byte (two elements), an odd count leaves a padding nibble', () => {
    // int4 [5]: 1, 2 | -1 (0xf), -8 (0x8) | 7 and a padding nibble: the int32 values 0x21, 0x8f, 0x07.
    for (const dtype of [INT4, UINT4, FLOAT4E2M1]) {
      const { part, source } = typedPart(dtype, [5], INT32_DATA, [0x21, 0x8f, 0x07]);
      assert.deepEqual([...typedToRaw(source, dtype, 5, part.payload)], [0x21, 0x8f, 0x07], `dtype ${dtype}`);
    }
    const { part, source } = typedPart(INT4, [4], INT32_DATA, [0x21, 0x8f, 0x07]);
    assert.throws(() => typedToRaw(source, INT4, 4, part.payload), /longer than 4 elements/);
    const short = typedPart(INT4, [6], INT32_DATA, [0x21, 0x8f]);
    assert.throws(() => typedToRaw(short.source, INT4, 6, short.part.payload), /2 values, 3 expected/);
  });

  it('a WireReader is not disturbed by other reads of its source between its own', () => {
    // A source that, like a file, hands out views into one buffer that its next read overwrites.
    const bytes = Uint8Array.from([0x08, 0x96, 0x01, 0x10, 0x2a, 0x18, 0x07]);
    const memory = new MemoryByteSource(bytes);
    const scratch = new Uint8Array(64);
    const reusing: ByteSource = {
      size: bytes.length,
      read(offset, length) {
        const view = scratch.subarray(0, length);
        view.set(memory.read(offset, length));
        return view;
      },
    };
    const reader = new WireReader(reusing);
    const [first, next] = reader.varint(1, bytes.length);
    reusing.read(0, 7).fill(0xff); // someone else reads the same source (and the buffer is scribbled on)
    assert.equal(first, 150);
    assert.deepEqual(reader.varint(next + 1, bytes.length), [42, 5]);
  });
});
