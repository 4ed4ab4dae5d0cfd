/**
 * The Data card's work outside the extension host thread: `big-shrink data MODEL --json --preview` in a
 * child process decodes the data (images, audio, text, bytes) and answers with counts, shapes and a small
 * preview; the recipe `MODEL.inputs.json` is written atomically once the data has been read. No `vscode`.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { DataPreview, DataSection } from '../core/data/dataSection';
import { parseRecipe, type RecipeFile, recipeFileName, serializeRecipe } from '../core/data/inputRecipe';
import { writeFileAtomic } from '../runtime/writeFileAtomic';
import { runCliJson } from './runCliJson';

/** What `big-shrink data --json` answers, or why it failed. */
export interface DataRunResult {
  ok: boolean;
  section?: DataSection;
  preview?: DataPreview;
  error?: string;
}

/** Runs `big-shrink data MODEL --json --preview` with extra arguments; resolves (never rejects). */
export async function runDataCommand(
  cli: string,
  model: string,
  extra: string[] = [],
  signal?: AbortSignal,
): Promise<DataRunResult> {
  const r = await runCliJson<{ data: DataSection; preview?: DataPreview }>(
    cli,
    ['data', model, '--json', '--preview', ...extra],
    { cwd: path.dirname(model), signal },
  );
  if (r.status === 'cancelled') return { ok: false, error: 'cancelled' };
  if (r.status === 'failed') {
    const e = r.error!;
    return { ok: false, error: e.file ? `${e.file}: ${e.reason}` : e.reason };
  }
  return { ok: true, section: r.value!.data, preview: r.value!.preview };
}

/** The recipe beside the model (a fresh one when there is none, or when it cannot be read). */
export function readRecipe(model: string): RecipeFile {
  const file = recipeFileName(model);
  if (!fs.existsSync(file)) return { version: 1, inputs: {} };
  return parseRecipe(fs.readFileSync(file, 'utf8'), file);
}

/** Writes the recipe beside the model atomically (paths relative to its folder where they are inside). */
export function saveRecipe(model: string, recipe: RecipeFile): string {
  const file = recipeFileName(model);
  writeFileAtomic(file, serializeRecipe(recipe), { force: true });
  return file;
}

/** A path as the recipe stores it: relative to the model's folder when inside it, else absolute. */
export function recipePath(model: string, target: string): string {
  const rel = path.relative(path.dirname(model), target);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : target;
}
