/**
 * Reads the shrink-specific parts of a report JSON (`transform: 'shrink'`, src/core/shrink/shrinkReport.ts)
 * for the side panel. Tolerant like parseReport: missing optional fields are left out, precision ids the
 * panel does not know (a newer engine's `int2`, `fp16`, …) are kept as they are, and labels come from the
 * report's `precisionLabels` when it has them.
 */
import { formatBytes } from '../core/format/formatBytes';
import { parseTarget, targetValue, valueMeets } from '../core/shrink/shrinkTarget';
import type {
  LayerLoss,
  LayerMove,
  ShrinkBaseline,
  ShrinkCandidate,
  ShrinkFidelity,
  ShrinkFigures,
  ShrinkLayer,
} from '../protocol/shrinkFigures';
import { isObject, type Json, list, num, str } from './jsonFields';

/** Labels of the precisions the first engine wrote without `precisionLabels`. */
const KNOWN_LABELS: Record<string, string> = { int4: '4-bit', int8: '8-bit', float: 'float' };

/** "target cosine>=0.999", "target sqnr>=30, at most 586 KiB". */
export function shrinkVariant(options: Json): string {
  const target = str(options.target);
  const max = num(options.maxBytes);
  return [target ? `target ${target}` : 'shrink', max !== undefined ? `at most ${formatBytes(max)}` : '']
    .filter(Boolean)
    .join(', ');
}

function fidelityOf(x: unknown): ShrinkFidelity | undefined {
  if (!isObject(x)) return undefined;
  const cosine = num(x.cosine);
  // An identical output has an infinite SQNR, which JSON writes as null.
  const sqnrDb = num(x.sqnrDb) ?? (x.sqnrDb === null ? Infinity : undefined);
  if (cosine === undefined || sqnrDb === undefined) return undefined;
  const f: ShrinkFidelity = { cosine, sqnrDb };
  for (const k of ['top1', 'pplDelta', 'pplDeltaPct', 'kl', 'accPoints'] as const) {
    const v = num(x[k]);
    if (v !== undefined) f[k] = v;
  }
  return f;
}

function countsOf(x: unknown): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [k, v] of Object.entries(isObject(x) ? x : {}))
    if (num(v) !== undefined) counts[k] = v as number;
  return counts;
}

/** A layer's losses: the report's `losses` list, else its `int4` / `int8` (/ any `<precision>`) figures. */
function lossesOf(l: Json, precisions: string[]): LayerLoss[] {
  const from = (choice: string, x: unknown): LayerLoss | undefined => {
    const f = fidelityOf(x);
    return f && choice ? { choice, sqnrDb: f.sqnrDb, cosine: f.cosine } : undefined;
  };
  if (Array.isArray(l.losses)) return list(l.losses).flatMap((x) => from(str(x.choice), x) ?? []);
  return precisions.flatMap((p) => from(p, l[p]) ?? []);
}

/** A candidate's `raised` / `lowered` move, when it has one. */
function moveOf(x: unknown): LayerMove | undefined {
  return isObject(x) ? { name: str(x.name), from: str(x.from), to: str(x.to) } : undefined;
}

/** "uniform4" -> "uniform 4-bit", a precision id ("int4b128") -> "uniform " + its label; others as they are. */
function baselineLabel(id: string, labels: Record<string, string>): string {
  const m = /^uniform(.+)$/.exec(id);
  if (!m) return labels[id] ? `uniform ${labels[id]}` : id;
  const bits = /^\d+$/.test(m[1]) ? `${m[1]}-bit` : (labels[m[1]] ?? m[1]);
  return `uniform ${bits}`;
}

/** The shrink parts of report `r` (its summary, layers, candidates, baselines, precisionLabels). */
export function shrinkFiguresOf(r: Json): ShrinkFigures {
  const summary = isObject(r.summary) ? r.summary : {};
  const target = str(summary.target) || str(isObject(r.options) ? r.options.target : undefined);
  const parsed = parseTarget(target);
  const goal = typeof parsed === 'string' ? undefined : parsed;
  const counts = countsOf(summary.layers);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(isObject(r.precisionLabels) ? r.precisionLabels : {}))
    if (typeof v === 'string') labels[k] = v;
  const candidates: ShrinkCandidate[] = list(r.candidates).map((c, i) => {
    const raised = moveOf(c.raised);
    const lowered = moveOf(c.lowered);
    const fallback = str(c.fallback);
    return {
      step: num(c.step) ?? i + 1,
      ...(raised ? { raised } : {}),
      ...(lowered ? { lowered } : {}),
      ...(fallback ? { fallback } : {}),
      counts: countsOf(c.counts),
      bytes: num(c.bytes),
      fidelity: fidelityOf(c.fidelity),
      met: c.met === true,
      ...(typeof c.error === 'string' && c.error ? { error: c.error } : {}),
    };
  });
  const precisions = [
    ...new Set([...Object.keys(counts), ...candidates.flatMap((c) => Object.keys(c.counts)), 'int4', 'int8']),
  ];
  for (const p of precisions) labels[p] ??= KNOWN_LABELS[p] ?? p;
  const layers: ShrinkLayer[] = list(r.layers).map((l) => ({
    name: str(l.name),
    op: str(l.op),
    params: num(l.params) ?? 0,
    choice: str(l.choice),
    why: str(l.why),
    losses: lossesOf(l, precisions),
  }));
  for (const l of layers) labels[l.choice] ??= KNOWN_LABELS[l.choice] ?? l.choice;
  const rawBaselines = isObject(r.baselines) ? r.baselines : {};
  // Uniform 8-bit first, then 4-bit, then whatever else the engine compared with, in its order.
  const ids = Object.keys(rawBaselines).sort(
    (a, b) =>
      Number(b === 'uniform8') - Number(a === 'uniform8') ||
      Number(b === 'uniform4') - Number(a === 'uniform4'),
  );
  const baselines: ShrinkBaseline[] = ids.flatMap((id) => {
    const b = rawBaselines[id];
    if (!isObject(b)) return [];
    return [
      {
        id,
        label: baselineLabel(id, labels),
        bytes: num(b.bytes),
        fidelity: fidelityOf(b.fidelity),
        meetsTarget: b.meetsTarget === true,
        ...(typeof b.error === 'string' && b.error ? { error: b.error } : {}),
      },
    ];
  });
  // The engine names the candidate it wrote (after a fallback or --refine it need not be the last that met);
  // older reports did not, and then the last that met was the one written.
  const chosenStep = num(summary.chosenStep);
  const chosen =
    chosenStep !== undefined
      ? candidates.find((c) => c.step === chosenStep)
      : [...candidates].reverse().find((c) => c.met);
  const fallback = str(summary.fallback);
  const objective =
    summary.objective === 'latency' || summary.objective === 'size' ? summary.objective : undefined;
  const lat = isObject(summary.latency) ? summary.latency : undefined;
  const latency =
    lat && num(lat.originalMs) !== undefined && num(lat.candidateMs) !== undefined
      ? { originalMs: num(lat.originalMs)!, candidateMs: num(lat.candidateMs)!, runs: num(lat.runs) ?? 0 }
      : undefined;
  const achieved =
    num(summary.achieved) ?? (goal && chosen?.fidelity ? targetValue(chosen.fidelity, goal) : undefined);
  return {
    target,
    metric: goal?.metric,
    min: goal?.min,
    achieved,
    met: !!chosen && (achieved === undefined || !goal || valueMeets(achieved, goal)),
    chosenStep: chosen?.step,
    ...(fallback ? { fallback } : {}),
    counts,
    labels,
    layers,
    candidates,
    baselines,
    ...(objective ? { objective } : {}),
    ...(latency ? { latency } : {}),
  };
}
