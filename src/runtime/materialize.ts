import type { Piece } from '../core/write/pieces';
import type { WritePlan } from '../core/write/planWrite';
import type { OpenedModel } from './openModel';

/**
 * Hands every byte of `pieces` to `sink` in order, with its offset in the output: new bytes as they are,
 * copied ranges (of the model or its external data) read 8 MiB at a time. Returns the bytes handed over.
 */
export function copyPieces(
  pieces: readonly Piece[],
  model: OpenedModel,
  sink: (bytes: Uint8Array, at: number) => void,
): number {
  let at = 0;
  for (const p of pieces) {
    if (p.kind === 'bytes') {
      sink(p.bytes, at);
      at += p.bytes.length;
      continue;
    }
    const from = p.kind === 'source' ? model.source : model.resolveExternal(p.location);
    const chunk = 8 << 20;
    for (let o = 0; o < p.length; o += chunk) {
      const part = from.read(p.offset + o, Math.min(chunk, p.length - o));
      sink(part, at);
      at += part.length;
    }
  }
  return at;
}

/** The write plan's pieces copied into one buffer (what InferenceSession.create takes). */
export function materialize(plan: WritePlan, model: OpenedModel): Uint8Array {
  const out = new Uint8Array(plan.modelBytes);
  const at = copyPieces(plan.model, model, (bytes, offset) => out.set(bytes, offset));
  if (at !== out.length) throw new Error(`materialized ${at} bytes, the plan says ${out.length}`);
  return out;
}
