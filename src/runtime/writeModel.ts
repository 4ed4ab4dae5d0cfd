import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelError } from '../core/errors';
import { type Piece, piecesLength } from '../core/write/pieces';
import type { WritePlan } from '../core/write/planWrite';
import { DIRECT_ALIGN, type DirectFile, openDirect } from './directFile';
import { OffThreadHash } from './offThreadHash';
import type { OpenedModel } from './openModel';

export interface WriteResult {
  modelPath: string;
  modelBytes: number;
  /** SHA-256 of the model file, computed as it was written (no second read). */
  modelSha256: string;
  /** Files written beside the model (new external data, copies of kept external data: no sha256). */
  externalFiles: { path: string; bytes: number; sha256?: string }[];
}

const CHUNK = 8 << 20;

/** A file to write: pieces, or a copy of a kept external data file. */
interface Target {
  final: string;
  pieces: Piece[] | { copyFrom: string };
}

/** A file written under a temporary name, not yet renamed. */
interface Written {
  temp: string;
  final: string;
  bytes: number;
  sha256?: string;
}

/**
 * Writes a plan beside nothing it could harm: the input is never overwritten, an existing output is
 * refused unless `force`, and every file is written to a temporary name and renamed only when complete,
 * so a failed or killed run leaves no partial output.
 */
export function writeModel(
  plan: WritePlan,
  input: OpenedModel,
  outPath: string,
  options: { force?: boolean } = {},
): WriteResult {
  const targets = targetsOf(plan, input, outPath, options);
  const temps: string[] = [];
  try {
    const written = targets.map((t): Written => {
      const temp = tempFor(t, temps);
      let sha256: string | undefined;
      if ('copyFrom' in t.pieces) fs.copyFileSync(t.pieces.copyFrom, temp);
      else sha256 = writePieces(temp, t.pieces, input);
      return { temp, final: t.final, bytes: fs.statSync(temp).size, sha256 };
    });
    return commit(outPath, written);
  } catch (e) {
    throw failed(outPath, temps, e);
  }
}

/**
 * writeModel with the writes on libuv's thread pool: while one chunk goes to the file, this thread makes
 * the next (a streamed transform prunes or reads it), so making and writing overlap on two cores.
 */
export async function writeModelAsync(
  plan: WritePlan,
  input: OpenedModel,
  outPath: string,
  options: { force?: boolean } = {},
): Promise<WriteResult> {
  const targets = targetsOf(plan, input, outPath, options);
  const temps: string[] = [];
  try {
    const written: Written[] = [];
    for (const t of targets) {
      const temp = tempFor(t, temps);
      let sha256: string | undefined;
      if ('copyFrom' in t.pieces) await fs.promises.copyFile(t.pieces.copyFrom, temp);
      else sha256 = await writePiecesAsync(temp, t.pieces, input);
      written.push({ temp, final: t.final, bytes: (await fs.promises.stat(temp)).size, sha256 });
    }
    return commit(outPath, written);
  } catch (e) {
    throw failed(outPath, temps, e);
  }
}

/** The files a plan writes, checked: no input overwritten, nothing existing without `force`. */
function targetsOf(
  plan: WritePlan,
  input: OpenedModel,
  outPath: string,
  options: { force?: boolean },
): Target[] {
  const out = path.resolve(outPath);
  const outDir = path.dirname(out);
  const inputs = new Set(
    [input.path, ...input.index.externalLocations.map((l) => path.join(path.dirname(input.path), l))].map(
      realOrSelf,
    ),
  );
  const targets: Target[] = [{ final: out, pieces: plan.model }];
  if (plan.external)
    targets.push({ final: path.join(outDir, plan.external.location), pieces: plan.external.pieces });
  if (
    outDir !== realOrSelf(path.dirname(input.path)) &&
    realOrSelf(outDir) !== realOrSelf(path.dirname(input.path))
  ) {
    // The new model still refers to these external files by relative location: they must sit beside it.
    for (const location of plan.keptExternal) {
      targets.push({
        final: path.join(outDir, location),
        pieces: { copyFrom: path.join(path.dirname(input.path), location) },
      });
    }
  }
  for (const t of targets) {
    if (inputs.has(realOrSelf(t.final)))
      throw new ModelError(outPath, `refusing to overwrite an input file (${t.final})`);
    if (!options.force && fs.existsSync(t.final))
      throw new ModelError(t.final, 'already exists (use --force to overwrite)');
  }
  if (!fs.existsSync(outDir)) throw new ModelError(outPath, `folder ${outDir} does not exist`);
  return targets;
}

/** A temporary name beside the target's (listed in `temps` for the clean-up), its folder made. */
function tempFor(t: Target, temps: string[]): string {
  const temp = `${t.final}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  temps.push(temp);
  // External data may live in a sub-folder of the model's folder (its location says so).
  fs.mkdirSync(path.dirname(t.final), { recursive: true });
  return temp;
}

/** Renames the written files into place: external data first, the model last. */
function commit(outPath: string, written: Written[]): WriteResult {
  // A model is never visible before the data it refers to.
  for (const w of written.slice(1)) fs.renameSync(w.temp, w.final);
  fs.renameSync(written[0].temp, written[0].final);
  return {
    modelPath: path.resolve(outPath),
    modelBytes: written[0].bytes,
    modelSha256: written[0].sha256!,
    externalFiles: written
      .slice(1)
      .map((w) => ({ path: w.final, bytes: w.bytes, ...(w.sha256 ? { sha256: w.sha256 } : {}) })),
  };
}

/** Removes the temporary files of a failed write; the error to throw. */
function failed(outPath: string, temps: string[], e: unknown): ModelError {
  for (const t of temps) fs.rmSync(t, { force: true });
  if (e instanceof ModelError) return e;
  return new ModelError(outPath, `could not write: ${(e as Error).message}`);
}

/** Writes the pieces in order and returns the file's SHA-256, hashed from the bytes as they go out. */
function writePieces(file: string, pieces: Piece[], input: OpenedModel): string {
  const fd = fs.openSync(file, 'wx');
  const hash = createHash('sha256');
  try {
    let position = 0;
    const put = (bytes: Uint8Array) => {
      hash.update(bytes);
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
      position += bytes.length;
    };
    for (const p of pieces) {
      if (p.kind === 'bytes') {
        put(p.bytes);
        continue;
      }
      const from = p.kind === 'source' ? input.source : input.resolveExternal(p.location);
      for (let at = 0; at < p.length; at += CHUNK)
        put(from.read(p.offset + at, Math.min(CHUNK, p.length - at)));
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Buffers in flight while writing asynchronously: one being filled, the others being written. */
const RING = 3;
/** Files from this size on are hashed on a worker thread (starting one costs a few tens of ms). */
const HASH_OFF_THREAD_FROM = 64 << 20;

/**
 * writePieces on libuv's thread pool: bytes are gathered into CHUNK-sized buffers (file pieces read
 * straight into them) and each full buffer is written while the next fills; the hash is taken as they go.
 * A large file is written around the page cache where the file system allows (O_DIRECT, see openDirect):
 * whole chunks at chunk-aligned positions, the last one padded, then the file cut to its length.
 */
async function writePiecesAsync(file: string, pieces: Piece[], input: OpenedModel): Promise<string> {
  const handle = await fs.promises.open(file, 'wx');
  const hash = createHash('sha256');
  // A large file is hashed on a worker thread, straight from the shared buffers being written.
  const shared =
    piecesLength(pieces) >= HASH_OFF_THREAD_FROM
      ? Array.from({ length: RING }, () => new SharedArrayBuffer(CHUNK + DIRECT_ALIGN))
      : undefined;
  let direct: DirectFile | undefined;
  let offThread: OffThreadHash | undefined;
  try {
    direct = shared ? await openDirect(file, shared) : undefined;
    offThread = shared ? new OffThreadHash(shared, direct?.offsets) : undefined;
    const ring = shared
      ? shared.map((b, i) => Buffer.from(b, direct?.offsets[i] ?? 0, CHUNK))
      : Array.from({ length: RING }, () => Buffer.allocUnsafe(CHUNK));
    const inFlight: Promise<unknown>[] = [];
    let slot = 0;
    let fill = 0;
    let position = 0;
    const flush = async () => {
      if (fill === 0) return;
      const buffer = ring[slot];
      const length = fill;
      let hashed: Promise<void> | undefined;
      if (offThread) hashed = offThread.update(slot, length);
      else hash.update(buffer.subarray(0, length));
      // A direct write covers whole aligned blocks: the last chunk's padding is cut off at the end.
      const written = direct
        ? writeFully(direct.handle, buffer, Math.ceil(length / DIRECT_ALIGN) * DIRECT_ALIGN, position)
        : writeFully(handle, buffer, length, position);
      const write = Promise.all([written, hashed]);
      write.catch(() => undefined); // awaited below; a failure must not surface as unhandled first
      inFlight.push(write);
      position += length;
      slot = (slot + 1) % RING;
      fill = 0;
      // The next buffer is free once the write (and the hashing) that used it last is done.
      if (inFlight.length === RING) await inFlight.shift();
    };
    for (const p of pieces) {
      if (p.kind === 'bytes') {
        for (let at = 0; at < p.bytes.length; ) {
          const n = Math.min(CHUNK - fill, p.bytes.length - at);
          ring[slot].set(p.bytes.subarray(at, at + n), fill);
          fill += n;
          at += n;
          if (fill === CHUNK) await flush();
        }
        continue;
      }
      const from = p.kind === 'source' ? input.source : input.resolveExternal(p.location);
      for (let at = 0; at < p.length; ) {
        const n = Math.min(CHUNK - fill, p.length - at);
        const target = ring[slot].subarray(fill, fill + n);
        if (from.readInto) from.readInto(p.offset + at, target);
        else target.set(from.read(p.offset + at, n));
        fill += n;
        at += n;
        if (fill === CHUNK) await flush();
      }
    }
    await flush();
    await Promise.all(inFlight);
    if (direct) await handle.truncate(position);
    await handle.sync();
    return offThread ? await offThread.digest() : hash.digest('hex');
  } finally {
    offThread?.dispose();
    await direct?.handle.close();
    await handle.close();
  }
}

/** Writes `length` bytes of `buffer` at `position`, however many calls that takes. */
async function writeFully(
  handle: fs.promises.FileHandle,
  buffer: Buffer,
  length: number,
  position: number,
): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesWritten } = await handle.write(buffer, done, length - done, position + done);
    done += bytesWritten;
  }
}

function realOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}
