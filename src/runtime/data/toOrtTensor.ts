import type * as OrtTypes from 'onnxruntime-node';
import { encodeFloat16 } from '../../core/tensor/float16';
import type { FedInput } from './modelInputs';
import { DataError, type RawTensor } from './rawSample';

type Ort = typeof OrtTypes;

/** The value range of each integer type narrower than 64 bits. */
export const INT_RANGES: Record<string, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
};

/**
 * An onnxruntime tensor of the input's declared type from decoded values: same type as is; floats to the
 * input's float type; numbers to an integer type when every value is a whole number that fits (else a
 * DataError naming the input); bools as 0/1.
 */
export function toOrtTensor(ort: Ort, raw: RawTensor, input: FedInput): OrtTypes.Tensor {
  const dtype = input.dtype;
  const dims = raw.dims;
  if (raw.dtype === dtype)
    return new ort.Tensor(dtype as OrtTypes.Tensor.Type, raw.data as OrtTypes.Tensor.DataType, dims);
  const numbers = (): number[] => Array.from(raw.data as ArrayLike<number | bigint>, (v) => Number(v));
  if (raw.dtype === 'float16')
    throw new DataError(input.name, `float16 values cannot feed input ${input.name} of type ${dtype}`);
  switch (dtype) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(numbers()), dims);
    case 'float64':
      return new ort.Tensor('float64', Float64Array.from(numbers()), dims);
    case 'float16':
      return new ort.Tensor('float16', encodeFloat16(Float32Array.from(numbers())), dims);
    case 'bool':
      return new ort.Tensor(
        'bool',
        Uint8Array.from(numbers(), (v) => (v ? 1 : 0)),
        dims,
      );
  }
  const values = numbers();
  const range = INT_RANGES[dtype];
  const bad = values.find(
    (v) => !Number.isInteger(v) || (range ? v < range[0] || v > range[1] : !Number.isSafeInteger(v)),
  );
  if (bad !== undefined)
    throw new DataError(input.name, `value ${bad} does not fit input ${input.name} of type ${dtype}`);
  switch (dtype) {
    case 'int64':
      return new ort.Tensor(
        'int64',
        BigInt64Array.from(values, (v) => BigInt(v)),
        dims,
      );
    case 'uint64':
      return new ort.Tensor(
        'uint64',
        BigUint64Array.from(values, (v) => BigInt(v)),
        dims,
      );
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(values), dims);
    case 'uint32':
      return new ort.Tensor('uint32', Uint32Array.from(values), dims);
    case 'int16':
      return new ort.Tensor('int16', Int16Array.from(values), dims);
    case 'uint16':
      return new ort.Tensor('uint16', Uint16Array.from(values), dims);
    case 'int8':
      return new ort.Tensor('int8', Int8Array.from(values), dims);
    case 'uint8':
      return new ort.Tensor('uint8', Uint8Array.from(values), dims);
  }
  throw new DataError(input.name, `input ${input.name} of type ${dtype} cannot be fed from data`);
}
