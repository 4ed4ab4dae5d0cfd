/**
 * IEEE half precision (float16) and bfloat16: bit patterns to numbers and back.
 *
 * Decoding goes through a 65,536-entry table built once: a table lookup per element is what keeps fp16
 * statistics close to the speed of float32 ones. Encoding rounds to nearest, ties to even, exactly as
 * numpy's `astype(np.float16)` and the ONNX reference do, so quantized files match their tools bit for bit.
 */

let fp16Table: Float32Array | undefined;

/** float16 bits -> value, computed from the format (used to build the table and for single values). */
function decodeFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  // Subnormals (exponent 0) have no implicit leading 1 and the exponent of the smallest normal.
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** Value of every float16 bit pattern, indexed by the pattern (shared, do not modify). */
export function float16Table(): Float32Array {
  if (fp16Table === undefined) {
    const table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) table[bits] = decodeFloat16Bits(bits);
    fp16Table = table;
  }
  return fp16Table;
}

/** The value of a float16 bit pattern (subnormals, ±Inf, NaN and -0 included). */
export function float16ToNumber(bits: number): number {
  return decodeFloat16Bits(bits & 0xffff);
}

/** The value of a bfloat16 bit pattern: the upper half of a float32. */
export function bfloat16ToNumber(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0];
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 bits -> float16 bits, rounding to nearest even (overflow gives ±Inf, NaN stays a quiet NaN). */
function float32BitsToFloat16Bits(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exponent = (f >>> 23) & 0xff;
  const mantissa = f & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  const e = exponent - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Normal result: keep 10 mantissa bits, round on the 13 dropped ones. A carry out of the mantissa
    // bumps the exponent, and one out of exponent 30 gives 0x7c00 (Inf), both as IEEE requires.
    let half = ((e + 15) << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) !== 0)) half++;
    return sign | half;
  }
  if (e < -25) return sign;
  // Subnormal result: the value is q * 2^-24 with q = full mantissa * 2^(e+1).
  const full = mantissa | 0x800000;
  const shift = -(e + 1);
  let q = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (q & 1) !== 0)) q++;
  return sign | q;
}

/** float32 bits -> bfloat16 bits, rounding to nearest even; NaN stays a (quiet) NaN. */
function float32BitsToBfloat16Bits(f: number): number {
  if ((f & 0x7fffffff) > 0x7f800000) return ((f >>> 16) | 0x40) & 0xffff;
  const lsb = (f >>> 16) & 1;
  return ((f + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** The float16 bit pattern nearest to `value` (first rounded to float32, as the quantizer's inputs are). */
export function numberToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  return float32BitsToFloat16Bits(scratchU32[0]);
}

/** The bfloat16 bit pattern nearest to `value` (first rounded to float32). */
export function numberToBfloat16Bits(value: number): number {
  scratchF32[0] = value;
  return float32BitsToBfloat16Bits(scratchU32[0]);
}

/** Encode float32 values as float16 bit patterns (round to nearest even); `out` defaults to a new array. */
export function encodeFloat16(
  values: Float32Array,
  out: Uint16Array = new Uint16Array(values.length),
): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32BitsToFloat16Bits(bits[i]);
  return out;
}

/** Encode float32 values as bfloat16 bit patterns (round to nearest even); `out` defaults to a new array. */
export function encodeBfloat16(
  values: Float32Array,
  out: Uint16Array = new Uint16Array(values.length),
): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32BitsToBfloat16Bits(bits[i]);
  return out;
}

/** Decode float16 bit patterns into `out` (float32 holds every float16 value exactly). */
export function decodeFloat16(
  bits: Uint16Array,
  out: Float32Array = new Float32Array(bits.length),
): Float32Array {
  const table = float16Table();
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** Decode bfloat16 bit patterns into `out` (each is the upper half of the float32 it stands for). */
export function decodeBfloat16(
  bits: Uint16Array,
  out: Float32Array = new Float32Array(bits.length),
): Float32Array {
  const wide = new Uint32Array(out.buffer, out.byteOffset, bits.length);
  for (let i = 0; i < bits.length; i++) wide[i] = bits[i] << 16;
  return out;
}
