import type { DataSection } from '../data/dataSection';
import type { ModelIndex } from '../onnx/modelIndex';
import { HEADS_LEFT_WHOLE, type HeadGroup } from './findHeads';
import type { UnitGroup } from './findUnitGroups';
import { axisNorms, type ReadWeight } from './planCompact';

/** Per-channel figures of one activation, as measured (runtime/unitStatistics' UnitStats). */
export interface ChannelStats {
  name: string;
  units: number;
  samples: number;
  meanAbs: Float64Array;
  fireRate: Float64Array;
  nonZero: Float64Array;
  meanSquare: Float64Array;
}

/** A layer that reads an activation through a weight, and where its input channels are. */
export interface InputLayer {
  name: string;
  op: string;
  input: string;
  channels: number;
  axis: 'last' | 1;
}

/** One MatMul/Gemm/Conv: its input channels' mean |x| and share of samples where they are non-zero. */
export interface InputChannelsRow {
  name: string;
  op: string;
  input: string;
  channels: number;
  samples: number;
  meanAbs: number[];
  nonZero: number[];
  /** Input channels that were zero on every sample. */
  alwaysZero: number;
}

/** One MLP/Conv unit group: how often each hidden unit fires, its importance, where the energy is. */
export interface HiddenUnitsRow {
  name: string;
  kind: 'mlp' | 'conv';
  units: number;
  samples: number;
  /** Share of samples where each unit is > 0 after the activation. */
  fireRate: number[];
  /** Mean |activation| × norm of the weights reading it, per unit. */
  importance: number[];
  /** Units that never fired, ascending. */
  neverFire: number[];
  /** Fewest units (largest contributions first) that carry 90% / 99% of the output energy, as shares. */
  share90: number;
  share99: number;
}

/** What `big-shrink activations --json` prints. */
export interface ActivationsReport {
  model: string;
  /** What the figures were measured on, in words. */
  calibration: string;
  /** The data section, as in every report: the user's files (calibration samples measured) or synthetic. */
  data?: DataSection;
  inputs: InputChannelsRow[];
  units: HiddenUnitsRow[];
  /** Attention heads, where the graph shows them (absent in reports of older versions). */
  heads?: HeadsRow[];
  missing: { name: string; reason: string }[];
}

/** One attention block's heads, as its output projection reads them. */
export interface HeadsRow {
  /** The output projection. */
  name: string;
  op: string;
  heads: number;
  headDim: number;
  samples: number;
  /** Per head: Σ over its channels of mean |x| × the norm of the projection's weights reading it. */
  importance: number[];
  /** Fewest heads (largest first) that carry 90% / 99% of the projection's output energy, as shares. */
  share90: number;
  share99: number;
  /** Why compact leaves them whole. */
  leftWhole: string;
}

/** The input-channel rows of the measured layers. */
export function inputChannelRows(
  layers: readonly InputLayer[],
  stats: ReadonlyMap<string, ChannelStats>,
): InputChannelsRow[] {
  const rows: InputChannelsRow[] = [];
  for (const l of layers) {
    const s = stats.get(l.input);
    if (!s || s.units !== l.channels) continue;
    const nonZero = Array.from(s.nonZero);
    rows.push({
      name: l.name,
      op: l.op,
      input: l.input,
      channels: l.channels,
      samples: s.samples,
      meanAbs: Array.from(s.meanAbs),
      nonZero,
      alwaysZero: nonZero.filter((v) => v === 0).length,
    });
  }
  return rows;
}

/**
 * The hidden-unit rows of the unit groups. A unit's output energy is its mean square times the squared norm
 * of the weights that read it (what it adds to the reading layer's output, cross terms aside).
 */
export function hiddenUnitRows(
  index: ModelIndex,
  groups: readonly UnitGroup[],
  stats: ReadonlyMap<string, ChannelStats>,
  read: ReadWeight,
): HiddenUnitsRow[] {
  const rows: HiddenUnitsRow[] = [];
  for (const g of groups) {
    const s = stats.get(g.hidden);
    if (!s || s.units !== g.units) continue;
    const w = index.tensors[g.down.weight];
    const norms = axisNorms(read(w), w.dims, g.down.unitAxis);
    const energy = Array.from(s.meanSquare, (m, u) => m * norms[u] * norms[u]);
    const fireRate = Array.from(s.fireRate);
    rows.push({
      name: g.name,
      kind: g.kind,
      units: g.units,
      samples: s.samples,
      fireRate,
      importance: Array.from(s.meanAbs, (m, u) => m * norms[u]),
      neverFire: fireRate.flatMap((f, u) => (f === 0 ? [u] : [])),
      share90: energyShare(energy, 0.9),
      share99: energyShare(energy, 0.99),
    });
  }
  return rows;
}

/**
 * The heads rows: per head the importance and energy of its channels of the output projection's input
 * (energy: mean square × squared weight norm, as for hidden units).
 */
export function headRows(
  index: ModelIndex,
  groups: readonly HeadGroup[],
  stats: ReadonlyMap<string, ChannelStats>,
  read: ReadWeight,
): HeadsRow[] {
  const rows: HeadsRow[] = [];
  for (const g of groups) {
    const s = stats.get(g.input);
    if (!s || s.units !== g.heads * g.headDim) continue;
    const w = index.tensors[g.weight];
    const norms = axisNorms(read(w), w.dims, g.channelAxis);
    const importance = new Array<number>(g.heads).fill(0);
    const energy = new Array<number>(g.heads).fill(0);
    for (let c = 0; c < s.units; c++) {
      const h = Math.floor(c / g.headDim);
      importance[h] += s.meanAbs[c] * norms[c];
      energy[h] += s.meanSquare[c] * norms[c] * norms[c];
    }
    rows.push({
      name: g.name,
      op: g.op,
      heads: g.heads,
      headDim: g.headDim,
      samples: s.samples,
      importance,
      share90: energyShare(energy, 0.9),
      share99: energyShare(energy, 0.99),
      leftWhole: HEADS_LEFT_WHOLE,
    });
  }
  return rows;
}

/** The fewest units, largest first, whose energy reaches `fraction` of the total, as a share of all units. */
export function energyShare(energy: readonly number[], fraction: number): number {
  const total = energy.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return 0;
  const sorted = [...energy].sort((a, b) => b - a);
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) {
    sum += sorted[i];
    if (sum >= fraction * total * (1 - 1e-12)) return (i + 1) / energy.length;
  }
  return 1;
}
