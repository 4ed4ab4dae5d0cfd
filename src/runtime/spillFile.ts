import * as fs from 'node:fs';
import type { ExternalDataResolver } from '../core/io/byteSource';
import type { TensorSink } from '../core/quant/planQuantize';
import type { Piece } from '../core/write/pieces';
import { FileByteSource } from './fileByteSource';
import type { OpenedModel } from './openModel';

/** A temporary file that holds new tensors until the writer copies them into the output. */
export interface SpillFile {
  /** Appends tensors of at least `minBytes` to the file and returns pieces that point there. */
  sink: TensorSink;
  /** The model with a resolver that also serves the spill file, for writeModel. */
  wrap(model: OpenedModel): OpenedModel;
  /** Closes (and, where it is still listed, deletes) the file; idempotent. */
  close(): void;
  /** Bytes written so far. */
  readonly bytes: number;
}

/** The location pieces name: not a valid external data location, so it cannot collide with one. */
const SPILL_LOCATION = '\0big-shrink-spill';

/**
 * Opens `<outPath>.spill-<pid>-<random>` beside the output (same file system) and, where the platform
 * allows, unlinks it at once: the open descriptor keeps the data, and a killed process leaves nothing
 * behind. Tensors smaller than `minBytes` stay in memory: many small reads would cost more than they save.
 */
export function openSpillFile(outPath: string, minBytes = 1 << 16): SpillFile {
  const file = `${outPath}.spill-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let fd: number | undefined = fs.openSync(file, 'wx+');
  let listed = true;
  try {
    fs.unlinkSync(file);
    listed = false;
  } catch {
    // Windows cannot unlink an open file: it is deleted on close instead.
  }
  let size = 0;
  let reader: FileByteSource | undefined;
  const close = () => {
    if (reader) reader.close();
    else if (fd !== undefined) fs.closeSync(fd);
    reader = undefined;
    fd = undefined;
    if (listed) fs.rmSync(file, { force: true });
    listed = false;
  };
  return {
    sink(bytes): Uint8Array | Piece[] {
      if (bytes.length < minBytes || fd === undefined) return bytes;
      const offset = size;
      for (let done = 0; done < bytes.length; ) {
        done += fs.writeSync(fd, bytes, done, bytes.length - done, offset + done);
      }
      size += bytes.length;
      return [{ kind: 'external', location: SPILL_LOCATION, offset, length: bytes.length }];
    },
    wrap(model) {
      const resolveExternal: ExternalDataResolver = (location) => {
        if (location !== SPILL_LOCATION) return model.resolveExternal(location);
        if (fd === undefined) throw new Error('the spill file is closed');
        // Created once every tensor is in: the source takes the file's size when it opens.
        reader ??= new FileByteSource(file, fd);
        return reader;
      };
      return { ...model, resolveExternal };
    },
    close,
    get bytes() {
      return size;
    },
  };
}
