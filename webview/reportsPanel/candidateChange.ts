/**
 * What a shrink candidate changed from the one before it, read the same way by the candidates table, the
 * trade-off plot's tooltips and tests: the first configuration, a layer raised while searching, a layer
 * lowered while backing off (after a fallback, or with --refine, from the candidate written so far), or the
 * fallback to a uniform configuration. No DOM here, so unit tests can load it.
 */
import type { LayerMove, ShrinkCandidate, ShrinkFigures } from '../../src/protocol/shrinkFigures';
import { shortBaselineLabel, shortPrecisionLabel } from './shortLabels';

export type ChangeKind = 'start' | 'raised' | 'lowered' | 'fallback';

export interface CandidateChange {
  kind: ChangeKind;
  /** The layer moved (raised or lowered); a click on it reveals its weight. */
  layer?: string;
  /** What changed, without the layer's name: "4-bit (block 32) → 8-bit (block 32)". */
  text: string;
  /** The same with short labels, for the side bar: "4b32 → 8b32". */
  short: string;
}

export function candidateChange(s: ShrinkFigures, c: ShrinkCandidate): CandidateChange {
  const label = (id: string) => s.labels[id] ?? id;
  const move = (m: LayerMove, name = label) => `${name(m.from)} → ${name(m.to)}`;
  const short = (id: string) => shortPrecisionLabel(label(id));
  if (c.fallback) {
    const to = s.baselines.find((b) => b.id === c.fallback)?.label ?? c.fallback;
    return {
      kind: 'fallback',
      text: `falls back to ${to}`,
      short: `falls back to ${shortBaselineLabel(to)}`,
    };
  }
  if (c.lowered) {
    const m = c.lowered;
    return { kind: 'lowered', layer: m.name, text: `lowered ${move(m)}`, short: `lowered ${move(m, short)}` };
  }
  if (c.raised)
    return { kind: 'raised', layer: c.raised.name, text: move(c.raised), short: move(c.raised, short) };
  return { kind: 'start', text: 'start', short: 'start' };
}

/** The change as one line: "pooler.weight lowered 8-bit → 4-bit", "falls back to uniform 8-bit", "start". */
export function changeText(s: ShrinkFigures, c: ShrinkCandidate): string {
  const x = candidateChange(s, c);
  return x.layer ? `${x.layer} ${x.text}` : x.text;
}

/**
 * How a candidate fared, in a word: the one written, one that meets the target, a lowered step that
 * missed and was undone, one that could not run, or one that misses.
 */
export function candidateOutcome(s: ShrinkFigures, c: ShrinkCandidate): string {
  if (c.step === s.chosenStep) return 'written';
  if (c.met) return 'meets';
  if (c.error) return 'error';
  return c.lowered ? 'misses, undone' : 'misses';
}
