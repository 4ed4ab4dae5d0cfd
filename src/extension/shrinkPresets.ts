/**
 * The choices of "Quantize…": the weight formats (presets) and the block size, each a quick pick whose
 * default item comes from the `bigShrink.quantize.*` settings.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { BLOCK_SIZES, type QuantizeSettings } from './settings';

/** One choice of "Quantize…". */
export interface ShrinkPreset {
  id: 'nbits4' | 'nbits4search' | 'nbits4gptq' | 'nbits8' | 'nbits2' | 'qdq4' | 'qdq8' | 'fp16';
  label: string;
  description: string;
  detail: string;
  command: 'quantize' | 'convert';
  bits?: 2 | 4 | 8;
  format?: 'nbits' | 'qdq';
  /** Whether a block size applies (blockwise layouts). */
  blocked: boolean;
  /** How MatMulNBits codes are chosen (`--method`); unset: the `bigShrink.quantize.method` setting. */
  method?: QuantizeSettings['method'];
}

export const PRESETS: readonly ShrinkPreset[] = [
  {
    id: 'nbits4',
    label: '4-bit MatMulNBits',
    description: 'fastest in ONNX Runtime',
    detail: 'MatMul and Gemm weights to com.microsoft::MatMulNBits, about 1/6 of their float32 size',
    command: 'quantize',
    bits: 4,
    format: 'nbits',
    blocked: true,
  },
  {
    id: 'nbits4gptq',
    label: '4-bit MatMulNBits, GPTQ',
    description: 'data-aware: most accurate 4-bit',
    detail:
      "GPTQ: codes chosen on calibration activations (--inputs folder or synthesized) to keep each layer's output; slower",
    command: 'quantize',
    bits: 4,
    format: 'nbits',
    blocked: true,
    method: 'gptq',
  },
  {
    id: 'nbits4search',
    label: '4-bit MatMulNBits, clipping search',
    description: 'data-aware: per-block scales',
    detail:
      "Each block's scale and zero point chosen to minimise the layer output error on calibration activations",
    command: 'quantize',
    bits: 4,
    format: 'nbits',
    blocked: true,
    method: 'search',
  },
  {
    id: 'nbits8',
    label: '8-bit MatMulNBits',
    description: 'closest to the original',
    detail: 'MatMul and Gemm weights to 8-bit MatMulNBits with int8 activations (accuracy level 4)',
    command: 'quantize',
    bits: 8,
    format: 'nbits',
    blocked: true,
  },
  {
    id: 'nbits2',
    label: '2-bit MatMulNBits',
    description: '$(warning) quality often drops sharply',
    detail: 'Smallest weights, but most models lose accuracy at 2 bits: check the fidelity in the report',
    command: 'quantize',
    bits: 2,
    format: 'nbits',
    blocked: true,
  },
  {
    id: 'qdq4',
    label: 'Portable 4-bit (QDQ)',
    description: 'any runtime with opset 21',
    detail:
      'Standard DequantizeLinear with blocked int4 weights for MatMul, Gemm and Conv (raises the opset to 21)',
    command: 'quantize',
    bits: 4,
    format: 'qdq',
    blocked: true,
  },
  {
    id: 'qdq8',
    label: 'Portable 8-bit (QDQ)',
    description: 'any runtime with opset 13',
    detail: 'Standard DequantizeLinear with int8 weights per output channel for MatMul, Gemm and Conv',
    command: 'quantize',
    bits: 8,
    format: 'qdq',
    blocked: false,
  },
  {
    id: 'fp16',
    label: 'fp16 weights',
    description: 'half the size, inputs and outputs unchanged',
    detail: 'Float weights stored as float16, each followed by a Cast that ONNX Runtime folds at load',
    command: 'convert',
    blocked: false,
  },
];

/** What "Quantize…" can be told instead of asking (tests, keybindings): `{ preset, blockSize }`. */
export interface ShrinkRequest {
  preset?: ShrinkPreset['id'];
  blockSize?: number;
  /** How MatMulNBits codes are chosen, instead of the preset's or the setting's (a next step after a FAIL). */
  method?: QuantizeSettings['method'];
  /** The --exclude pattern, instead of the `bigShrink.quantize.exclude` setting. */
  exclude?: string;
  /** Overwrite existing outputs without asking. */
  force?: boolean;
  /** Quantize only the weights whose name matches (`--only`; the graph view's "Quantize only this layer…"). */
  only?: string;
}

/** The preset and block size: given, or from the quick pick (defaults from settings). */
export async function choosePreset(
  model: vscode.Uri,
  settings: QuantizeSettings,
  request: ShrinkRequest,
  presets: readonly ShrinkPreset[],
): Promise<{ preset: ShrinkPreset; blockSize: number } | undefined> {
  let preset = presets.find((p) => p.id === request.preset);
  if (request.preset && !preset) {
    void vscode.window.showErrorMessage(`Big Shrink: this version cannot make ${request.preset} models.`);
    return undefined;
  }
  if (!preset) {
    const fits = (p: ShrinkPreset) => p.bits === settings.bits && p.format === settings.format;
    const fallback =
      presets.find((p) => fits(p) && p.method === settings.method) ?? presets.find(fits) ?? presets[0];
    const items = presets.map((p) => ({
      label: p.label,
      description: p === fallback ? `${p.description} · default` : p.description,
      detail: p.detail,
      preset: p,
    }));
    const picked = await pick(items, {
      title: `Quantize ${path.basename(model.fsPath)}`,
      placeHolder: 'Weight format',
      active: items.find((i) => i.preset === fallback),
    });
    if (!picked) return undefined;
    preset = picked.preset;
    if (preset.blocked && request.blockSize === undefined) {
      const sizes = BLOCK_SIZES.map((b) => ({
        label: String(b),
        description: [
          b === settings.blockSize ? 'default' : '',
          b === 16 ? 'most accurate, largest scales' : b === 256 ? 'smallest, least accurate' : '',
        ]
          .filter(Boolean)
          .join(' · '),
        size: b as number,
      }));
      const size = await pick(sizes, {
        title: `Quantize ${path.basename(model.fsPath)}: ${preset.label}`,
        placeHolder: 'Block size (values along K that share one scale)',
        active: sizes.find((s) => s.size === settings.blockSize),
      });
      if (!size) return undefined;
      return { preset, blockSize: size.size };
    }
  }
  const blockSize = request.blockSize ?? settings.blockSize;
  if (!(BLOCK_SIZES as readonly number[]).includes(blockSize)) {
    void vscode.window.showErrorMessage(
      `Big Shrink: block size ${blockSize} is not one of ${BLOCK_SIZES.join(', ')}.`,
    );
    return undefined;
  }
  return { preset, blockSize };
}

/** One step of a quick-pick flow: resolves with the accepted item, or undefined when dismissed. */
export async function pick<T extends vscode.QuickPickItem>(
  items: T[],
  options: { title: string; placeHolder: string; active?: T },
): Promise<T | undefined> {
  const qp = vscode.window.createQuickPick<T>();
  qp.title = options.title;
  qp.placeholder = options.placeHolder;
  qp.items = items;
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  if (options.active) qp.activeItems = [options.active];
  return new Promise<T | undefined>((resolve) => {
    qp.onDidAccept(() => {
      resolve(qp.selectedItems[0] ?? qp.activeItems[0]);
      qp.hide();
    });
    qp.onDidHide(() => {
      resolve(undefined);
      qp.dispose();
    });
    qp.show();
  });
}
