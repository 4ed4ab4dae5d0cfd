import * as fs from 'node:fs';

/**
 * What O_DIRECT needs aligned: buffer addresses, file positions and lengths (4 KiB covers the usual
 * logical block sizes, 512 B and 4 KiB).
 */
export const DIRECT_ALIGN = 4096;

/** A file opened a second time with O_DIRECT, and where each buffer's aligned stretch starts. */
export interface DirectFile {
  handle: fs.promises.FileHandle;
  /** Byte offset into each buffer given to openDirect at which DIRECT_ALIGN-aligned memory starts. */
  offsets: number[];
}

/**
 * Opens `file` (already created) again for writes that bypass the page cache. Writing a large new file
 * through the page cache costs the kernel a fresh page per 4 KiB — on this kind of virtual machine about
 * 0.9 CPU s of system time per 400 MB, more than everything else in a prune — while a direct write hands
 * the buffer to the disk. JavaScript cannot see a buffer's address, so each buffer (DIRECT_ALIGN bytes
 * longer than the stretch used) is probed: a DIRECT_ALIGN-byte write at position 0 is refused (EINVAL)
 * until its start is aligned; the probe's bytes are overwritten by the file's first chunk. Undefined when
 * the platform or file system has no O_DIRECT or no offset works: the caller writes as usual.
 */
export async function openDirect(
  file: string,
  buffers: SharedArrayBuffer[],
): Promise<DirectFile | undefined> {
  const flag = fs.constants.O_DIRECT;
  if (!flag) return undefined;
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, fs.constants.O_WRONLY | flag);
  } catch {
    return undefined;
  }
  const offsets: number[] = [];
  for (const buffer of buffers) {
    const at = alignedOffset(handle.fd, buffer);
    if (at === undefined) {
      await handle.close();
      return undefined;
    }
    offsets.push(at);
  }
  return { handle, offsets };
}

/** The first offset into `buffer` from which a direct write is accepted (malloc aligns to 16 bytes). */
function alignedOffset(fd: number, buffer: SharedArrayBuffer): number | undefined {
  for (let at = 0; at < DIRECT_ALIGN && at + DIRECT_ALIGN <= buffer.byteLength; at += 16) {
    try {
      fs.writeSync(fd, new Uint8Array(buffer, at, DIRECT_ALIGN), 0, DIRECT_ALIGN, 0);
      return at;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EINVAL') return undefined;
    }
  }
  return undefined;
}
