import * as fs from 'node:fs';

/** numpy element kinds this reader understands, named like ONNX Runtime's tensor types. */
export type NpyKind =
  | 'float16'
  | 'float32'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool';

export type NpyData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** One array from a `.npy` file, in C order and native (little-endian) byte order. */
export interface NpyArray {
  /** The header's `descr` (`<f4`, `|b1`, …). */
  descr: string;
  kind: NpyKind;
  shape: number[];
  /** float16 as its bits (Uint16Array), bool as 0/1 bytes. */
  data: NpyData;
}

/** A `.npy` file this reader refuses, with the reason. */
export class NpyError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'NpyError';
  }
}

const KINDS: Record<string, { kind: NpyKind; size: number }> = {
  f2: { kind: 'float16', size: 2 },
  f4: { kind: 'float32', size: 4 },
  f8: { kind: 'float64', size: 8 },
  i1: { kind: 'int8', size: 1 },
  u1: { kind: 'uint8', size: 1 },
  i2: { kind: 'int16', size: 2 },
  u2: { kind: 'uint16', size: 2 },
  i4: { kind: 'int32', size: 4 },
  u4: { kind: 'uint32', size: 4 },
  i8: { kind: 'int64', size: 8 },
  u8: { kind: 'uint64', size: 8 },
  b1: { kind: 'bool', size: 1 },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Reads a `.npy` file (format versions 1.0, 2.0 and 3.0). */
export function readNpy(file: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new NpyError(file, (e as Error).message);
  }
  return parseNpy(bytes, file);
}

/**
 * Parses the bytes of a `.npy` file: magic, version, header length (2 bytes in 1.0, 4 in 2.0/3.0), the
 * header dict (`descr`, `fortran_order`, `shape`; latin-1, or UTF-8 in 3.0), then the data. Simple numeric
 * and bool dtypes in either byte order (big-endian data is swapped); Fortran-ordered, structured, object and
 * string arrays are refused with the reason.
 */
export function parseNpy(bytes: Uint8Array, file = '(npy)'): NpyArray {
  const fail = (reason: string): never => {
    throw new NpyError(file, reason);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    fail('not a .npy file (no \\x93NUMPY magic)');
  const major = bytes[6];
  if (major < 1 || major > 3) fail(`unsupported .npy format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) fail('truncated header');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > bytes.length) fail('truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(8 + lengthBytes, dataStart),
  );

  const descrMatch = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(header);
  if (!descrMatch) {
    if (/['"]descr['"]\s*:\s*\[/.test(header))
      fail('structured dtypes are not supported: save a plain numeric array');
    fail(`no descr in header ${header.trim()}`);
  }
  const descr = descrMatch![2];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  if (!fortran) fail(`no fortran_order in header ${header.trim()}`);
  if (fortran![1] === 'True') {
    fail('the array is in Fortran (column-major) order: save it with np.save(path, np.ascontiguousarray(a))');
  }
  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!shapeMatch) fail(`no shape in header ${header.trim()}`);
  const shape = shapeMatch![1]
    .split(',')
    .map((s) => s.trim().replace(/L$/, ''))
    .filter((s) => s !== '')
    .map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(`invalid shape (${shapeMatch![1]})`);

  const order = descr[0];
  const info = KINDS[descr.slice(1)];
  if (!info || !'<>|='.includes(order)) {
    fail(`dtype ${descr} is not supported (numeric and bool arrays only: <f2 <f4 <f8 |i1 |u1 <i2 … <u8 |b1)`);
  }
  const { kind, size } = info!;
  const count = shape.reduce((a, b) => a * b, 1);
  const byteLength = count * size;
  if (bytes.length - dataStart < byteLength) {
    fail(
      `holds ${bytes.length - dataStart} data bytes; shape (${shape.join(', ')}) of ${descr} needs ${byteLength}`,
    );
  }
  // A fresh, aligned copy in little-endian order.
  const raw = new Uint8Array(byteLength);
  raw.set(bytes.subarray(dataStart, dataStart + byteLength)); // (Buffer#slice would be a view)
  if (order === '>' && size > 1) {
    for (let i = 0; i < raw.length; i += size) raw.subarray(i, i + size).reverse();
  }
  const b = raw.buffer;
  const data: NpyData =
    kind === 'float16' || kind === 'uint16'
      ? new Uint16Array(b)
      : kind === 'float32'
        ? new Float32Array(b)
        : kind === 'float64'
          ? new Float64Array(b)
          : kind === 'int8'
            ? new Int8Array(b)
            : kind === 'int16'
              ? new Int16Array(b)
              : kind === 'int32'
                ? new Int32Array(b)
                : kind === 'uint32'
                  ? new Uint32Array(b)
                  : kind === 'int64'
                    ? new BigInt64Array(b)
                    : kind === 'uint64'
                      ? new BigUint64Array(b)
                      : new Uint8Array(b);
  if (kind === 'bool' && (data as Uint8Array).some((v) => v > 1))
    fail('bool data holds bytes other than 0 and 1');
  return { descr, kind, shape, data };
}
