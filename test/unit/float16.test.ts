import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bfloat16ToNumber,
  decodeBfloat16,
  encodeBfloat16,
  encodeFloat16,
  float16Table,
  float16ToNumber,
  numberToBfloat16Bits,
  numberToFloat16Bits,
} from '../../src/core/tensor/float16';
import { python, rng } from './tensorFixtures';

describe('float16 decoding', () => {
  it('decodes the edge patterns', () => {
    assert.equal(float16ToNumber(0x0001), 2 ** -24); // smallest subnormal
    assert.equal(float16ToNumber(0x03ff), 1023 * 2 ** -24); // largest subnormal
    assert.equal(float16ToNumber(0x0400), 2 ** -14); // smallest normal
    assert.equal(float16ToNumber(0x7bff), 65504); // max
    assert.equal(float16ToNumber(0xfbff), -65504);
    assert.equal(float16ToNumber(0x3c00), 1);
    assert.equal(float16ToNumber(0xc000), -2);
    assert.equal(float16ToNumber(0x3555), 0.333251953125);
    assert.equal(float16ToNumber(0x7c00), Infinity);
    assert.equal(float16ToNumber(0xfc00), -Infinity);
    assert.ok(Number.isNaN(float16ToNumber(0x7e00)));
    assert.ok(Number.isNaN(float16ToNumber(0x7c01)));
    assert.ok(Number.isNaN(float16ToNumber(0xfe00)));
    assert.ok(Object.is(float16ToNumber(0x8000), -0));
    assert.ok(Object.is(float16ToNumber(0x0000), 0));
    assert.ok(Object.is(float16ToNumber(0x8001), -(2 ** -24)));
  });

  it('matches numpy for all 65,536 patterns', () => {
    const expected = python<(number | string)[]>(
      `import numpy as np, json
v = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float64)
print(json.dumps([x if np.isfinite(x) else str(x) for x in v.tolist()]))`,
    );
    const table = float16Table();
    for (let bits = 0; bits < 65536; bits++) {
      const e = expected[bits];
      const want = e === 'nan' ? NaN : e === 'inf' ? Infinity : e === '-inf' ? -Infinity : (e as number);
      assert.ok(Object.is(table[bits], want), `0x${bits.toString(16)}: ${table[bits]} vs ${want}`);
    }
  });
});

describe('float16 encoding (round to nearest even)', () => {
  it('rounds the edge cases', () => {
    assert.equal(numberToFloat16Bits(65504), 0x7bff);
    assert.equal(numberToFloat16Bits(65519), 0x7bff); // below the halfway point to 65536
    assert.equal(numberToFloat16Bits(65520), 0x7c00); // halfway: ties to even = Inf
    assert.equal(numberToFloat16Bits(1e6), 0x7c00);
    assert.equal(numberToFloat16Bits(-1e6), 0xfc00);
    assert.equal(numberToFloat16Bits(Infinity), 0x7c00);
    assert.equal(numberToFloat16Bits(NaN), 0x7e00);
    assert.equal(numberToFloat16Bits(-0), 0x8000);
    assert.equal(numberToFloat16Bits(1 + 2 ** -11), 0x3c00); // tie, even stays
    assert.equal(numberToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie, odd rounds up
    assert.equal(numberToFloat16Bits(1 + 2 ** -11 + 2 ** -20), 0x3c01);
    assert.equal(numberToFloat16Bits(2 ** -25), 0x0000); // half the smallest subnormal: tie to even 0
    assert.equal(numberToFloat16Bits(2 ** -25 * 1.5), 0x0001);
    assert.equal(numberToFloat16Bits(3 * 2 ** -25), 0x0002); // tie between 1 and 2 subnormal units
    assert.equal(numberToFloat16Bits(2 ** -26), 0x0000);
    assert.equal(numberToFloat16Bits(-(2 ** -24)), 0x8001);
    assert.equal(numberToFloat16Bits(2 ** -14 - 2 ** -25), 0x0400); // rounds up into the normals
  });

  it('round-trips every non-NaN pattern', () => {
    const table = float16Table();
    for (let bits = 0; bits < 65536; bits++) {
      if (Number.isNaN(table[bits])) continue;
      assert.equal(numberToFloat16Bits(table[bits]), bits, `0x${bits.toString(16)}`);
    }
  });

  it('matches numpy astype(float16) on random float32 values, ties included', () => {
    const random = rng(7);
    const values = new Float32Array(20000);
    const bits = new Uint32Array(values.buffer);
    for (let i = 0; i < values.length; i++) {
      // Exponents around the float16 range (subnormals to overflow), mantissas random or exactly halfway.
      const exponent = 127 - 28 + Math.floor(random() * 46);
      let mantissa = Math.floor(random() * 0x800000);
      if (i % 4 === 0) mantissa = (mantissa & ~0x1fff) | 0x1000;
      bits[i] = ((random() < 0.5 ? 1 : 0) << 31) | (exponent << 23) | mantissa;
    }
    const expected = python<number[]>(
      `import numpy as np, json, sys
v = np.frombuffer(sys.stdin.buffer.read(), dtype='<f4')
print(json.dumps(v.astype(np.float16).view(np.uint16).tolist()))`,
      new Uint8Array(values.buffer),
    );
    const actual = encodeFloat16(values);
    for (let i = 0; i < values.length; i++) {
      assert.equal(actual[i], expected[i], `${values[i]} (0x${bits[i].toString(16)})`);
    }
  });
});

describe('bfloat16', () => {
  it('decodes the edge patterns', () => {
    assert.equal(bfloat16ToNumber(0x3f80), 1);
    assert.equal(bfloat16ToNumber(0xc040), -3);
    assert.equal(bfloat16ToNumber(0x7f7f), 3.3895313892515355e38); // max
    assert.equal(bfloat16ToNumber(0x0001), 2 ** -133); // smallest subnormal
    assert.equal(bfloat16ToNumber(0x7f80), Infinity);
    assert.equal(bfloat16ToNumber(0xff80), -Infinity);
    assert.ok(Number.isNaN(bfloat16ToNumber(0x7fc0)));
    assert.ok(Object.is(bfloat16ToNumber(0x8000), -0));
    assert.deepEqual(Array.from(decodeBfloat16(Uint16Array.of(0x3f80, 0x4000, 0xbf00))), [1, 2, -0.5]);
  });

  it('encodes with round to nearest even', () => {
    const f = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0];
    assert.equal(numberToBfloat16Bits(f(0x3f808000)), 0x3f80); // tie, even stays
    assert.equal(numberToBfloat16Bits(f(0x3f818000)), 0x3f82); // tie, odd rounds up
    assert.equal(numberToBfloat16Bits(f(0x3f808001)), 0x3f81);
    assert.equal(numberToBfloat16Bits(f(0x3f807fff)), 0x3f80);
    assert.equal(numberToBfloat16Bits(f(0x7f7fffff)), 0x7f80); // float32 max overflows to Inf
    assert.equal(numberToBfloat16Bits(-Infinity), 0xff80);
    assert.equal(numberToBfloat16Bits(-0), 0x8000);
    const nan = numberToBfloat16Bits(f(0x7f800001)); // a signalling NaN must not become Inf
    assert.equal(nan & 0x7f80, 0x7f80);
    assert.notEqual(nan & 0x7f, 0);
  });

  it('round-trips every non-NaN pattern', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const decoded = decodeBfloat16(all);
    const again = encodeBfloat16(decoded);
    for (let bits = 0; bits < 65536; bits++) {
      if (Number.isNaN(decoded[bits])) continue;
      assert.equal(again[bits], bits, `0x${bits.toString(16)}`);
    }
  });
});
