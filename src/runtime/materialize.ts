import type { WritePlan } from '../core/write/planWrite';
import type { OpenedModel } from './openModel';

/** The write plan's pieces copied into one buffer (what InferenceSession.create takes). */
export function materialize(plan: WritePlan, model: OpenedModel): Uint8Array {
  const out = new Uint8Array(plan.modelBytes);
  let at = 0;
  for (const p of plan.model) {
    if (p.kind === 'bytes') {
      out.set(p.bytes, at);
      at += p.bytes.length;
      continue;
    }
    const from = p.kind === 'source' ? model.source : model.resolveExternal(p.location);
    const chunk = 8 << 20;
    for (let o = 0; o < p.length; o += chunk) {
      const part = from.read(p.offset + o, Math.min(chunk, p.length - o));
      out.set(part, at);
      at += part.length;
    }
  }
  if (at !== out.length) throw new Error(`materialized ${at} bytes, the plan says ${out.length}`);
  return out;
}
