import * as fs from 'node:fs';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import type * as OrtTypes from 'onnxruntime-node';
import { FormatError, ModelError } from '../core/errors';
import { rawByteLength } from '../core/tensor/dataType';
import { piecesLength, type Piece } from '../core/write/pieces';
import { concat, type Edit, planWrite, type WritePlan } from '../core/write/planWrite';
import { copyPieces, materialize } from './materialize';
import type { OpenedModel } from './openModel';

type SessionOptions = OrtTypes.InferenceSession.SessionOptions;

/**
 * How a candidate holds its weights: `inline` (a model without external data, all in memory);
 * `original-data` (in memory: the graph and the changed tensors, while every untouched tensor stays an
 * external-data reference into the original's own data files, which onnxruntime reads from there);
 * `side-file` (as original-data, with the changed tensors, too many for one protobuf message, in a
 * temporary data file in the original's folder, deleted after use).
 */
export type CandidateStorage = 'inline' | 'original-data' | 'side-file';

/** A candidate model ready for InferenceSession.create(bytes, sessionOptions). */
export interface CandidateModel {
  bytes: Uint8Array;
  sessionOptions: SessionOptions;
  storage: CandidateStorage;
  /** The candidate's size as a model: the message, the changed tensors and the original data it reads. */
  totalBytes: number;
  /** Deletes the side file, if any: call after the session is released (also on failure). */
  dispose(): void;
}

/**
 * Changed tensors above this total go to a side file: a protobuf message is limited to 2 GiB, and a message
 * is held in memory beside the session onnxruntime builds from it — on the 1.1 B benchmark model a shrink
 * candidate with 152 layers at 8 bits carried 1.25 GB of new codes, which a side file keeps out of memory.
 */
const INLINE_CHANGES_LIMIT = 256 * 2 ** 20;

/** Side files not yet deleted, removed when the process (or this worker thread) exits. */
const pending = new Set<string>();
let hooked = false;
let counter = 0;

/**
 * Builds an edited version of `model` for onnxruntime without a copy of the whole model: the protobuf is
 * planned with the untouched external tensors left where they are (their `location` is relative to the
 * original's folder, and the session is told that folder through
 * `session.model_external_initializers_file_folder_path`, so ONNX Runtime reads them from the original's
 * data files), and only the changed tensors are new bytes — in the message, or past 256 MiB of them in a
 * temporary `.big-shrink-candidate-*.data` file in the original's folder (ONNX Runtime refuses external
 * data outside the model's folder). A model without external data is built in memory as before. `tail`
 * is appended to the message (extra graph outputs); `inlineLimit` is for tests of the side file.
 */
export function buildCandidate(
  model: OpenedModel,
  edits: Edit[],
  sessionOptions: SessionOptions,
  tail?: Uint8Array,
  inlineLimit = INLINE_CHANGES_LIMIT,
): CandidateModel {
  const withTail = (b: Uint8Array) => (tail ? concat(b, tail) : b);
  if (model.index.externalLocations.length === 0) {
    const bytes = withTail(materialize(planWrite(model.index, model.source, edits), model));
    return { bytes, sessionOptions, storage: 'inline', totalBytes: bytes.length, dispose: () => {} };
  }
  const folder = path.dirname(path.resolve(model.path));
  const options: SessionOptions = {
    ...sessionOptions,
    extra: {
      ...(sessionOptions.extra as Record<string, unknown> | undefined),
      session: { model_external_initializers_file_folder_path: folder },
    },
  };
  let plan: WritePlan | undefined;
  try {
    plan = planWrite(model.index, model.source, edits);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
  if (plan && plan.modelBytes <= inlineLimit) {
    const bytes = withTail(materialize(plan, model));
    return {
      bytes,
      sessionOptions: options,
      storage: 'original-data',
      totalBytes: bytes.length + keptExternalBytes(model, edits),
      dispose: () => {},
    };
  }
  const location = `.big-shrink-candidate-${process.pid}-${threadId}-${++counter}.data`;
  const file = path.join(folder, location);
  plan = planWrite(model.index, model.source, edits, {
    externalData: { location, threshold: 1024, onlyNew: true },
  });
  if (plan.modelBytes > 0x7fffffff)
    throw new ModelError(
      model.path,
      `the candidate's graph alone would be ${plan.modelBytes} bytes, over protobuf's 2 GiB limit`,
    );
  track(file);
  try {
    writePieces(file, plan.external?.pieces ?? [], model);
    const bytes = withTail(materialize(plan, model));
    return {
      bytes,
      totalBytes: bytes.length + (plan.external?.bytes ?? 0) + keptExternalBytes(model, edits),
      sessionOptions: options,
      storage: 'side-file',
      dispose: () => untrack(file),
    };
  } catch (e) {
    untrack(file);
    const reason =
      (e as NodeJS.ErrnoException).code === 'EACCES' ? 'the folder is not writable' : (e as Error).message;
    throw new ModelError(model.path, `cannot write a candidate's data beside it (${file}): ${reason}`);
  }
}

/** Bytes of the original's external tensors that the edits leave untouched. */
function keptExternalBytes(model: OpenedModel, edits: Edit[]): number {
  const changed = new Set<number>();
  for (const e of edits)
    if (e.kind === 'replaceTensor' || e.kind === 'removeTensor' || e.kind === 'replaceWithSparse')
      changed.add(e.tensorId);
  let n = 0;
  for (const t of model.index.tensors)
    if (t.payload.kind === 'external' && !changed.has(t.id))
      n += t.payload.length ?? rawByteLength(t.dtype, t.count);
  return n;
}

function writePieces(file: string, pieces: Piece[], model: OpenedModel): void {
  const fd = fs.openSync(file, 'wx');
  try {
    const at = copyPieces(pieces, model, (bytes, offset) => fs.writeSync(fd, bytes, 0, bytes.length, offset));
    if (at !== piecesLength(pieces)) throw new Error(`wrote ${at} bytes of ${piecesLength(pieces)}`);
  } finally {
    fs.closeSync(fd);
  }
}

function track(file: string): void {
  pending.add(file);
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const f of pending) fs.rmSync(f, { force: true });
  });
}

function untrack(file: string): void {
  pending.delete(file);
  fs.rmSync(file, { force: true });
}
