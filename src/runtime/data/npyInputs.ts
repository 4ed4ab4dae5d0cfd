import * as fs from 'node:fs';
import type * as OrtTypes from 'onnxruntime-node';
import { decodeFloat16, encodeFloat16 } from '../../core/tensor/float16';
import { type NpyArray, NpyError, readNpy } from '../readNpy';
import { INT_RANGES } from './toOrtTensor';

type Ort = typeof OrtTypes;

/** A file name for an input name: characters a file name may not hold become `_`. */
export function npyFileName(input: string): string {
  return `${input.replace(/[^A-Za-z0-9._-]/g, '_')}.npy`;
}

/**
 * The `.npy` files of `dir` by input name (`NAME.npy`, or NAME with other characters than letters,
 * digits, `.`, `_` and `-` written as `_`). A file that names no input is an error (a typo would otherwise
 * silently fall back to synthesized values).
 */
export function readInputFiles(
  dir: string,
  inputNames: readonly string[],
): Record<string, { array: NpyArray; file: string }> {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.npy'));
  } catch (e) {
    throw new NpyError(dir, `cannot list the inputs folder: ${(e as Error).message}`);
  }
  const out: Record<string, { array: NpyArray; file: string }> = {};
  const used = new Set<string>();
  for (const name of inputNames) {
    const file = [`${name}.npy`, npyFileName(name)].find((f) => entries.includes(f));
    if (!file) continue;
    used.add(file);
    const full = `${dir}/${file}`;
    out[name] = { array: readNpy(full), file: full };
  }
  const stray = entries.filter((f) => !used.has(f));
  if (stray.length > 0) {
    throw new NpyError(
      `${dir}/${stray[0]}`,
      `names no input of the model (its inputs: ${inputNames.join(', ')}; expected files ${inputNames.map(npyFileName).join(', ')})`,
    );
  }
  return out;
}

const FLOAT_KINDS = new Set(['float16', 'float32', 'float64']);

/**
 * An ORT tensor of the input's type from a .npy array: the same type as is; float to float (rounded,
 * noted); integers and bools to a wider or equal integer type when every value fits; anything else is
 * refused with the reason.
 */
export function npyToTensor(
  ort: Ort,
  a: NpyArray,
  dtype: string,
  file: string,
): { tensor: OrtTypes.Tensor; note: string } {
  const dims = a.shape;
  const note = a.kind === dtype ? '' : ` (${a.kind} → ${dtype})`;
  const numbers = (): number[] =>
    a.kind === 'float16'
      ? Array.from(decodeFloat16(a.data as Uint16Array))
      : Array.from(a.data as ArrayLike<number | bigint>, (v) => Number(v));
  if (a.kind === dtype) {
    const type = dtype as OrtTypes.Tensor.Type;
    return { tensor: new ort.Tensor(type, a.data as OrtTypes.Tensor.DataType, dims), note };
  }
  if (FLOAT_KINDS.has(dtype)) {
    if (a.kind === 'bool') throw new NpyError(file, `is bool; input wants ${dtype}`);
    const f = Float64Array.from(numbers());
    const tensor =
      dtype === 'float16'
        ? new ort.Tensor('float16', encodeFloat16(Float32Array.from(f)), dims)
        : dtype === 'float32'
          ? new ort.Tensor('float32', Float32Array.from(f), dims)
          : new ort.Tensor('float64', f, dims);
    return { tensor, note };
  }
  if (FLOAT_KINDS.has(a.kind))
    throw new NpyError(file, `is ${a.kind}; input wants ${dtype} (save it with that dtype)`);
  const values = numbers();
  if (dtype === 'bool') {
    if (values.some((v) => v !== 0 && v !== 1))
      throw new NpyError(file, `holds values other than 0/1; input wants bool`);
    return { tensor: new ort.Tensor('bool', Uint8Array.from(values), dims), note };
  }
  const range = INT_RANGES[dtype];
  const fits = (v: number) => (range ? v >= range[0] && v <= range[1] : Number.isSafeInteger(v));
  const bad = values.find((v) => !fits(v));
  if (bad !== undefined) throw new NpyError(file, `value ${bad} does not fit ${dtype}`);
  const tensor =
    dtype === 'int64'
      ? new ort.Tensor(
          'int64',
          BigInt64Array.from(values, (v) => BigInt(v)),
          dims,
        )
      : dtype === 'uint64'
        ? new ort.Tensor(
            'uint64',
            BigUint64Array.from(values, (v) => BigInt(v)),
            dims,
          )
        : dtype === 'int32'
          ? new ort.Tensor('int32', Int32Array.from(values), dims)
          : dtype === 'uint32'
            ? new ort.Tensor('uint32', Uint32Array.from(values), dims)
            : dtype === 'int16'
              ? new ort.Tensor('int16', Int16Array.from(values), dims)
              : dtype === 'uint16'
                ? new ort.Tensor('uint16', Uint16Array.from(values), dims)
                : dtype === 'int8'
                  ? new ort.Tensor('int8', Int8Array.from(values), dims)
                  : dtype === 'uint8'
                    ? new ort.Tensor('uint8', Uint8Array.from(values), dims)
                    : undefined;
  if (!tensor) throw new NpyError(file, `input type ${dtype} cannot be fed from a .npy file`);
  return { tensor, note };
}
