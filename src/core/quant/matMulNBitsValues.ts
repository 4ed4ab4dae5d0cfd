import { FormatError } from '../errors';
import type { WeightLayout } from '../stats/tensorStats';
import type { ValueStream } from '../tensor/valueStream';

/** The attributes of a `com.microsoft::MatMulNBits` node. */
export interface MatMulNBitsParams {
  K: number;
  N: number;
  /** 2, 4 or 8. */
  bits: number;
  blockSize: number;
}

/**
 * MatMulNBits zero points: packed uint8 (`[N * ceil(k_blocks * bits / 8)]`, low bits first), or one float
 * per block (`[N * k_blocks]`, of the scales' type). Absent means 2^(bits-1).
 */
export type MatMulNBitsZeroPoints =
  | { kind: 'packed'; bytes: Uint8Array }
  | { kind: 'float'; values: Float64Array };

/** Dequantized weight values with the layout they come in. */
export interface DequantizedWeight extends ValueStream {
  /** `[N, K]` (W transposed: row n is output channel n), reduced along axis 1. */
  layout: WeightLayout;
}

/**
 * The weight W a MatMulNBits node multiplies by, dequantized: `(q - zero_point) * scale` per block of
 * `block_size` values along K. `b` streams the bytes of input B (`[N, k_blocks, block_size * bits / 8]`,
 * codes low bits first within a byte); `scales` holds `[N * k_blocks]` values. Values come in `[N, K]`
 * order (the K padding of the last block dropped), not W's `[K, N]`: the returned layout says so.
 * Float64Array chunks, one per chunk of `b`. FormatError when the inputs do not fit the attributes.
 */
export function matMulNBitsValues(
  b: ValueStream,
  scales: Float64Array,
  zeroPoints: MatMulNBitsZeroPoints | undefined,
  params: MatMulNBitsParams,
): DequantizedWeight {
  const { K, N, bits, blockSize } = params;
  if (bits !== 2 && bits !== 4 && bits !== 8)
    throw new FormatError(`MatMulNBits bits must be 2, 4 or 8, not ${bits}`);
  if (!(Number.isSafeInteger(K) && K > 0 && Number.isSafeInteger(N) && N > 0)) {
    throw new FormatError(`MatMulNBits K=${K}, N=${N} must be positive integers`);
  }
  if (!(Number.isSafeInteger(blockSize) && blockSize > 0 && (blockSize * bits) % 8 === 0)) {
    throw new FormatError(
      `MatMulNBits block_size ${blockSize} does not fill whole bytes with ${bits}-bit codes`,
    );
  }
  const kBlocks = Math.ceil(K / blockSize);
  const blobBytes = (blockSize * bits) / 8;
  if (b.count !== N * kBlocks * blobBytes) {
    throw new FormatError(
      `MatMulNBits B holds ${b.count} bytes; [${N}, ${kBlocks}, ${blobBytes}] needs ${N * kBlocks * blobBytes}`,
    );
  }
  if (scales.length !== N * kBlocks) {
    throw new FormatError(`MatMulNBits scales hold ${scales.length} values; N * k_blocks is ${N * kBlocks}`);
  }
  const zpRowBytes = Math.ceil((kBlocks * bits) / 8);
  if (zeroPoints?.kind === 'packed' && zeroPoints.bytes.length !== N * zpRowBytes) {
    throw new FormatError(
      `MatMulNBits zero points hold ${zeroPoints.bytes.length} bytes; ${N * zpRowBytes} expected`,
    );
  }
  if (zeroPoints?.kind === 'float' && zeroPoints.values.length !== N * kBlocks) {
    throw new FormatError(
      `MatMulNBits zero points hold ${zeroPoints.values.length} values; ${N * kBlocks} expected`,
    );
  }
  const mask = (1 << bits) - 1;
  const codesPerByte = 8 / bits;
  const defaultZero = 1 << (bits - 1);
  const zeroOf = (n: number, kb: number): number => {
    if (zeroPoints === undefined) return defaultZero;
    if (zeroPoints.kind === 'float') return zeroPoints.values[n * kBlocks + kb];
    const bit = kb * bits;
    return (zeroPoints.bytes[n * zpRowBytes + (bit >>> 3)] >>> (bit & 7)) & mask;
  };

  return {
    count: N * K,
    layout: { dims: [N, K], reductionAxis: 1, channelAxis: 0 },
    *chunks() {
      let out = new Float64Array(0);
      // Where the next byte of B belongs: row n, block kb, byte within the block's blob.
      let n = 0;
      let kb = 0;
      let byteInBlob = 0;
      let scale = scales[0];
      let zero = zeroOf(0, 0);
      for (const chunk of b.chunks()) {
        if (out.length < chunk.length * codesPerByte) out = new Float64Array(chunk.length * codesPerByte);
        let written = 0;
        for (let i = 0; i < chunk.length; i++) {
          const byte = chunk[i];
          // K position of the first code in this byte; codes at K and beyond are the last block's padding.
          let k = kb * blockSize + byteInBlob * codesPerByte;
          for (let shift = 0; shift < 8 && k < K; shift += bits, k++) {
            out[written++] = (((byte >>> shift) & mask) - zero) * scale;
          }
          if (++byteInBlob === blobBytes) {
            byteInBlob = 0;
            if (++kb === kBlocks) {
              kb = 0;
              n++;
            }
            if (n < N) {
              scale = scales[n * kBlocks + kb];
              zero = zeroOf(n, kb);
            }
          }
        }
        yield out.subarray(0, written);
      }
    },
  };
}
