/**
 * The choices of "Shrink to Target…": the fidelity target (a quick pick of common targets, the
 * `bigShrink.shrink.target` setting first, or "Custom…" checked by the CLI's own parser) and an optional
 * size limit; the objective and structural choices from the request or the `bigShrink.shrink.objective` and
 * `.choices` settings. The result maps one to one onto `big-shrink shrink --target … [--max-bytes N]
 * [--objective latency] [--choices …]`.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { formatBytes } from '../core/format/formatBytes';
import { parseBytes } from '../core/format/parseBytes';
import { parseStructures } from '../core/shrink/shrinkChoices';
import { parseTarget, type ShrinkTarget } from '../core/shrink/shrinkTarget';
import { DEFAULT_SHRINK_TARGET, type ShrinkSettings } from './settings';
import { pick } from './shrinkPresets';

/** What "Shrink to Target…" can be told instead of asking (tests, keybindings). */
export interface ShrinkTargetRequest {
  /** `cosine>=0.999`, `sqnr>=30`, `top1>=0.99`. */
  target?: string;
  /** Fail instead of growing the model beyond this many bytes (only with `target`; else asked). */
  maxBytes?: number;
  /** Overwrite existing outputs without asking. */
  force?: boolean;
  /** `--objective` instead of the `bigShrink.shrink.objective` setting. */
  objective?: 'size' | 'latency';
  /** `--choices` instead of the `bigShrink.shrink.choices` setting (`''`: precisions only). */
  choices?: string;
}

/** A complete choice: everything `big-shrink shrink` needs. */
export interface TargetChoice {
  target: ShrinkTarget;
  maxBytes?: number;
  /** `--objective latency` (size is the CLI's default and is not passed). */
  objective?: 'size' | 'latency';
  /** `--choices`, when any. */
  choices?: string;
}

/** One target of the quick pick. */
interface TargetPreset {
  text: string;
  description: string;
  detail: string;
  /** Only for models with [batch, classes] outputs. */
  classScores?: boolean;
}

export const TARGET_PRESETS: readonly TargetPreset[] = [
  {
    text: 'cosine>=0.999',
    description: 'outputs nearly identical',
    detail: 'Every output keeps cosine similarity ≥ 0.999 with the original: safe for most uses',
  },
  {
    text: 'cosine>=0.99',
    description: 'close outputs, smaller model',
    detail: 'Cosine similarity ≥ 0.99: more layers stay at 4-bit; check the outputs you care about',
  },
  {
    text: 'sqnr>=30',
    description: 'signal 1000× the error',
    detail: 'Every output keeps a signal-to-quantization-noise ratio of at least 30 dB',
  },
  {
    text: 'top1>=0.99',
    description: 'classifiers: same top class',
    detail: 'The top-1 class agrees with the original on ≥ 99% of the rows of every [batch, classes] output',
    classScores: true,
  },
];

/** The same target in normal form (`cosine >= .999` -> `cosine>=0.999`); undefined when it is not one. */
const normal = (text: string) => {
  const t = parseTarget(text);
  return typeof t === 'string' ? undefined : t.text;
};

/** Ask for a target of one's own, checked as the CLI checks it. */
async function customTarget(title: string, value: string): Promise<ShrinkTarget | undefined> {
  const typed = await vscode.window.showInputBox({
    title,
    prompt: 'Fidelity the worst output must keep: cosine>=X, sqnr>=DB or top1>=X',
    value,
    validateInput: (text) => {
      const t = parseTarget(text);
      return typeof t === 'string' ? t.replace(/^--target/, 'The target') : undefined;
    },
  });
  if (typed === undefined) return undefined;
  const t = parseTarget(typed);
  return typeof t === 'string' ? undefined : t;
}

/** The size limit: none (the default), or one typed in bytes, KB, MB, KiB, MiB… */
async function chooseLimit(
  title: string,
  modelBytes: number | undefined,
): Promise<number | null | undefined> {
  type Item = vscode.QuickPickItem & { custom: boolean };
  const items: Item[] = [
    {
      label: 'No size limit',
      description: 'default',
      detail: 'The smallest configuration that meets the target, whatever its size',
      custom: false,
    },
    {
      label: 'At most…',
      description: modelBytes === undefined ? '' : `the model is ${formatBytes(modelBytes)} now`,
      detail: 'Fail instead of growing the model beyond a size (--max-bytes)',
      custom: true,
    },
  ];
  const picked = await pick(items, { title, placeHolder: 'Size limit', active: items[0] });
  if (!picked) return undefined;
  if (!picked.custom) return null;
  const typed = await vscode.window.showInputBox({
    title,
    prompt: 'Largest acceptable model: bytes, or a size like 600 KB or 1.5 MiB',
    placeHolder: modelBytes === undefined ? '600 KB' : `less than ${formatBytes(modelBytes)}, e.g. 600 KB`,
    validateInput: (text) => {
      const n = parseBytes(text);
      return typeof n === 'string' ? n : undefined;
    },
  });
  if (typed === undefined) return undefined;
  const n = parseBytes(typed);
  return typeof n === 'string' ? undefined : n;
}

/**
 * The target and size limit: given (a request; a bad target is refused with the parser's reason), or
 * from the quick picks. `classScores` says whether the model has [batch, classes] outputs (undefined:
 * not known until it runs), which decides whether top-1 is offered.
 */
export async function chooseTarget(
  model: vscode.Uri,
  settings: ShrinkSettings,
  request: ShrinkTargetRequest,
  classScores: boolean | undefined,
): Promise<TargetChoice | { refused: string } | undefined> {
  const name = path.basename(model.fsPath);
  // The objective and the structural choices come from the request or the settings: no extra step.
  const objective = request.objective ?? settings.objective;
  if (objective !== undefined && objective !== 'size' && objective !== 'latency')
    return { refused: `--objective takes size or latency, not ${String(objective)}` };
  const choices = request.choices ?? settings.choices ?? '';
  if (choices) {
    const parsed = parseStructures(choices);
    if (typeof parsed === 'string') return { refused: parsed };
  }
  const how = { ...(objective === 'latency' ? { objective } : {}), ...(choices ? { choices } : {}) };
  if (request.target !== undefined) {
    const target = parseTarget(request.target);
    if (typeof target === 'string') return { refused: target };
    const max = request.maxBytes;
    if (max !== undefined && !(Number.isSafeInteger(max) && max > 0))
      return { refused: `--max-bytes takes a whole number of bytes above 0, not ${max}` };
    return { target, maxBytes: max, ...how };
  }

  const title = `Shrink ${name} to a target`;
  const fallback = normal(settings.target) ?? DEFAULT_SHRINK_TARGET;
  const offered = TARGET_PRESETS.filter((p) => !p.classScores || classScores !== false);
  type Item = vscode.QuickPickItem & { text?: string };
  const items: Item[] = offered.map((p) => ({
    label: p.text,
    description: [
      p.description,
      p.classScores && classScores === undefined ? 'needs [batch, classes] outputs' : '',
      p.text === fallback ? 'default' : '',
    ]
      .filter(Boolean)
      .join(' · '),
    detail: p.detail,
    text: p.text,
  }));
  // A target of the settings that is not a preset comes first, as the default.
  if (!offered.some((p) => p.text === fallback))
    items.unshift({ label: fallback, description: 'from the settings · default', text: fallback });
  items.push({ label: 'Custom…', description: 'cosine>=X, sqnr>=DB or top1>=X' });
  const picked = await pick(items, {
    title,
    placeHolder: 'Fidelity target: the worst output must keep at least this',
    active: items.find((i) => i.text === fallback),
  });
  if (!picked) return undefined;
  const target = picked.text ? parseTarget(picked.text) : await customTarget(title, fallback);
  if (!target || typeof target === 'string') return undefined;
  let modelBytes: number | undefined;
  try {
    modelBytes = fs.statSync(model.fsPath).size;
  } catch {
    modelBytes = undefined;
  }
  const limit = await chooseLimit(`${title}: ${target.text}`, modelBytes);
  if (limit === undefined) return undefined;
  return { target, maxBytes: limit ?? undefined, ...how };
}
