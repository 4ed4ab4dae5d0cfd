/**
 * The model editor's Data card on the host side: reads what the model's commands will receive (through
 * the CLI child, never on this thread), lets the user choose a folder, file or tokenizer, and saves the
 * choice in `MODEL.inputs.json` beside the model, which every command (CLI or editor) reads.
 */
import * as fs from 'fs';
import * as vscode from 'vscode';
import { recipeFileName } from '../core/data/inputRecipe';
import type { DataActionMessage, DataCardState } from '../protocol/modelEditor';
import { readRecipe, recipePath, runDataCommand, saveRecipe } from './dataRunner';

/** The card's state for a model: the recipe's data read by `big-shrink data` (or none). */
export async function loadDataCard(cli: string, model: string): Promise<DataCardState> {
  const recipeFile = recipeFileName(model);
  const hasRecipe = fs.existsSync(recipeFile);
  const r = await runDataCommand(cli, model);
  if (!r.ok) return { status: 'error', error: r.error, ...(hasRecipe ? { recipeFile } : {}) };
  if (r.section?.source === 'synthetic' && !hasRecipe) return { status: 'none', section: r.section };
  return { status: 'ready', section: r.section, preview: r.preview, ...(hasRecipe ? { recipeFile } : {}) };
}

/**
 * One action of the card. A chosen folder or file is read by `big-shrink data` first; the recipe is
 * saved only when the data can be used (else the card shows why, and the recipe stays as it was).
 * Returns the new state, or undefined when the user cancelled a dialog.
 */
export async function dataCardAction(
  cli: string,
  model: string,
  message: DataActionMessage,
  picked?: string,
): Promise<DataCardState | undefined> {
  // `picked` stands in for the dialog's answer (the extension-host tests cannot click a native dialog).
  const choose = async (options: vscode.OpenDialogOptions) =>
    picked ?? (await vscode.window.showOpenDialog(options))?.[0]?.fsPath;
  let recipe;
  try {
    recipe = readRecipe(model);
  } catch (e) {
    return { status: 'error', error: (e as Error).message, recipeFile: recipeFileName(model) };
  }
  const here = vscode.Uri.file(model.replace(/[^/\\]+$/, ''));
  switch (message.action) {
    case 'chooseFolder':
    case 'chooseFile': {
      const folder = message.action === 'chooseFolder';
      const target = await choose({
        canSelectFiles: !folder,
        canSelectFolders: folder,
        canSelectMany: false,
        defaultUri: here,
        openLabel: folder ? 'Use this folder as data' : 'Use this file as data',
      });
      if (!target) return undefined;
      const tokenizer = recipe.tokenizer;
      const check = await runDataCommand(cli, model, ['--data', target]);
      if (!check.ok) return { status: 'error', error: check.error };
      saveRecipe(model, {
        ...recipe,
        data: [recipePath(model, target)],
        ...(tokenizer ? { tokenizer } : {}),
      });
      break;
    }
    case 'chooseTokenizer': {
      const tokenizer = await choose({
        canSelectFiles: true,
        canSelectMany: false,
        defaultUri: here,
        filters: { 'Hugging Face tokenizer': ['json'] },
        openLabel: 'Use this tokenizer',
      });
      if (!tokenizer) return undefined;
      saveRecipe(model, { ...recipe, tokenizer: recipePath(model, tokenizer) });
      break;
    }
    case 'setSplit': {
      const split: { calibration?: number; evaluation?: number } = {};
      if (message.calibration !== undefined) split.calibration = message.calibration;
      if (message.evaluation !== undefined) split.evaluation = message.evaluation;
      saveRecipe(model, { ...recipe, split });
      break;
    }
    case 'clear': {
      const rest = { ...recipe };
      delete rest.data;
      saveRecipe(model, rest);
      break;
    }
  }
  return loadDataCard(cli, model);
}
