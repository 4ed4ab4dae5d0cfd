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
