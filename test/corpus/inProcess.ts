import { createHash } from 'node:crypto';
import type { ByteSource, ExternalDataResolver } from '../../src/core/io/byteSource';
import type { Piece } from '../../src/core/write/pieces';
import { planWrite } from '../../src/core/write/planWrite';
import { inspectModel } from '../../src/runtime/inspectModel';
import { openModel } from '../../src/runtime/openModel';
import type { OurTensor } from './compareStats';

/** What the in-process pipeline (the CLI's own inspectModel in one thread, and planWrite) reports. */
export interface InProcessResult {
  tensors: OurTensor[];
  /** sha256 of the no-edit rewrite, computed from the plan's pieces without writing a file. */
  rewriteSha256: string;
  rewriteBytes: number;
}

/**
 * The report `inspect --json` would print (runtime/inspectModel with threads: 1, so no worker start-up
 * per model), and the sha256 of the no-edit rewrite plan.
 */
export async function inspectInProcess(modelPath: string, bins = 64): Promise<InProcessResult> {
  const report = await inspectModel(modelPath, { bins, threads: 1 });
  const tensors: OurTensor[] = report.tensors;
  const model = openModel(modelPath);
  try {
    const plan = planWrite(model.index, model.source, []);
    if (plan.external) throw new Error('a no-edit plan wants a new external data file');
    return {
      tensors,
      rewriteSha256: hashPieces(plan.model, model.source, model.resolveExternal),
      rewriteBytes: plan.modelBytes,
    };
  } finally {
    model.close();
  }
}

/** sha256 of the bytes a list of pieces describes. */
export function hashPieces(pieces: Piece[], source: ByteSource, resolve: ExternalDataResolver): string {
  const h = createHash('sha256');
  const CHUNK = 8 << 20;
  for (const p of pieces) {
    if (p.kind === 'bytes') {
      h.update(p.bytes);
      continue;
    }
    const from = p.kind === 'source' ? source : resolve(p.location);
    for (let at = 0; at < p.length; at += CHUNK)
      h.update(from.read(p.offset + at, Math.min(CHUNK, p.length - at)));
  }
  return h.digest('hex');
}
