/**
 * The choices of "Prune…": the method (magnitude per layer or global, 2:4, 4:8, output channels, and the
 * data-aware Wanda 50%, SparseGPT 50% and SparseGPT 2:4), then, for the methods marked "…", the sparsity
 * and the storage. Defaults come from the `bigShrink.prune.*`
 * settings; the result maps one to one onto `big-shrink prune` options and its output name.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import type { PruneMethod, PruneSettings, PruneStorage } from './settings';
import { pick } from './shrinkPresets';

/** One method of the first quick pick. */
export interface PrunePreset {
  id:
    | 'magnitude-layer'
    | 'magnitude-global'
    | 'nm-2:4'
    | 'nm-4:8'
    | 'channel'
    | 'wanda-50'
    | 'sparsegpt-50'
    | 'sparsegpt-2:4';
  method: 'magnitude' | 'nm' | 'channel' | 'wanda' | 'sparsegpt';
  scope?: 'layer' | 'global';
  /** N:M (nm, and wanda/sparsegpt with --n/--m). */
  n?: number;
  m?: number;
  /** A sparsity the preset fixes (wanda/sparsegpt 50%). */
  sparsity?: number;
  /** The `bigShrink.prune.method` value this preset stands for (none for the data-aware presets). */
  setting?: PruneMethod;
}

/** Wanda and SparseGPT choose what to cut on calibration activations (`big-shrink prune --method wanda|sparsegpt`). */
const dataAware = (p: PrunePreset) => p.method === 'wanda' || p.method === 'sparsegpt';

/** The sparsity a preset runs at without asking: 1 − N/M, or the one it fixes. */
const fixedSparsity = (p: PrunePreset) => (p.n !== undefined ? 1 - p.n / p.m! : p.sparsity);

export const PRUNE_PRESETS: readonly PrunePreset[] = [
  { id: 'magnitude-layer', method: 'magnitude', scope: 'layer', setting: 'magnitude' },
  { id: 'magnitude-global', method: 'magnitude', scope: 'global', setting: 'magnitude' },
  { id: 'nm-2:4', method: 'nm', n: 2, m: 4, setting: '2:4' },
  { id: 'nm-4:8', method: 'nm', n: 4, m: 8, setting: '4:8' },
  { id: 'channel', method: 'channel', setting: 'channel' },
  { id: 'wanda-50', method: 'wanda', sparsity: 0.5 },
  { id: 'sparsegpt-50', method: 'sparsegpt', sparsity: 0.5 },
  { id: 'sparsegpt-2:4', method: 'sparsegpt', n: 2, m: 4 },
];

/** What "Prune…" can be told instead of asking (tests, keybindings). */
export interface PruneRequest {
  preset?: PrunePreset['id'];
  /** Fraction in (0, 1) for magnitude and channel presets. */
  sparsity?: number;
  storage?: PruneStorage;
  keepFirstLast?: boolean;
  /** Overwrite existing outputs without asking. */
  force?: boolean;
}

/** A complete choice: everything `big-shrink prune` needs. */
export interface PruneChoice {
  preset: PrunePreset;
  /** Magnitude and channel: the fraction asked for; N:M: 1 − N/M. */
  sparsity: number;
  storage: PruneStorage;
  keepFirstLast: boolean;
}

/** How each storage shows in descriptions, and what it adds to the output name (as the CLI names it). */
const STORAGE_LABEL: Record<PruneStorage, string> = {
  dense: '',
  sparse: 'sparse_initializer',
  int4: 'then 4-bit MatMulNBits',
};
const STORAGE_SUFFIX: Record<PruneStorage, string> = { dense: '', sparse: '.sparseinit', int4: '.int4' };

export const SPARSITIES = [0.25, 0.5, 0.75, 0.9] as const;

/** 0.5 → "50", 0.333 → "33.3" (the CLI's file-name label). */
export const percentLabel = (x: number): string => String(+(x * 100).toFixed(1));

/** For people: "magnitude 50%, per layer", "2:4 semi-structured", "25% of output channels". */
export function describeChoice(c: PruneChoice): string {
  const p = c.preset;
  const what = dataAware(p)
    ? `${p.method === 'wanda' ? 'Wanda' : 'SparseGPT'} ${p.n !== undefined ? `${p.n}:${p.m}` : `${percentLabel(c.sparsity)}%`} on calibration data`
    : p.method === 'nm'
      ? `${p.n}:${p.m} semi-structured`
      : p.method === 'channel'
        ? `${percentLabel(c.sparsity)}% of output channels`
        : `magnitude ${percentLabel(c.sparsity)}%, ${p.scope === 'global' ? 'global' : 'per layer'}`;
  return [what, STORAGE_LABEL[c.storage], c.keepFirstLast ? 'first/last dense' : '']
    .filter(Boolean)
    .join(', ');
}

/**
 * The output `big-shrink prune` would choose itself: MODEL.sparse50.onnx, MODEL.2of4.onnx,
 * MODEL.channels25.sparseinit.onnx, MODEL.sparse50.int4.onnx, MODEL.wanda50.onnx, MODEL.sparsegpt2of4.onnx.
 */
export function pruneOutput(input: string, c: PruneChoice): string {
  const p = c.preset;
  const suffix = dataAware(p)
    ? `${p.method}${p.n !== undefined ? `${p.n}of${p.m}` : percentLabel(c.sparsity)}`
    : p.method === 'nm'
      ? `${p.n}of${p.m}`
      : p.method === 'channel'
        ? `channels${percentLabel(c.sparsity)}`
        : `sparse${percentLabel(c.sparsity)}`;
  const stem = input.replace(/\.onnx$/i, '');
  return `${stem}.${suffix}${STORAGE_SUFFIX[c.storage]}.onnx`;
}

/** `prune MODEL --method … ` (without -o and --force). */
export function pruneArgs(input: string, c: PruneChoice): string[] {
  const p = c.preset;
  const args = ['prune', input, '--method', p.method];
  if (p.n !== undefined) args.push('--n', String(p.n), '--m', String(p.m));
  else args.push('--sparsity', String(c.sparsity));
  if (p.method === 'magnitude') args.push('--scope', p.scope ?? 'layer');
  if (c.storage !== 'dense') args.push('--storage', c.storage);
  if (c.keepFirstLast) args.push('--keep-first-last');
  return args;
}

/**
 * The magnitude preset of the settings' scope runs at once with the settings' sparsity; the other
 * scope and channels ask for the sparsity and the storage; N:M patterns run at once (50% sparsity, where a
 * sparse_initializer is never smaller than dense).
 */
export function asksMore(preset: PrunePreset, settings: PruneSettings): boolean {
  if (fixedSparsity(preset) !== undefined) return false;
  if (preset.method === 'channel') return true;
  return preset.scope !== settings.scope;
}

/** Whether a float32 weight at `sparsity` is smaller as a sparse tensor (4-byte values + 8-byte indices). */
const sparseSmaller = (sparsity: number) => (1 - sparsity) * 12 < 4;

interface PresetItem extends vscode.QuickPickItem {
  preset: PrunePreset;
}

function presetItem(preset: PrunePreset, settings: PruneSettings, isDefault: boolean): PresetItem {
  const pct = `${percentLabel(settings.sparsity)}%`;
  const more = asksMore(preset, settings);
  const storage = more ? '' : STORAGE_LABEL[settings.storage];
  const tail = (description: string) =>
    [description, storage, isDefault ? 'default' : ''].filter(Boolean).join(' · ');
  switch (preset.method) {
    case 'magnitude': {
      const scope = preset.scope === 'global' ? 'global' : 'per layer';
      return {
        preset,
        label: more ? `Magnitude, ${scope}…` : `Magnitude, ${pct} ${scope}`,
        description: tail(
          preset.scope === 'global'
            ? 'one threshold across all layers'
            : 'the smallest weights of each layer',
        ),
        detail:
          preset.scope === 'global'
            ? 'Ranks |w| across all MatMul, Gemm and Conv weights, so robust layers give more'
            : 'Zeroes the smallest |w| of each MatMul, Gemm and Conv weight; biases, norms and embeddings stay dense',
      };
    }
    case 'nm':
      return {
        preset,
        label: `${preset.n}:${preset.m} semi-structured`,
        description: tail(
          preset.n === 2 ? '50%, the pattern sparse tensor cores accelerate' : '50%, a looser pattern',
        ),
        detail: `Keeps the ${preset.n} largest of every ${preset.m} weights along the reduction axis`,
      };
    case 'channel':
      return {
        preset,
        label: 'Output channels…',
        description: tail('structured: whole channels'),
        detail: 'Zeroes the output channels with the smallest L2 norm; the report lists which',
      };
    case 'wanda':
    case 'sparsegpt': {
      const name = preset.method === 'wanda' ? 'Wanda' : 'SparseGPT';
      const amount =
        preset.n !== undefined ? `${preset.n}:${preset.m}` : `${percentLabel(preset.sparsity!)}%`;
      return {
        preset,
        label: `${name} ${amount}`,
        description: tail('data-aware: runs the model on calibration inputs first'),
        detail:
          preset.method === 'wanda'
            ? 'Zeroes the weights with the smallest |w|·‖x‖ (x: the activation they multiply) per output unit; Conv and other weights get magnitude'
            : 'Chooses the mask on the calibration activations and updates the kept weights to rebuild each MatMul/Gemm output; Conv and other weights get magnitude',
      };
    }
  }
}

/** The sparsity: one of 25/50/75/90% or a custom percentage. */
async function chooseSparsity(title: string, what: string, fallback: number): Promise<number | undefined> {
  const keeps: Record<number, string> = {
    0.25: 'keeps 3 in 4',
    0.5: 'keeps 1 in 2',
    0.75: 'keeps 1 in 4',
    0.9: 'keeps 1 in 10',
  };
  const values: number[] = [...SPARSITIES];
  if (!values.includes(fallback)) values.push(fallback);
  values.sort((a, b) => a - b);
  type Item = vscode.QuickPickItem & { value?: number };
  const items: Item[] = values.map((v) => ({
    label: `${percentLabel(v)}%`,
    description: [keeps[v] ?? '', v === fallback ? 'default' : ''].filter(Boolean).join(' · '),
    value: v,
  }));
  items.push({ label: 'Custom…', description: 'any percentage from 1 to 99' });
  const picked = await pick(items, {
    title,
    placeHolder: `Share of ${what} to zero`,
    active: items.find((i) => i.value === fallback),
  });
  if (!picked) return undefined;
  if (picked.value !== undefined) return picked.value;
  const typed = await vscode.window.showInputBox({
    title,
    prompt: `Share of ${what} to zero, in percent`,
    value: percentLabel(fallback),
    validateInput: (text) => {
      const v = Number(text.trim().replace(/%$/, ''));
      return Number.isFinite(v) && v > 0 && v < 100 ? undefined : 'A percentage above 0 and below 100';
    },
  });
  if (typed === undefined) return undefined;
  return Number(typed.trim().replace(/%$/, '')) / 100;
}

/** The storage: dense, sparse_initializer (with what it buys at this sparsity), or then 4-bit. */
async function chooseStorage(
  title: string,
  sparsity: number,
  fallback: PruneStorage,
): Promise<PruneStorage | undefined> {
  const pct = `${percentLabel(sparsity)}%`;
  type Item = vscode.QuickPickItem & { storage: PruneStorage };
  const items: Item[] = [
    {
      label: 'Dense',
      description: ['same file size, the zeros compress well', fallback === 'dense' ? 'default' : '']
        .filter(Boolean)
        .join(' · '),
      detail: 'Pruned weights stay dense tensors; the report says how much smaller the file compresses',
      storage: 'dense',
    },
    {
      label: 'sparse_initializer',
      description: [
        sparseSmaller(sparsity) ? `smaller file at ${pct}` : `no smaller at ${pct} (float32 needs > 67%)`,
        fallback === 'sparse' ? 'default' : '',
      ]
        .filter(Boolean)
        .join(' · '),
      detail:
        'Values + int64 indices where that is smaller; ONNX Runtime densifies them at load, so runtime memory does not shrink',
      storage: 'sparse',
    },
    {
      label: 'Then 4-bit (MatMulNBits)',
      description: ['about 1/7 of the MatMul/Gemm bytes', fallback === 'int4' ? 'default' : '']
        .filter(Boolean)
        .join(' · '),
      detail:
        'Quantizes the pruned MatMul/Gemm weights as "Quantize to 4-bit" does (pruned zeros stay 0); Conv weights stay pruned dense',
      storage: 'int4',
    },
  ];
  const picked = await pick(items, {
    title,
    placeHolder: 'How the output stores the pruned weights',
    active: items.find((i) => i.storage === fallback),
  });
  return picked?.storage;
}

/** The prune choice: given (a request), or from the quick picks (defaults from settings). */
export async function choosePrune(
  model: vscode.Uri,
  settings: PruneSettings,
  request: PruneRequest,
): Promise<PruneChoice | undefined> {
  const name = path.basename(model.fsPath);
  const keepFirstLast = request.keepFirstLast ?? settings.keepFirstLast;
  let preset = PRUNE_PRESETS.find((p) => p.id === request.preset);
  if (request.preset && !preset) {
    void vscode.window.showErrorMessage(`Big Shrink: there is no prune preset ${request.preset}.`);
    return undefined;
  }
  if (preset) {
    const sparsity = fixedSparsity(preset) ?? request.sparsity ?? settings.sparsity;
    if (!(sparsity > 0 && sparsity < 1)) {
      void vscode.window.showErrorMessage(`Big Shrink: sparsity ${sparsity} is not between 0 and 1.`);
      return undefined;
    }
    return { preset, sparsity, storage: request.storage ?? settings.storage, keepFirstLast };
  }

  // The magnitude preset of the settings' scope first, the other scope after it.
  const order = PRUNE_PRESETS.filter((p) => p.method === 'magnitude').sort(
    (a, b) => Number(b.scope === settings.scope) - Number(a.scope === settings.scope),
  );
  const presets = [...order, ...PRUNE_PRESETS.filter((p) => p.method !== 'magnitude')];
  const fallback =
    settings.method === 'magnitude'
      ? presets[0]
      : (presets.find((p) => p.setting === settings.method) ?? presets[0]);
  const items = presets.map((p) => presetItem(p, settings, p === fallback));
  const picked = await pick(items, {
    title: `Prune ${name}`,
    placeHolder: 'Pruning method',
    active: items.find((i) => i.preset === fallback),
  });
  if (!picked) return undefined;
  preset = picked.preset;
  const fixed = fixedSparsity(preset);
  if (fixed !== undefined) return { preset, sparsity: fixed, storage: settings.storage, keepFirstLast };
  if (!asksMore(preset, settings))
    return { preset, sparsity: settings.sparsity, storage: settings.storage, keepFirstLast };
  const label = picked.label.replace(/…$/, '');
  const sparsity = await chooseSparsity(
    `Prune ${name}: ${label}`,
    preset.method === 'channel' ? 'output channels' : 'weights',
    settings.sparsity,
  );
  if (sparsity === undefined) return undefined;
  const storage = await chooseStorage(
    `Prune ${name}: ${label}, ${percentLabel(sparsity)}%`,
    sparsity,
    settings.storage,
  );
  if (!storage) return undefined;
  return { preset, sparsity, storage, keepFirstLast };
}
