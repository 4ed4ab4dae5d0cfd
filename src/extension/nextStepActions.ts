/**
 * The next steps after a fidelity FAIL (core/transform/nextSteps) for a report of the side panel or a
 * transform's notification, and running one: "Shrink to Target…" on the original, or "Quantize…" again
 * with a data-aware method or more layers excluded.
 */
import * as fs from 'fs';
import * as vscode from 'vscode';
import { sensitivityFileOf, summarizeSensitivity } from '../core/sensitivity/sensitivitySummary';
import { type NextStep, nextSteps } from '../core/transform/nextSteps';
import type { ReportView } from '../protocol/reportsPanel';

/** The next steps for `view`, with the measured ranking of `<input>.sensitivity.json` when there is one. */
export function nextStepsFor(view: ReportView): NextStep[] {
  if (view.status !== 'fail') return [];
  return nextSteps(view, view.inputPath ? readRanking(view.inputPath) : undefined);
}

/** Runs `step` on model `input` (the report's original). */
export function runNextStep(step: NextStep, input: string): Thenable<unknown> {
  const uri = vscode.Uri.file(input);
  return step.kind === 'shrinkToTarget'
    ? vscode.commands.executeCommand('bigShrink.shrinkToTarget', uri)
    : vscode.commands.executeCommand('bigShrink.quantize', uri, step.request);
}

function readRanking(input: string) {
  const file = sensitivityFileOf(input);
  try {
    return summarizeSensitivity(JSON.parse(fs.readFileSync(file, 'utf8')), file);
  } catch {
    return undefined; // not measured (or unreadable): the report's own figures decide
  }
}
