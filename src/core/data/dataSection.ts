import type { RecipeFile } from './inputRecipe';

/** One input as the model receives it: shape, type and range of the first sample, where it came from. */
export interface DataInputSummary {
  name: string;
  dtype: string;
  dims: number[];
  /** npy, image, audio, text, bytes, constant, synthetic, or a companion of text (mask, positions, past). */
  source: string;
  min?: number;
  max?: number;
  /** How the values were made, in a few words. */
  note?: string;
}

/** The `data` section of every report and of `verify --json`: what the figures were measured on. */
export interface DataSection {
  source: 'files' | 'synthetic';
  /** The data files and folders given (absolute). */
  paths: string[];
  /** Samples in the calibration set (data-aware methods, sensitivity, the shrink search). */
  calibration: number;
  /** Samples in the evaluation set (the final verdict). */
  evaluation: number;
  /** The recipe used (the file beside the model, with the command line's overrides). */
  recipe?: RecipeFile;
  /** The recipe file read, when there is one. */
  recipeFile?: string;
  /** One summary per model input (the first sample). */
  inputs?: DataInputSummary[];
  /** Files that could not be used, and why. */
  skipped?: { path: string; reason: string }[];
  /** Samples with a class label (classification data). */
  labelled?: number;
}

/** What the editor's Data card shows besides the counts (made by `big-shrink data --preview`). */
export interface DataPreview {
  kind: string;
  /** Small PNG thumbnails as data URLs (downscaled in the CLI child, never whole images). */
  thumbnails?: { path: string; dataUrl: string }[];
  /** The first tokens of the first window, decoded one by one. */
  tokens?: string[];
  /** (min, max) pairs over the first audio file. */
  waveform?: [number, number][];
  /** The first bytes of the first file. */
  bytes?: number[];
}

/** The Markdown paragraph every report carries about its data; says plainly when inputs were synthetic. */
export function renderDataMarkdown(data: DataSection | undefined): string {
  if (!data) return '';
  const lines = ['## Data', ''];
  if (data.source === 'synthetic') {
    lines.push(
      '**The verdict rests on synthetic inputs**: no data was given (`--data`, or a `.inputs.json` recipe ' +
        "beside the model), so the inputs were synthesized from the model's declared types and shapes. " +
        'Real inputs may behave differently.',
      '',
    );
  } else {
    lines.push(
      `Measured on the model's real inputs from ${data.paths.map((p) => `\`${p}\``).join(', ')}.`,
      '',
    );
  }
  lines.push(
    `- calibration samples: ${data.calibration} (data-aware choices, sensitivity, the shrink search)`,
    `- evaluation samples: ${data.evaluation} (the final verdict)`,
  );
  if (data.labelled) lines.push(`- labelled samples: ${data.labelled}`);
  if (data.recipeFile) lines.push(`- recipe: \`${data.recipeFile}\``);
  for (const i of data.inputs ?? [])
    lines.push(
      `- input \`${i.name}\`: ${i.dtype}[${i.dims.join(', ')}] from ${i.source}` +
        (i.min !== undefined ? `, range [${fmt(i.min)}, ${fmt(i.max ?? i.min)}]` : '') +
        (i.note ? ` (${i.note})` : ''),
    );
  if (data.skipped?.length) {
    lines.push('', `Skipped ${data.skipped.length} file${data.skipped.length === 1 ? '' : 's'}:`, '');
    for (const s of data.skipped.slice(0, 20)) lines.push(`- \`${s.path}\`: ${s.reason}`);
    if (data.skipped.length > 20) lines.push(`- … and ${data.skipped.length - 20} more`);
  }
  return lines.join('\n') + '\n';
}

/**
 * The report's Markdown with the data paragraph placed after its opening block (title and summary), so
 * whoever reads a verdict sees what it was measured on.
 */
export function withDataMarkdown(markdown: string, data: DataSection | undefined): string {
  const block = renderDataMarkdown(data);
  if (!block) return markdown;
  const at = markdown.indexOf('\n## ');
  if (at < 0) return `${markdown.trimEnd()}\n\n${block}`;
  return `${markdown.slice(0, at + 1)}${block}\n${markdown.slice(at + 1)}`;
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : Number(x.toPrecision(4)).toString();
}
