/**
 * The model editor's "Functional core" view of an activations report: per hidden-unit layer how many
 * units fire, where the output energy is, and the sorted importance curve cut to a few hundred points, so
 * the webview gets summaries and never per-unit arrays.
 */
import type { ActivationsReport } from './activationSummary';

/** Most points of an importance curve the webview receives. */
export const CURVE_POINTS = 256;

/** One MLP/Conv layer's hidden units as the editor shows them. */
export interface CoreLayerView {
  name: string;
  kind: 'mlp' | 'conv';
  units: number;
  /** Samples (rows, or positions for Conv) measured. */
  samples: number;
  /** Units that fired (> 0) on at least one sample, and those that never did. */
  firing: number;
  neverFire: number;
  /** "412 of 2048 hidden units never fire on 64 samples". */
  fireText: string;
  /** Fewest units (largest first) carrying 90% / 99% of the output energy, as shares of the units. */
  share90: number;
  share99: number;
  /**
   * Importance sorted largest first at up to CURVE_POINTS ranks: `rank` is the share of units up to that
   * one (0 < rank ≤ 1), `importance` relative to the largest (1 at the top; 0 when none carries any).
   */
  curve: { rank: number[]; importance: number[] };
  /** The largest importance (mean |activation| × norm of the weights reading it). */
  maxImportance: number;
}

/** One attention block's heads as the editor shows them. */
export interface CoreHeadsView {
  /** The output projection reading the heads. */
  name: string;
  heads: number;
  headDim: number;
  /** Per head (at most CURVE_POINTS heads, evenly picked), relative to the largest. */
  importance: number[];
  /** Fewest heads carrying 90% / 99% of the output energy, as shares of the heads. */
  share90: number;
  share99: number;
}

/** What the Functional core tab shows of one `activations --json` answer. */
export interface FunctionalCoreView {
  model: string;
  /** Where the samples came from: the user's data, synthesized inputs, or an inputs folder. */
  source: 'files' | 'synthetic' | 'inputs';
  /** The report's own words ("8 calibration samples of /data/x: x float32[1,8] npy"). */
  calibration: string;
  layers: CoreLayerView[];
  /** Attention heads, where the graph shows them. */
  heads: CoreHeadsView[];
  /** Why compact leaves attention heads whole (when there are some). */
  headsLeftWhole?: string;
  /** Over every layer: hidden units, and those that never fired. */
  units: number;
  neverFire: number;
  /** MatMul/Gemm/Conv layers whose input channels were measured, and channels that were always zero. */
  inputLayers: number;
  alwaysZeroInputs: number;
  /** Activations that could not be measured: "name (reason)". */
  missing: string[];
}

/** The view of `report`: per layer the counts, the shares and the curve at most `points` long. */
export function functionalCoreView(report: ActivationsReport, points = CURVE_POINTS): FunctionalCoreView {
  const layers = report.units.map((u): CoreLayerView => {
    const never = u.neverFire.length;
    const what = u.kind === 'conv' ? 'channels' : 'hidden units';
    const sorted = [...u.importance].sort((a, b) => b - a);
    const top = sorted[0] ?? 0;
    const picked = curveIndices(sorted.length, points);
    return {
      name: u.name,
      kind: u.kind,
      units: u.units,
      samples: u.samples,
      firing: u.units - never,
      neverFire: never,
      fireText: `${never} of ${u.units} ${what} never fire on ${u.samples} samples`,
      share90: u.share90,
      share99: u.share99,
      curve: {
        rank: picked.map((i) => (i + 1) / sorted.length),
        importance: picked.map((i) => (top > 0 ? sorted[i] / top : 0)),
      },
      maxImportance: top,
    };
  });
  const heads = (report.heads ?? []).map((h): CoreHeadsView => {
    const top = Math.max(0, ...h.importance);
    return {
      name: h.name,
      heads: h.heads,
      headDim: h.headDim,
      importance: curveIndices(h.importance.length, points).map((i) => (top > 0 ? h.importance[i] / top : 0)),
      share90: h.share90,
      share99: h.share99,
    };
  });
  return {
    model: report.model,
    source: report.data?.source ?? 'inputs',
    calibration: report.calibration,
    layers,
    heads,
    ...(report.heads?.length ? { headsLeftWhole: report.heads[0].leftWhole } : {}),
    units: layers.reduce((s, l) => s + l.units, 0),
    neverFire: layers.reduce((s, l) => s + l.neverFire, 0),
    inputLayers: report.inputs.length,
    alwaysZeroInputs: report.inputs.reduce((s, l) => s + l.alwaysZero, 0),
    missing: report.missing.map((m) => `${m.name} (${m.reason})`),
  };
}

/**
 * Up to `points` indices of 0 … n−1, evenly spaced, always with the first and the last: a sorted curve
 * sampled so keeps its shape (it is monotone between the samples).
 */
export function curveIndices(n: number, points: number): number[] {
  if (n <= points) return Array.from({ length: n }, (_, i) => i);
  if (points < 2) return [0];
  const out: number[] = [];
  for (let k = 0; k < points; k++) {
    const i = Math.round((k * (n - 1)) / (points - 1));
    if (out[out.length - 1] !== i) out.push(i);
  }
  return out;
}
