/** Random access to the bytes of a file (or of memory), read by offset so nothing is loaded whole. */
export interface ByteSource {
  /** Total length in bytes (may exceed 2 GiB: offsets are plain numbers, exact below 2^53). */
  readonly size: number;
  /**
   * The bytes [offset, offset + length). The result may be a view into a reused buffer:
   * copy it (`slice()`) if it must outlive the next call.
   */
  read(offset: number, length: number): Uint8Array;
  /** Fills `target` with the bytes from `offset` on, without an intermediate buffer (optional). */
  readInto?(offset: number, target: Uint8Array): void;
}

/** A ByteSource over bytes already in memory (tests, small models, fuzzing). */
export class MemoryByteSource implements ByteSource {
  constructor(private readonly bytes: Uint8Array) {}

  get size(): number {
    return this.bytes.length;
  }

  read(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.bytes.length) {
      throw new RangeError(`read of ${length} bytes at ${offset} is past the end (${this.bytes.length})`);
    }
    return this.bytes.subarray(offset, offset + length);
  }
}

/** Opens the external data file named by a tensor's `location` (already checked to be a safe relative path). */
export type ExternalDataResolver = (location: string) => ByteSource;
