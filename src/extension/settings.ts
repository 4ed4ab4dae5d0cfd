import * as vscode from 'vscode';

/** The `bigShrink.*` settings the model editor reads (declared in package.json). */
export interface EditorSettings {
  /** Histogram bins per tensor. */
  histogramBins: number;
  /** Worker threads for statistics; 0 = every core, at most 4. */
  workerThreads: number;
}

export function readSettings(): EditorSettings {
  const config = vscode.workspace.getConfiguration('bigShrink');
  const bins = Math.round(config.get<number>('modelEditor.histogramBins', 64));
  const threads = Math.round(config.get<number>('workerThreads', 0));
  return {
    histogramBins: Math.min(1024, Math.max(8, Number.isFinite(bins) ? bins : 64)),
    workerThreads: Math.min(16, Math.max(0, Number.isFinite(threads) ? threads : 0)),
  };
}

/** The `bigShrink.quantize.*` defaults (declared in package.json). */
export interface QuantizeSettings {
  bits: 2 | 4 | 8;
  format: 'nbits' | 'qdq';
  blockSize: 16 | 32 | 64 | 128 | 256;
  symmetric: boolean;
  /** MatMulNBits `accuracy_level`: 0 unset, 4 = int8 activations. */
  accuracyLevel: 0 | 1 | 2 | 3 | 4;
  /** Regular expression of tensor names left in float ('' = none). */
  exclude: string;
  /** How MatMulNBits codes are chosen: round-to-nearest, clipping search or GPTQ (`--method`). */
  method: 'rtn' | 'search' | 'gptq';
}

export const BLOCK_SIZES = [16, 32, 64, 128, 256] as const;

/** The settings for `resource` (a model: its workspace folder's values win over the workspace's). */
export function readQuantizeSettings(resource?: vscode.Uri): QuantizeSettings {
  const config = vscode.workspace.getConfiguration('bigShrink.quantize', resource);
  const pick = <T>(value: unknown, allowed: readonly T[], fallback: T): T =>
    allowed.includes(value as T) ? (value as T) : fallback;
  return {
    bits: pick(config.get('bits'), [2, 4, 8] as const, 4),
    format: pick(config.get('format'), ['nbits', 'qdq'] as const, 'nbits'),
    blockSize: pick(config.get('blockSize'), BLOCK_SIZES, 32),
    symmetric: config.get<boolean>('symmetric', false) === true,
    accuracyLevel: pick(config.get('accuracyLevel'), [0, 1, 2, 3, 4] as const, 4),
    exclude: String(config.get<string>('exclude', '') ?? ''),
    method: pick(config.get('method'), ['rtn', 'search', 'gptq'] as const, 'rtn'),
  };
}

/** The methods "Prune…" offers: magnitude (the scope is its own setting), N:M patterns, output channels. */
export const PRUNE_METHODS = ['magnitude', '2:4', '4:8', 'channel'] as const;
export type PruneMethod = (typeof PRUNE_METHODS)[number];

/** How pruned weights are stored: dense, sparse_initializer, or quantized to 4-bit MatMulNBits after pruning. */
export const PRUNE_STORAGES = ['dense', 'sparse', 'int4'] as const;
export type PruneStorage = (typeof PRUNE_STORAGES)[number];

/** The `bigShrink.prune.*` defaults (declared in package.json). */
export interface PruneSettings {
  method: PruneMethod;
  /** Fraction of weights (magnitude) or output channels (channel) to zero, in (0, 1). */
  sparsity: number;
  scope: 'layer' | 'global';
  storage: PruneStorage;
  keepFirstLast: boolean;
}

export function readPruneSettings(): PruneSettings {
  const config = vscode.workspace.getConfiguration('bigShrink.prune');
  const pick = <T>(value: unknown, allowed: readonly T[], fallback: T): T =>
    allowed.includes(value as T) ? (value as T) : fallback;
  const sparsity = Number(config.get<number>('sparsity', 0.5));
  return {
    method: pick(config.get('method'), PRUNE_METHODS, 'magnitude'),
    sparsity: Number.isFinite(sparsity) && sparsity > 0 && sparsity < 1 ? sparsity : 0.5,
    scope: pick(config.get('scope'), ['layer', 'global'] as const, 'layer'),
    storage: pick(config.get('storage'), PRUNE_STORAGES, 'dense'),
    keepFirstLast: config.get<boolean>('keepFirstLast', false) === true,
  };
}

/** The `bigShrink.sensitivity.*` settings: what "Measure Sensitivity" and the editor's sweeps use. */
export interface SensitivitySettings {
  /** Bits of the measured quantization (`big-shrink sensitivity --bits`). */
  bits: 2 | 4 | 8;
  /** Block size along K of the measurement and of the data-free sweeps (`--block`). */
  blockSize: (typeof BLOCK_SIZES)[number];
  /** Sweep every weight in the background once the statistics are in (the table can sort by 4-bit SQNR). */
  sweepAll: boolean;
}

/** `value` when it is one of `allowed`, else `fallback` (a hand-edited settings.json may hold anything). */
function oneOf<T>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

export function readSensitivitySettings(): SensitivitySettings {
  const config = vscode.workspace.getConfiguration('bigShrink.sensitivity');
  return {
    bits: oneOf(config.get('bits'), [2, 4, 8] as const, 4),
    blockSize: oneOf(config.get('blockSize'), BLOCK_SIZES, 32),
    sweepAll: config.get<boolean>('sweepAll', true) !== false,
  };
}

/** What "Shrink to Target…" proposes first when the setting holds no valid target. */
export const DEFAULT_SHRINK_TARGET = 'cosine>=0.999';

/** The `bigShrink.shrink.*` defaults (declared in package.json). */
export interface ShrinkSettings {
  /** The fidelity target offered first, as `big-shrink shrink --target` takes it (checked by the caller). */
  target: string;
  /** What the search minimizes (`--objective`). */
  objective?: 'size' | 'latency';
  /** Structural choices beside the precisions (`--choices`, e.g. `rank50,width25`); empty: none. */
  choices?: string;
}

export function readShrinkSettings(): ShrinkSettings {
  const config = vscode.workspace.getConfiguration('bigShrink.shrink');
  const target = String(config.get<string>('target', DEFAULT_SHRINK_TARGET) ?? '').trim();
  const objective = config.get<string>('objective', 'size') === 'latency' ? 'latency' : 'size';
  const choices = String(config.get<string>('choices', '') ?? '').replace(/\s+/g, '');
  return { target: target || DEFAULT_SHRINK_TARGET, objective, choices };
}
