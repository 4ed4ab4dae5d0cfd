import type { QuantizedTensorRow } from '../quant/planQuantize';
import {
  cell,
  kib,
  num,
  renderFilesAndOptions,
  renderTimings,
  renderVerification,
} from '../quant/quantizeReport';
import type { TransformReport, TransformSummary } from '../transform/transformReport';
import { type Precision, PRECISION_LABELS } from './precisions';
import type { Candidate, Loss } from './shrinkSearch';
import type { Fidelity } from './shrinkTarget';

/** One measured loss of a layer: the worst output with only this layer at `choice`. */
export interface LayerLossRow {
  choice: string;
  sqnrDb: number;
  cosine: number;
}

/** One layer's choice and the measured losses behind it. */
export interface ShrinkLayerRow {
  name: string;
  op: string;
  params: number;
  /** A precision id (`int2`, `int4b128`, `int4`, `int8`, `fp16`, `float`): see `precisionLabels`. */
  choice: string;
  /** Worst output SQNR (dB) / cosine with only this layer at 4 (block 32) or 8 bits, when measured. */
  int4?: { sqnrDb: number; cosine: number };
  int8?: { sqnrDb: number; cosine: number };
  /** Every loss measured for this layer (the search measures lazily: not every precision). */
  losses?: LayerLossRow[];
  why: string;
  /**
   * With `--choices` or `--objective latency`: the layer's tensors (a weight, its low-rank factors, or an MLP
   * group's cut weights) with dims and bytes before and after, and their sums.
   */
  tensors?: {
    name: string;
    dimsBefore: number[];
    dimsAfter: number[];
    bytesBefore: number;
    bytesAfter: number;
  }[];
  bytesBefore?: number;
  bytesAfter?: number;
}

/** Whole-model median latency (ms) of the original and the written model: `runs` timed runs after a warm-up. */
export interface ShrinkLatency {
  originalMs: number;
  candidateMs: number;
  runs: number;
}

/** A uniform configuration of the same model, run the same way, for comparison. */
export interface Baseline {
  bytes: number;
  fidelity?: Fidelity;
  meetsTarget: boolean;
  error?: string;
}

/** The shrink report: the common report plus the target, the per-layer choices and the candidates tried. */
export interface ShrinkReport extends TransformReport<QuantizedTensorRow> {
  transform: 'shrink';
  summary: TransformSummary & {
    target: string;
    /** The chosen candidate's figure on the target's metric. */
    achieved?: number;
    /** Layers per precision id. */
    layers: Record<string, number>;
    uniform8Bytes: number;
    uniform4Bytes: number;
    /** (layer, precision) losses measured (or estimated) for the search. */
    measurements?: number;
    /**
     * How layer losses were found: `measured` (the model's outputs with that layer changed alone) or
     * `estimated` (the layer's own output noise from its inputs' energy per channel, `--losses`).
     */
    losses?: 'measured' | 'estimated';
    /** The step of the candidate written (the last that met the target). */
    chosenStep?: number;
    /** The uniform configuration the search fell back to and backed off from, when it did. */
    fallback?: string;
    /**
     * The target re-measured on the evaluation samples (held out from the calibration samples the search
     * measured on): the written model's figure and whether it meets the target there.
     */
    heldOut?: { value?: number; met: boolean; samples: number };
    /** What the search minimized among configurations meeting the target (`size` unless --objective). */
    objective?: 'size' | 'latency';
    /** The structural choices offered (`--choices`), e.g. `rank50,width25`. */
    choices?: string;
    /** Measured by the verification on the evaluation inputs. */
    latency?: ShrinkLatency;
  };
  layers: ShrinkLayerRow[];
  /** Every configuration tried, in order: the size/fidelity trade-off curve. */
  candidates: Candidate<string>[];
  /** Every layer at one precision: uniform4, uniform8, and one per other allowed precision (`int2`, …). */
  baselines: { uniform4: Baseline; uniform8: Baseline } & Record<string, Baseline>;
  /**
   * `--objective latency`: the median latency (ms) of the model with every layer that can take it at each
   * choice (`original`: unchanged), from which each layer's choices were ordered; then the configurations
   * that meet the target timed side by side (fastest first) and the one written.
   */
  latencySearch?: {
    choicesMs: Record<string, number>;
    finalists: { label: string; medianMs: number }[];
    picked: string;
  };
  /** Precision id → label ("4-bit (block 128)"), for every id the report uses. */
  precisionLabels: Record<string, string>;
}

/** `31.2 dB output SQNR (cosine 0.999512)`, or why there is no figure. */
export function lossText(l?: Loss): string {
  return l ? `${num(l.sqnrDb, 1)} dB output SQNR (cosine ${num(l.cosine, 6)})` : 'not measured';
}
const at = lossText;

/**
 * Why a layer ended at its precision, from its ladder, its measured losses and the step that raised it
 * last: at the bottom of its ladder it was cheap enough; higher up, what the rung below cost it.
 */
export function layerReason(
  choice: Precision,
  ladder: readonly Precision[],
  losses: ReadonlyMap<Precision, Loss | undefined>,
  raisedAt: number | undefined,
): string {
  const label = (p: Precision) => PRECISION_LABELS[p];
  const i = ladder.indexOf(choice);
  const below = ladder
    .slice(0, Math.max(0, i))
    .filter((p) => losses.has(p))
    .at(-1);
  if (raisedAt === undefined) {
    if (choice === 'float') return 'no smaller precision could be built or run for it: kept in float';
    const skipped = below ? `; ${label(below)} alone: ${at(losses.get(below))}` : '';
    return `alone at ${label(choice)} it costs ${at(losses.get(choice))}: cheap enough to stay at the smallest size it can take${skipped}`;
  }
  const here = choice === 'float' ? 'no loss' : at(losses.get(choice));
  return (
    `alone at ${below ? label(below) : 'a lower precision'} it costs ${at(below && losses.get(below))}; ` +
    `raised to ${label(choice)} at candidate ${raisedAt}, the step that bought the most fidelity per byte then (there: ${here})`
  );
}

const fid = (f?: Fidelity) =>
  f ? `${num(f.cosine, 6)} | ${num(f.sqnrDb, 2)} | ${f.top1 === undefined ? '' : num(f.top1, 3)}` : ' | | ';

/** The Markdown report, rendered from the same object as the JSON. */
export function renderShrinkMarkdown(r: ShrinkReport): string {
  const s = r.summary;
  const label = (id: string) => r.precisionLabels[id] ?? id;
  // With structural choices there are many ids: the tables keep those some candidate used.
  const ids = Object.keys(s.layers).filter(
    (id) => !s.choices || s.layers[id] > 0 || r.candidates.some((c) => (c.counts[id] ?? 0) > 0),
  );
  const lines: string[] = [];
  const mix = ids
    .filter((id) => s.layers[id] > 0)
    .map((id) => `${s.layers[id]} at ${label(id)}`)
    .join(', ');
  lines.push(`# Big Shrink: shrink report`, '');
  lines.push(
    `**${s.status.toUpperCase()}** — target \`${s.target}\` ${s.heldOut && !s.heldOut.met ? 'reached on the calibration samples only' : 'reached'} (${num(s.achieved, s.target.startsWith('sqnr') ? 2 : 6)}` +
      (s.heldOut
        ? `; held-out evaluation: ${num(s.heldOut.value, 6)} over ${s.heldOut.samples} samples, ${s.heldOut.met ? 'met' : 'NOT met'}`
        : '') +
      `): ` +
      `${kib(s.bytesBefore)} → ${kib(s.bytesAfter)} (${s.ratio.toFixed(3)}×); layers: ${mix}`,
    '',
    `Uniform 4-bit: ${r.baselines.uniform4.bytes} bytes${r.baselines.uniform4.meetsTarget ? ' (meets the target)' : ' (misses the target)'}; ` +
      `uniform 8-bit: ${r.baselines.uniform8.bytes} bytes${r.baselines.uniform8.meetsTarget ? ' (meets the target)' : ' (misses the target)'}.`,
    '',
  );
  if (s.objective || s.latency) {
    const l = s.latency;
    lines.push(
      `Objective: smallest ${s.objective === 'latency' ? 'latency' : 'size'}` +
        (s.choices ? ` (structural choices: ${s.choices})` : '') +
        (l
          ? `; median latency ${num(l.originalMs, 3)} → ${num(l.candidateMs, 3)} ms (${l.runs} runs after a warm-up, evaluation inputs)`
          : '') +
        '.',
      '',
    );
  }
  renderFilesAndOptions(r, lines);
  lines.push(
    '',
    '## Layers',
    '',
    s.losses === 'estimated'
      ? "Losses are estimated: each layer's own output noise under that precision, weighted by its inputs' " +
          'energy per channel on the calibration samples (no model run per layer; every candidate was run in ' +
          `full). ${s.measurements ?? '?'} estimates.`
      : 'Losses are measured: the worst model output with only that layer changed (`big-shrink sensitivity`); ' +
          `only the precisions the search needed are measured (${s.measurements ?? '?'} measurements).`,
    '',
    '| layer | op | params | choice | measured alone: SQNR dB | why |',
    '|---|---|---:|---|---|---|',
  );
  for (const l of r.layers) {
    const measured = (l.losses ?? []).map((x) => `${x.choice} ${num(x.sqnrDb, 1)}`).join(', ');
    lines.push(
      `| ${cell(l.name)} | ${l.op} | ${l.params} | ${label(l.choice)} | ${cell(measured)} | ${cell(l.why)} |`,
    );
  }
  const shaped = r.layers.filter((l) => l.tensors?.length);
  if (shaped.length) {
    lines.push(
      '',
      '## Layer shapes and bytes',
      '',
      '| layer | choice | tensor | dims before | dims after | bytes before | bytes after |',
    );
    lines.push('|---|---|---|---|---|---:|---:|');
    const dims = (d: number[]) => (d.length ? d.join('×') : '—');
    for (const l of shaped)
      for (const t of l.tensors!)
        lines.push(
          `| ${cell(l.name)} | ${label(l.choice)} | ${cell(t.name)} | ${dims(t.dimsBefore)} | ${dims(t.dimsAfter)} | ${t.bytesBefore} | ${t.bytesAfter} |`,
        );
  }
  lines.push(
    '',
    '## Candidates tried (size / fidelity trade-off)',
    '',
    `| # | raised | ${ids.join(' | ')} | bytes | min cosine | min SQNR dB | min top-1 | meets target |`,
    `|---:|---|${ids.map(() => '---:|').join('')}---:|---:|---:|---:|---|`,
  );
  for (const c of r.candidates) {
    const raised = c.fallback
      ? `(falls back to ${c.fallback})`
      : c.lowered
        ? `${cell(c.lowered.name)} ${c.lowered.from}→${c.lowered.to} (backing off)`
        : c.raised
          ? `${cell(c.raised.name)} ${c.raised.from}→${c.raised.to}`
          : '(start)';
    lines.push(
      `| ${c.step} | ${raised} | ${ids.map((id) => c.counts[id] ?? 0).join(' | ')} | ${c.bytes} | ${fid(c.fidelity)} | ${c.met ? 'yes' : c.error ? cell(c.error) : 'no'} |`,
    );
  }
  lines.push(
    '',
    '## Compared with uniform configurations',
    '',
    '| configuration | bytes | min cosine | min SQNR dB | min top-1 | meets target |',
    '|---|---:|---:|---:|---:|---|',
  );
  for (const [key, b] of Object.entries(r.baselines)) {
    const name =
      key === 'uniform4' ? 'uniform 4-bit' : key === 'uniform8' ? 'uniform 8-bit' : `uniform ${label(key)}`;
    lines.push(
      `| ${name} | ${b.bytes} | ${fid(b.fidelity)} | ${b.error ? cell(b.error) : b.meetsTarget ? 'yes' : 'no'} |`,
    );
  }
  const chosen = r.candidates[(s.chosenStep ?? r.candidates.length) - 1];
  lines.push(`| **shrink** (candidate ${chosen?.step}) | ${s.bytesAfter} | ${fid(chosen?.fidelity)} | yes |`);
  if (r.latencySearch) {
    const ls = r.latencySearch;
    lines.push('', '## Latency search', '', '| every layer that can take it at | median ms |', '|---|---:|');
    for (const [id, ms] of Object.entries(ls.choicesMs))
      lines.push(`| ${id === 'original' ? 'original' : label(id)} | ${num(ms, 3)} |`);
    lines.push(
      '',
      '| configuration meeting the target (timed side by side) | median ms | written |',
      '|---|---:|---|',
    );
    for (const f of ls.finalists)
      lines.push(`| ${f.label} | ${num(f.medianMs, 3)} | ${f.label === ls.picked ? 'yes' : ''} |`);
  }
  if (r.opsetChanges.length) {
    lines.push('', '## Opset and IR changes', '', ...r.opsetChanges.map((c) => `- ${cell(c)}`));
  }
  if (r.warnings.length) lines.push('', '## Warnings', '', ...r.warnings.map((w) => `- ${w}`));
  renderVerification(r.verification, 'shrunk', lines);
  if (r.skipped.length) {
    lines.push('', '## Left in float (not quantizable)', '', '| name | op | reason |', '|---|---|---|');
    for (const x of r.skipped) lines.push(`| ${cell(x.name)} | ${x.op} | ${cell(x.reason)} |`);
  }
  renderTimings(r, lines);
  return lines.join('\n');
}
