import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelError } from '../core/errors';
import type { Piece } from '../core/write/pieces';
import type { WritePlan } from '../core/write/planWrite';
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
  const out = path.resolve(outPath);
  const outDir = path.dirname(out);
  const inputs = new Set(
    [input.path, ...input.index.externalLocations.map((l) => path.join(path.dirname(input.path), l))].map(
      realOrSelf,
    ),
  );
  const targets: { final: string; pieces: Piece[] | { copyFrom: string } }[] = [
    { final: out, pieces: plan.model },
  ];
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

  const temps: string[] = [];
  try {
    const written = targets.map((t) => {
      const temp = `${t.final}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
      temps.push(temp);
      // External data may live in a sub-folder of the model's folder (its location says so).
      fs.mkdirSync(path.dirname(t.final), { recursive: true });
      let sha256: string | undefined;
      if ('copyFrom' in t.pieces) fs.copyFileSync(t.pieces.copyFrom, temp);
      else sha256 = writePieces(temp, t.pieces, input);
      return { temp, final: t.final, bytes: fs.statSync(temp).size, sha256 };
    });
    // External data first, the model last: a model is never visible before the data it refers to.
    for (const w of written.slice(1)) fs.renameSync(w.temp, w.final);
    fs.renameSync(written[0].temp, written[0].final);
    return {
      modelPath: out,
      modelBytes: written[0].bytes,
      modelSha256: written[0].sha256!,
      externalFiles: written
        .slice(1)
        .map((w) => ({ path: w.final, bytes: w.bytes, ...(w.sha256 ? { sha256: w.sha256 } : {}) })),
    };
  } catch (e) {
    for (const t of temps) fs.rmSync(t, { force: true });
    if (e instanceof ModelError) throw e;
    throw new ModelError(outPath, `could not write: ${(e as Error).message}`);
  }
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

function realOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}
