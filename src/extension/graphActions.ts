import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { GraphReportLayer } from '../protocol/modelEditor';
import { exactAny, withExcluded } from '../core/graph/excludePattern';
import { parseReport } from './reportIndex';

/**
 * "Exclude from quantization" / "Keep in float": adds the weights' exact names to
 * `bigShrink.quantize.exclude` of the model's workspace folder (the workspace, or the user settings, when
 * the model is in no folder), which every quantize and convert command reads.
 */
export async function excludeFromQuantization(model: vscode.Uri, names: readonly string[]): Promise<string> {
  const config = vscode.workspace.getConfiguration('bigShrink.quantize', model);
  const folder = vscode.workspace.getWorkspaceFolder(model);
  const target = folder
    ? vscode.ConfigurationTarget.WorkspaceFolder
    : vscode.workspace.workspaceFolders?.length
      ? vscode.ConfigurationTarget.Workspace
      : vscode.ConfigurationTarget.Global;
  const inspected = config.inspect<string>('exclude');
  const current =
    (target === vscode.ConfigurationTarget.WorkspaceFolder
      ? inspected?.workspaceFolderValue
      : target === vscode.ConfigurationTarget.Workspace
        ? inspected?.workspaceValue
        : inspected?.globalValue) ?? '';
  const next = withExcluded(current, names);
  const shown = names.join(', ');
  if (next === undefined) {
    void vscode.window.showInformationMessage(`Big Shrink: ${shown} is already left in float.`);
    return current;
  }
  await config.update('exclude', next, target);
  void vscode.window.showInformationMessage(
    `Big Shrink: quantize commands now leave ${shown} in float (bigShrink.quantize.exclude).`,
  );
  return next;
}

/** "Quantize only this layer…": the quantize command (its preset pick) with `--only` these weights. */
export async function quantizeOnly(model: vscode.Uri, names: readonly string[]): Promise<void> {
  await vscode.commands.executeCommand('bigShrink.quantize', model, { only: exactAny(names) });
}

/**
 * The newest transform report (`*.report.json` beside the model) that read this model: each weight's
 * precision after and its weight SQNR, for the graph's overlays.
 */
export async function lastReportOf(
  modelPath: string,
): Promise<{ label: string; layers: GraphReportLayer[] } | undefined> {
  const dir = path.dirname(modelPath);
  const stem = path.basename(modelPath).replace(/\.onnx$/i, '');
  let files: string[];
  try {
    files = (await fs.promises.readdir(dir)).filter(
      (f) => f.startsWith(`${stem}.`) && f.endsWith('.report.json'),
    );
  } catch {
    return undefined;
  }
  let best: ReturnType<typeof parseReport> | undefined;
  for (const f of files) {
    try {
      const file = path.join(dir, f);
      const view = parseReport(await fs.promises.readFile(file, 'utf8'), file, f);
      if (path.resolve(dir, view.inputPath) !== path.resolve(modelPath)) continue;
      if (!best || view.createdAt > best.createdAt) best = view;
    } catch {
      // not a Big Shrink report
    }
  }
  if (!best) return undefined;
  return {
    label: `${best.variant} (${path.basename(best.file)})`,
    layers: best.tensors.map((t) => ({
      name: t.name,
      afterDtype: t.afterDtype,
      weightSqnrDb: t.weightSqnrDb,
    })),
  };
}
