import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataType } from '../../src/core/tensor/dataType';
import { float16ToNumber } from '../../src/core/tensor/float16';
import { float8ToNumber, miniFloatTable } from '../../src/core/tensor/float8';

/**
 * Reference values written from the ONNX spec text (docs/Float8.md), code by code from the bit string,
 * independently of the implementation's table builder.
 */
function reference(code: number, name: 'e4m3fn' | 'e4m3fnuz' | 'e5m2' | 'e5m2fnuz'): number {
  const bitString = code.toString(2).padStart(8, '0');
  const negative = bitString[0] === '1';
  const eBits = name.startsWith('e4') ? 4 : 5;
  const exponentField = parseInt(bitString.slice(1, 1 + eBits), 2);
  const mantissaField = bitString.slice(1 + eBits);
  const bias = { e4m3fn: 7, e4m3fnuz: 8, e5m2: 15, e5m2fnuz: 16 }[name];
  if (name.endsWith('fnuz') && bitString === '10000000') return NaN;
  if (name === 'e4m3fn' && bitString.slice(1) === '1111111') return NaN;
  if (name === 'e5m2' && exponentField === 31)
    return mantissaField === '00' ? (negative ? -Infinity : Infinity) : NaN;
  // 0.mmm × 2^(1-bias) for subnormals, 1.mmm × 2^(e-bias) otherwise.
  let significand = exponentField === 0 ? 0 : 1;
  for (let i = 0; i < mantissaField.length; i++) if (mantissaField[i] === '1') significand += 2 ** -(i + 1);
  const magnitude = significand * 2 ** (exponentField === 0 ? 1 - bias : exponentField - bias);
  return negative ? -magnitude : magnitude;
}

const TYPES = [
  { dtype: DataType.FLOAT8E4M3FN, name: 'e4m3fn', max: 448, minSub: 2 ** -9, nans: 2, infs: 0 },
  { dtype: DataType.FLOAT8E4M3FNUZ, name: 'e4m3fnuz', max: 240, minSub: 2 ** -10, nans: 1, infs: 0 },
  { dtype: DataType.FLOAT8E5M2, name: 'e5m2', max: 57344, minSub: 2 ** -16, nans: 6, infs: 2 },
  { dtype: DataType.FLOAT8E5M2FNUZ, name: 'e5m2fnuz', max: 57344, minSub: 2 ** -17, nans: 1, infs: 0 },
] as const;

describe('float8 decoding', () => {
  for (const t of TYPES) {
    it(`${t.name}: all 256 codes match the spec reference`, () => {
      const table = miniFloatTable(t.dtype);
      assert.equal(table.length, 256);
      for (let code = 0; code < 256; code++) {
        assert.ok(
          Object.is(table[code], reference(code, t.name)),
          `${t.name} 0x${code.toString(16)}: ${table[code]}`,
        );
        assert.ok(Object.is(float8ToNumber(code, t.dtype), table[code]));
      }
    });

    it(`${t.name}: max ${t.max}, smallest subnormal, ${t.nans} NaN and ${t.infs} Inf codes`, () => {
      const table = Array.from(miniFloatTable(t.dtype));
      const finite = table.filter(Number.isFinite);
      assert.equal(Math.max(...finite), t.max);
      assert.equal(Math.min(...finite), -t.max);
      assert.equal(Math.min(...finite.filter((v) => v > 0)), t.minSub);
      assert.equal(table.filter(Number.isNaN).length, t.nans);
      assert.equal(table.filter((v) => v === Infinity || v === -Infinity).length, t.infs);
      assert.equal(table[0x01], t.minSub);
      // Positive codes increase strictly up to the largest finite one.
      const positives = table.slice(0, 0x80).filter(Number.isFinite);
      for (let i = 1; i < positives.length; i++) assert.ok(positives[i] > positives[i - 1]);
      const fnuz = t.name.endsWith('fnuz');
      assert.equal(
        table.some((v) => Object.is(v, -0)),
        !fnuz,
        'fnuz types have no -0',
      );
      if (fnuz) assert.ok(Number.isNaN(table[0x80]));
    });
  }

  it('e4m3fn: NaN is exactly S.1111.111 and 0x7e is 448', () => {
    const table = miniFloatTable(DataType.FLOAT8E4M3FN);
    assert.ok(Number.isNaN(table[0x7f]) && Number.isNaN(table[0xff]));
    assert.equal(table[0x7e], 448);
    assert.equal(table[0xfe], -448);
    assert.equal(table[0x78], 256); // S.1111.000 is finite: no infinities
    assert.equal(table[0x38], 1);
    assert.equal(table[0x08], 2 ** -6);
    assert.equal(table[0x07], 7 * 2 ** -9);
  });

  it('e5m2 is the upper byte of float16', () => {
    const table = miniFloatTable(DataType.FLOAT8E5M2);
    for (let code = 0; code < 256; code++)
      assert.ok(Object.is(table[code], float16ToNumber(code << 8)), `0x${code.toString(16)}`);
    assert.equal(table[0x7c], Infinity);
    assert.equal(table[0xfc], -Infinity);
    assert.equal(table[0x7b], 57344);
  });

  it('the fnuz types are their fn counterparts halved (bias one larger), apart from the special codes', () => {
    const pairs = [
      [DataType.FLOAT8E4M3FN, DataType.FLOAT8E4M3FNUZ],
      [DataType.FLOAT8E5M2, DataType.FLOAT8E5M2FNUZ],
    ];
    for (const [fn, fnuz] of pairs) {
      const a = miniFloatTable(fn);
      const b = miniFloatTable(fnuz);
      for (let code = 0; code < 256; code++) {
        if (code === 0x80 || !Number.isFinite(a[code])) continue;
        assert.equal(b[code], a[code] / 2, `0x${code.toString(16)}`);
      }
    }
    assert.equal(miniFloatTable(DataType.FLOAT8E4M3FNUZ)[0x7f], 240);
    assert.equal(miniFloatTable(DataType.FLOAT8E5M2FNUZ)[0x7f], 57344);
    assert.equal(miniFloatTable(DataType.FLOAT8E5M2FNUZ)[0xff], -57344);
  });
});

describe('float4e2m1 decoding', () => {
  it('has the 16 values of the spec', () => {
    const expected = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6];
    const table = miniFloatTable(DataType.FLOAT4E2M1);
    assert.equal(table.length, 16);
    for (let code = 0; code < 16; code++)
      assert.ok(Object.is(table[code], expected[code]), `0x${code.toString(16)}`);
    assert.equal(float8ToNumber(0xf7, DataType.FLOAT4E2M1), 6); // only the low nibble counts
  });

  it('refuses non-float8 dtypes', () => {
    assert.throws(() => miniFloatTable(DataType.FLOAT), RangeError);
  });
});
