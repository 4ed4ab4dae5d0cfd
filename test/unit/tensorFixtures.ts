// Builders shared by the numerics unit tests: protobuf-style payload bytes, byte sources, a numpy oracle.
import { execFileSync } from 'node:child_process';
import { MemoryByteSource, type ByteSource, type ExternalDataResolver } from '../../src/core/io/byteSource';
import type { Payload, TensorPart, TypedFieldNumber, TypedRange } from '../../src/core/onnx/modelIndex';
import { collectValues, type ValueStream } from '../../src/core/tensor/valueStream';
import { tensorValues, type TensorSource } from '../../src/core/tensor/tensorValues';

/** A resolver for tests without external data: any use is a bug in the test. */
export const noExternal: ExternalDataResolver = (location) => {
  throw new Error(`unexpected external data ${location}`);
};

/** Protobuf varint bytes of a 64-bit value (negative numbers as 64-bit two's complement, as protobuf does). */
export function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

/** Bytes of a typed array (little endian, as raw_data stores them). */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}

/** A model-like file holding `payload` after `pad` bytes of junk, so offsets are neither 0 nor aligned. */
export function fileWith(payload: Uint8Array | number[], pad = 3): { source: ByteSource; offset: number } {
  const bytes = new Uint8Array(pad + payload.length + 5).fill(0xee);
  bytes.set(payload, pad);
  return { source: new MemoryByteSource(bytes), offset: pad };
}

/** A raw_data tensor part. */
export function rawPart(dtype: number, dims: number[], payload: Uint8Array | number[], pad = 3) {
  const { source, offset } = fileWith(payload, pad);
  const part: TensorSource = { dtype, dims, payload: { kind: 'raw', offset, length: payload.length } };
  return { part, source };
}

/** One element of a typed field: varint values, or fixed 4/8-byte floats. */
export type TypedItem = number | bigint;

function encodeItem(field: TypedFieldNumber, item: TypedItem): number[] {
  if (field === 4) return Array.from(bytesOf(new Float32Array([Number(item)])));
  if (field === 10) return Array.from(bytesOf(new Float64Array([Number(item)])));
  return varint(item);
}

/**
 * A TensorProto-like byte layout of a typed field and the ranges the index would record: one packed run
 * (tag, length, values), or one tag + value per element (unpacked), or `split` packed runs.
 */
export function typedPart(
  dtype: number,
  dims: number[],
  field: TypedFieldNumber,
  items: TypedItem[],
  layout: 'packed' | 'unpacked' | { split: number } = 'packed',
): { part: TensorSource; source: ByteSource } {
  const bytes: number[] = [0x08, 0x01]; // some unrelated leading field
  const ranges: TypedRange[] = [];
  const encoded = items.map((item) => encodeItem(field, item));
  const runs: number[][][] =
    layout === 'unpacked'
      ? []
      : layout === 'packed'
        ? [encoded]
        : Array.from({ length: layout.split }, (_, i) =>
            encoded.slice(
              Math.floor((i * encoded.length) / layout.split),
              Math.floor(((i + 1) * encoded.length) / layout.split),
            ),
          );
  if (layout === 'unpacked') {
    const wire = field === 4 ? 5 : field === 10 ? 1 : 0;
    for (const e of encoded) {
      bytes.push(...varint((field << 3) | wire));
      ranges.push({ offset: bytes.length, length: e.length, packed: false });
      bytes.push(...e);
    }
  } else {
    for (const run of runs) {
      const flat = run.flat();
      bytes.push(...varint((field << 3) | 2), ...varint(flat.length));
      ranges.push({ offset: bytes.length, length: flat.length, packed: true });
      for (const b of flat) bytes.push(b);
    }
  }
  bytes.push(0x10, 0x01);
  const payload: Payload = { kind: 'typed', field, ranges };
  return { part: { dtype, dims, payload }, source: new MemoryByteSource(Uint8Array.from(bytes)) };
}

/** A TensorPart (for sparse parts) from a TensorSource; the field span is irrelevant to the numerics. */
export function asPart(src: TensorSource): TensorPart {
  return { ...src, field: { start: 0, lenStart: 0, valueStart: 0, end: 0 } };
}

/** Every value of a tensor, through the streaming reader. */
export function readAll(
  part: TensorSource,
  source: ByteSource,
  chunkElements?: number,
  resolve = noExternal,
): number[] {
  return Array.from(collectValues(tensorValues(part, source, resolve, { chunkElements })));
}

/** Every value of a stream as a plain array. */
export function streamToArray(stream: ValueStream): number[] {
  return Array.from(collectValues(stream));
}

/** Run a Python snippet with Debian's numpy; `input` goes to stdin, the printed JSON comes back. */
export function python<T>(script: string, input?: string | Uint8Array): T {
  const out = execFileSync('/usr/bin/python3', ['-c', script], {
    input,
    maxBuffer: 1 << 28,
    encoding: 'utf8',
  });
  return JSON.parse(out) as T;
}

/** A seeded PRNG (mulberry32), so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples from a seeded PRNG (Box-Muller). */
export function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Relative closeness with an absolute floor, for float64 comparisons with numpy. */
export function close(actual: number, expected: number, rel: number, abs = 0): boolean {
  return Math.abs(actual - expected) <= Math.max(abs, rel * Math.abs(expected));
}
