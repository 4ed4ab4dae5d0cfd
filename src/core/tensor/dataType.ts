/** ONNX TensorProto.DataType codes, their numpy-style names and storage sizes. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;
export type DataTypeCode = number;

interface DataTypeInfo {
  name: string;
  /** Bits per element in raw_data (4 for the packed 4-bit types). */
  bits: number;
  float: boolean;
}

const INFO: Record<number, DataTypeInfo> = {
  1: { name: 'float32', bits: 32, float: true },
  2: { name: 'uint8', bits: 8, float: false },
  3: { name: 'int8', bits: 8, float: false },
  4: { name: 'uint16', bits: 16, float: false },
  5: { name: 'int16', bits: 16, float: false },
  6: { name: 'int32', bits: 32, float: false },
  7: { name: 'int64', bits: 64, float: false },
  8: { name: 'string', bits: 0, float: false },
  9: { name: 'bool', bits: 8, float: false },
  10: { name: 'float16', bits: 16, float: true },
  11: { name: 'float64', bits: 64, float: true },
  12: { name: 'uint32', bits: 32, float: false },
  13: { name: 'uint64', bits: 64, float: false },
  14: { name: 'complex64', bits: 64, float: true },
  15: { name: 'complex128', bits: 128, float: true },
  16: { name: 'bfloat16', bits: 16, float: true },
  17: { name: 'float8e4m3fn', bits: 8, float: true },
  18: { name: 'float8e4m3fnuz', bits: 8, float: true },
  19: { name: 'float8e5m2', bits: 8, float: true },
  20: { name: 'float8e5m2fnuz', bits: 8, float: true },
  21: { name: 'uint4', bits: 4, float: false },
  22: { name: 'int4', bits: 4, float: false },
  23: { name: 'float4e2m1', bits: 4, float: true },
};

/** numpy-style lower-case name (`float32`, `int4`, …); unknown codes read `dtype<N>`. */
export function dataTypeName(code: DataTypeCode): string {
  return INFO[code]?.name ?? (code === 0 ? 'undefined' : `dtype${code}`);
}

/** The code of a numpy-style name (`float32`, `int64`: onnxruntime's tensor types too); undefined if unknown. */
export function dataTypeCodeOf(name: string): DataTypeCode | undefined {
  for (const [code, info] of Object.entries(INFO)) if (info.name === name) return Number(code);
  return undefined;
}

export function isKnownDataType(code: DataTypeCode): boolean {
  return INFO[code] !== undefined;
}

/** True for every floating-point type (incl. float8, float4 and bfloat16). */
export function isFloatType(code: DataTypeCode): boolean {
  return INFO[code]?.float ?? false;
}

/** Bits one element takes in raw_data; 0 for strings and unknown types. */
export function dataTypeBits(code: DataTypeCode): number {
  return INFO[code]?.bits ?? 0;
}

/** Bytes `count` elements take in raw_data (4-bit types pack two per byte, rounded up). */
export function rawByteLength(code: DataTypeCode, count: number): number {
  return Math.ceil((count * dataTypeBits(code)) / 8);
}
