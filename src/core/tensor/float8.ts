import { DataType, type DataTypeCode } from './dataType';

/**
 * The 8-bit and 4-bit float formats of ONNX (IR 9 and 11), decoded through 256- and 16-entry tables.
 *
 * Semantics follow the ONNX spec (docs/Float8.md) rather than IEEE by analogy:
 * - float8e4m3fn: bias 7, no infinities, NaN only for S.1111.111, max ±448.
 * - float8e4m3fnuz: bias 8, no infinities, no -0, the single NaN is 0x80, max ±240.
 * - float8e5m2: bias 15, IEEE-like: S.11111.00 is ±Inf, S.11111.xx (xx ≠ 0) NaN, max ±57344.
 * - float8e5m2fnuz: bias 16, no infinities, no -0, the single NaN is 0x80, max ±57344.
 * - float4e2m1: bias 1, no NaN or Inf: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives.
 */

interface MiniFloat {
  exponentBits: number;
  mantissaBits: number;
  bias: number;
  /** What the all-ones exponent means: IEEE Inf/NaN, NaN only when the mantissa is all ones too, or nothing. */
  top: 'ieee' | 'nan-when-all-ones' | 'finite';
  /** fnuz formats: the negative-zero pattern is the only NaN. */
  negativeZeroIsNaN: boolean;
}

const FORMATS: Record<number, MiniFloat> = {
  [DataType.FLOAT8E4M3FN]: {
    exponentBits: 4,
    mantissaBits: 3,
    bias: 7,
    top: 'nan-when-all-ones',
    negativeZeroIsNaN: false,
  },
  [DataType.FLOAT8E4M3FNUZ]: {
    exponentBits: 4,
    mantissaBits: 3,
    bias: 8,
    top: 'finite',
    negativeZeroIsNaN: true,
  },
  [DataType.FLOAT8E5M2]: {
    exponentBits: 5,
    mantissaBits: 2,
    bias: 15,
    top: 'ieee',
    negativeZeroIsNaN: false,
  },
  [DataType.FLOAT8E5M2FNUZ]: {
    exponentBits: 5,
    mantissaBits: 2,
    bias: 16,
    top: 'finite',
    negativeZeroIsNaN: true,
  },
  [DataType.FLOAT4E2M1]: {
    exponentBits: 2,
    mantissaBits: 1,
    bias: 1,
    top: 'finite',
    negativeZeroIsNaN: false,
  },
};

function decodeMiniFloat(format: MiniFloat, code: number): number {
  const { exponentBits, mantissaBits, bias } = format;
  const signBit = 1 << (exponentBits + mantissaBits);
  if (format.negativeZeroIsNaN && code === signBit) return NaN;
  const sign = code & signBit ? -1 : 1;
  const exponentMax = (1 << exponentBits) - 1;
  const mantissaMax = (1 << mantissaBits) - 1;
  const exponent = (code >>> mantissaBits) & exponentMax;
  const mantissa = code & mantissaMax;
  if (exponent === exponentMax) {
    if (format.top === 'ieee') return mantissa === 0 ? sign * Infinity : NaN;
    if (format.top === 'nan-when-all-ones' && mantissa === mantissaMax) return NaN;
  }
  const scale = 2 ** -mantissaBits;
  if (exponent === 0) return sign * mantissa * scale * 2 ** (1 - bias);
  return sign * (1 + mantissa * scale) * 2 ** (exponent - bias);
}

const tables = new Map<DataTypeCode, Float32Array>();

/** True for the four float8 types and float4e2m1. */
export function isMiniFloatType(dtype: DataTypeCode): boolean {
  return FORMATS[dtype] !== undefined;
}

/**
 * The value of every code of a float8 type (256 entries) or of float4e2m1 (16 entries), indexed by the
 * code. Shared: do not modify.
 */
export function miniFloatTable(dtype: DataTypeCode): Float32Array {
  let table = tables.get(dtype);
  if (table === undefined) {
    const format = FORMATS[dtype];
    if (format === undefined) throw new RangeError(`dtype ${dtype} is not a float8/float4 type`);
    const size = 1 << (1 + format.exponentBits + format.mantissaBits);
    table = new Float32Array(size);
    for (let code = 0; code < size; code++) table[code] = decodeMiniFloat(format, code);
    tables.set(dtype, table);
  }
  return table;
}

/** The value of one float8 code (`dtype` one of the FLOAT8* types) or float4e2m1 code (low 4 bits). */
export function float8ToNumber(code: number, dtype: DataTypeCode): number {
  const table = miniFloatTable(dtype);
  return table[code & (table.length - 1)];
}
