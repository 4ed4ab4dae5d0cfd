import * as fs from 'node:fs';
import type { ByteSource } from '../core/io/byteSource';

/**
 * A ByteSource over an open file: every read is a positioned read (pread), so a multi-GB model is
 * never loaded whole. Reads of up to `reuse` bytes share one buffer (callers copy what they keep).
 */
export class FileByteSource implements ByteSource {
  readonly size: number;
  private fd: number | undefined;
  // A plain Uint8Array, not a Buffer: callers copy with slice(), which on a Buffer would be a view.
  private scratch = new Uint8Array(1 << 16);

  constructor(
    readonly path: string,
    fd?: number,
  ) {
    this.fd = fd ?? fs.openSync(path, 'r');
    this.size = fs.fstatSync(this.fd).size;
  }

  read(offset: number, length: number): Uint8Array {
    if (length < 0) throw new RangeError(`read of ${length} bytes from ${this.path}`);
    // Small reads reuse a buffer; large ones (tensor payloads) get their own, aligned for typed-array views.
    const target = (length <= this.scratch.length ? this.scratch : new Uint8Array(length)).subarray(
      0,
      length,
    );
    this.readInto(offset, target);
    return target;
  }

  readInto(offset: number, target: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`${this.path} is closed`);
    const length = target.length;
    if (offset < 0 || offset + length > this.size) {
      throw new RangeError(
        `read of ${length} bytes at ${offset} is past the end of ${this.path} (${this.size} bytes)`,
      );
    }
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, target, done, length - done, offset + done);
      if (n === 0) throw new RangeError(`${this.path} ended early at byte ${offset + done}`);
      done += n;
    }
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
