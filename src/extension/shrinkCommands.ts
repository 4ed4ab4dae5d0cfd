import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { formatBytes } from '../core/format/formatBytes';
import type { FromPanel, ReportView } from '../protocol/reportsPanel';
import { ModelEditorProvider } from './modelEditorProvider';
import { nextStepsFor, runNextStep } from './nextStepActions';
import type { ReportIndex } from './reportIndex';
import type { ReportsViewProvider } from './reportsViewProvider';
import { choosePrune, describeChoice, pruneArgs, pruneOutput, type PruneRequest } from './prunePresets';
import { readPruneSettings, readQuantizeSettings, readShrinkSettings } from './settings';
import { choosePreset, PRESETS, type ShrinkPreset, type ShrinkRequest } from './shrinkPresets';
import { cliCommands, outputFiles, runShrink, type ShrinkResult } from './shrinkRunner';
import { chooseTarget, type ShrinkTargetRequest } from './targetPresets';

/** What a run returned (the commands' result, for tests and other extensions). */
export interface ShrinkOutcome {
  status: ShrinkResult['status'] | 'skipped';
  model?: string;
  output?: string;
  reportJson?: string;
  error?: { file: string; reason: string };
  removed?: string[];
  /** The next steps the notification offered after a fidelity FAIL ("Shrink to Target…", …). */
  nextSteps?: string[];
}

const percent = (x: number) => `${Number((x * 100).toFixed(1))}%`;

/**
 * The figures a notification states: size and ratio; for pruning the sparsity and the gzip size (a
 * dense pruned file keeps its size, what shrinks is its compressed size); for a shrink the target and
 * what the written model achieved on it; then the fidelity.
 */
export function figures(view: ReportView): string[] {
  const size = `${formatBytes(view.bytesBefore)} → ${formatBytes(view.bytesAfter)} (${view.ratio.toFixed(3)}×)`;
  const fidelity = `fidelity ${view.status.toUpperCase()}`;
  const s = view.shrink;
  if (s) {
    const achieved = s.achieved === undefined ? '' : ` (${Number(s.achieved.toPrecision(6))})`;
    return [size, `target ${s.target} ${s.met ? 'met' : 'missed'}${achieved}`, fidelity];
  }
  const p = view.prune;
  if (!p) return [size, fidelity];
  const z = p.sizes;
  return [
    `sparsity ${percent(p.sparsityBefore)} → ${percent(p.sparsityAfter)}`,
    ...(z && z.outputBytes < z.inputBytes ? [size] : []),
    ...(z ? [`gzip ${formatBytes(z.inputGzipBytes)} → ${formatBytes(z.outputGzipBytes)}`] : []),
    fidelity,
  ];
}

/** A command's second argument when it is a request; menus pass their own (the Explorer's selection, the editor group). */
function requestOf<T extends object>(arg: unknown): T {
  return (
    typeof arg === 'object' && arg !== null && !Array.isArray(arg) && !('groupId' in arg) ? arg : {}
  ) as T;
}

/** One CLI run as the commands describe it. */
interface TransformSpec {
  input: string;
  output: string;
  /** CLI arguments without `-o` and `--force`. */
  args: string[];
  verb: 'quantize' | 'convert' | 'prune' | 'shrink' | 'compact';
  /** "Quantizing bert.onnx (4-bit MatMulNBits, block 32)". */
  title: string;
  /** Overwrite without asking. */
  force: boolean;
  /** Warn even when the fidelity passes (2-bit). */
  caution?: boolean;
}

/**
 * The transform commands: "Quantize to 4-bit", "Quantize…" (a quick pick of formats, then the block
 * size), "Prune…" (method, then sparsity and storage where they apply), "Shrink to Target…" (a fidelity
 * target, then an optional size limit) and "Open Compaction Report". The work runs in the CLI's own
 * process (shrinkRunner) under a cancellable progress notification; the result shows in the side panel.
 */
export class ShrinkCommands {
  /** Runs in flight, by output path: cancelling one (or a test) aborts its controller. */
  private readonly runs = new Map<string, AbortController>();
  lastOutcome: ShrinkOutcome | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly editors: ModelEditorProvider,
    private readonly panel: ReportsViewProvider,
    private readonly index: ReportIndex,
  ) {}

  register(): vscode.Disposable[] {
    return [
      vscode.commands.registerCommand('bigShrink.quantize4bit', (resource?: unknown) =>
        this.quantize(resource, { preset: 'nbits4' }),
      ),
      vscode.commands.registerCommand('bigShrink.quantize', (resource?: unknown, request?: unknown) =>
        this.quantize(resource, request),
      ),
      vscode.commands.registerCommand('bigShrink.prune', (resource?: unknown, request?: unknown) =>
        this.prune(resource, request),
      ),
      vscode.commands.registerCommand('bigShrink.compact', (resource?: unknown, request?: unknown) =>
        this.compact(resource, request),
      ),
      vscode.commands.registerCommand('bigShrink.shrinkToTarget', (resource?: unknown, request?: unknown) =>
        this.shrinkToTarget(resource, request),
      ),
      vscode.commands.registerCommand('bigShrink.openReport', (resource?: unknown) =>
        this.openReport(resource),
      ),
    ];
  }

  /** Output paths of the runs in flight. */
  get running(): string[] {
    return [...this.runs.keys()];
  }

  /** Test-only: cancel every run in flight, as the notification's Cancel button does. */
  cancelAll(): number {
    for (const run of this.runs.values()) run.abort();
    return this.runs.size;
  }

  private get cli(): string {
    return vscode.Uri.joinPath(this.extensionUri, 'dist', 'cli.js').fsPath;
  }

  /** Which presets this CLI can run (fp16 needs `big-shrink convert`). */
  async presets(): Promise<ShrinkPreset[]> {
    const commands = await cliCommands(this.cli);
    return PRESETS.filter((p) => commands.size === 0 || commands.has(p.command));
  }

  private async quantize(resource: unknown, arg?: unknown): Promise<ShrinkOutcome> {
    const request = requestOf<ShrinkRequest>(arg);
    const model = await this.targetModel(resource);
    if (!model) return { status: 'skipped' };
    const settings = readQuantizeSettings(model);
    const chosen = await choosePreset(model, settings, request, await this.presets());
    if (!chosen) return { status: 'skipped', model: model.fsPath };
    const { preset, blockSize } = chosen;
    const input = model.fsPath;
    const stem = input.replace(/\.onnx$/i, '');
    const output =
      preset.command === 'convert'
        ? `${stem}.fp16.onnx`
        : `${stem}.int${preset.bits}${preset.format === 'qdq' ? '.qdq' : ''}.onnx`;
    const args =
      preset.command === 'convert'
        ? ['convert', input, '--fp16']
        : [
            'quantize',
            input,
            '--bits',
            String(preset.bits),
            '--format',
            preset.format!,
            ...(preset.blocked ? ['--block', String(blockSize)] : []),
            ...(settings.symmetric ? ['--sym'] : []),
            '--accuracy-level',
            String(settings.accuracyLevel),
          ];
    const exclude = request.exclude ?? settings.exclude;
    if (exclude) args.push('--exclude', exclude);
    if (typeof request.only === 'string' && request.only && preset.command !== 'convert')
      args.push('--only', request.only);
    const method = preset.format === 'nbits' ? (request.method ?? preset.method ?? settings.method) : 'rtn';
    if (method !== 'rtn') args.push('--method', method);
    const what = `${preset.label}${preset.blocked ? `, block ${blockSize}` : ''}${method !== 'rtn' && !preset.method ? `, ${method}` : ''}${request.exclude ? ', more layers in float' : ''}`;
    const verb = preset.command === 'convert' ? 'convert' : 'quantize';
    return this.execute({
      input,
      output,
      args,
      verb,
      title: `${verb === 'convert' ? 'Converting' : 'Quantizing'} ${path.basename(input)} (${what})`,
      force: request.force === true,
      caution: preset.bits === 2,
    });
  }

  private async prune(resource: unknown, arg?: unknown): Promise<ShrinkOutcome> {
    const request = requestOf<PruneRequest>(arg);
    const model = await this.targetModel(resource);
    if (!model) return { status: 'skipped' };
    const commands = await cliCommands(this.cli);
    if (commands.size > 0 && !commands.has('prune')) {
      void vscode.window.showErrorMessage('Big Shrink: this version of the command line cannot prune.');
      return { status: 'skipped', model: model.fsPath };
    }
    const choice = await choosePrune(model, readPruneSettings(), request);
    if (!choice) return { status: 'skipped', model: model.fsPath };
    const input = model.fsPath;
    return this.execute({
      input,
      output: pruneOutput(input, choice),
      args: pruneArgs(input, choice),
      verb: 'prune',
      title: `Pruning ${path.basename(input)} (${describeChoice(choice)})`,
      force: request.force === true,
    });
  }

  /**
   * "Compact…" (and the model editor's Functional core tab): removes the least important share of each
   * MLP/Conv layer's hidden units for real (`big-shrink compact MODEL --units F`, measured on the model's
   * data when the recipe beside it names some), writing MODEL.compactNN.onnx.
   */
  private async compact(resource: unknown, arg?: unknown): Promise<ShrinkOutcome> {
    const request = requestOf<{ units?: number; force?: boolean }>(arg);
    const model = await this.targetModel(resource);
    if (!model) return { status: 'skipped' };
    let units = request.units;
    if (units === undefined) {
      const picked = await vscode.window.showQuickPick(
        [0.1, 0.25, 0.5].map((u) => ({
          label: `Remove ${percent(u)} of the hidden units`,
          description: `compact --units ${u}`,
          units: u,
        })),
        {
          title: `Compact ${path.basename(model.fsPath)}`,
          placeHolder: 'Share of each layer’s hidden units to remove',
        },
      );
      if (!picked) return { status: 'skipped', model: model.fsPath };
      units = picked.units;
    }
    if (!(typeof units === 'number' && units > 0 && units < 1)) {
      void vscode.window.showErrorMessage('Big Shrink: compact takes a share of units between 0 and 1.');
      return { status: 'skipped', model: model.fsPath };
    }
    const input = model.fsPath;
    return this.execute({
      input,
      output: `${input.replace(/\.onnx$/i, '')}.compact${Number((units * 100).toFixed(1))}.onnx`,
      args: ['compact', input, '--units', String(units)],
      verb: 'compact',
      title: `Compacting ${path.basename(input)} (${percent(units)} of the hidden units removed)`,
      force: request.force === true,
    });
  }

  /**
   * "Shrink to Target…": the smallest per-layer mix of 4-bit, 8-bit and float that keeps the target
   * (`big-shrink shrink`, MODEL.shrink.onnx). A target no candidate meets ends in the CLI's exit 1 and
   * its reason; nothing is written then.
   */
  private async shrinkToTarget(resource: unknown, arg?: unknown): Promise<ShrinkOutcome> {
    const request = requestOf<ShrinkTargetRequest>(arg);
    const model = await this.targetModel(resource);
    if (!model) return { status: 'skipped' };
    const input = model.fsPath;
    const commands = await cliCommands(this.cli);
    if (commands.size > 0 && !commands.has('shrink')) {
      void vscode.window.showErrorMessage('Big Shrink: this version of the command line cannot shrink.');
      return { status: 'skipped', model: input };
    }
    const choice = await chooseTarget(model, readShrinkSettings(), request, await this.hasClassScores(model));
    if (!choice) return { status: 'skipped', model: input };
    if ('refused' in choice) {
      const reason = choice.refused.replace(/^--target: /, '');
      void vscode.window.showErrorMessage(`Big Shrink cannot shrink ${path.basename(input)}: ${reason}`);
      return { status: 'skipped', model: input, error: { file: input, reason } };
    }
    const { target, maxBytes, objective, choices } = choice;
    const limit =
      (maxBytes === undefined ? '' : `, at most ${formatBytes(maxBytes)}`) +
      (objective === 'latency' ? ', fastest' : '') +
      (choices ? ` (${choices})` : '');
    return this.execute({
      input,
      output: `${input.replace(/\.onnx$/i, '')}.shrink.onnx`,
      args: [
        'shrink',
        input,
        '--target',
        target.text,
        ...(maxBytes ? ['--max-bytes', String(maxBytes)] : []),
        ...(objective === 'latency' ? ['--objective', 'latency'] : []),
        ...(choices ? ['--choices', choices] : []),
      ],
      verb: 'shrink',
      title: `Shrinking ${path.basename(input)} to ${target.text}${limit}`,
      force: request.force === true,
    });
  }

  /**
   * Whether `model` has a [batch, classes] float output (what top-1 agreement needs): from the model
   * editor's summary when the model is open there, else from the outputs a report made from it verified
   * (top-1 agreement is measured for exactly those); undefined when neither is at hand.
   */
  private async hasClassScores(model: vscode.Uri): Promise<boolean | undefined> {
    const outputs = this.editors.documentFor(model)?.getSnapshot().report?.model.outputs;
    if (outputs)
      return outputs.some(
        (o) => /^float(16|32)?$/.test(o.dtype) && o.shape?.length === 2 && o.shape[1] !== 1,
      );
    const made = await this.reportMadeFrom(model.fsPath);
    const verified = made ? (await this.index.get(made).catch(() => undefined))?.fidelity.outputs : undefined;
    return verified?.length ? verified.some((o) => o.top1Agreement !== undefined) : undefined;
  }

  /** The newest report made from model `file` (beside it), if any. */
  private async reportMadeFrom(file: string): Promise<string | undefined> {
    const made = (await this.index.entries()).find(
      (h) => h.model === path.basename(file) && path.dirname(h.file) === path.dirname(file),
    );
    return made?.file;
  }

  /**
   * Run one transform: refuse a second run on the same output, ask before overwriting, run the CLI under
   * a cancellable progress notification (mirrored in the side panel), then announce the result.
   */
  private async execute(spec: TransformSpec): Promise<ShrinkOutcome> {
    const { input, output } = spec;
    if (this.runs.has(output)) {
      void vscode.window.showInformationMessage(`${path.basename(output)} is being written already.`);
      return { status: 'skipped', model: input, output };
    }
    const files = outputFiles(output);
    const existing = [files.model, files.data, files.reportJson, files.reportMd].filter((f) =>
      fs.existsSync(f),
    );
    let force = spec.force;
    if (existing.length > 0 && !force) {
      const names = existing.map((f) => path.basename(f));
      const what =
        existing.length === 1
          ? `${names[0]} already exists`
          : existing[0] === files.model
            ? `${names[0]} and its report already exist`
            : `${names.join(' and ')} already exist`;
      const answer = await vscode.window.showWarningMessage(
        `${what}. Overwrite?`,
        {
          modal: true,
          detail: `Overwriting replaces ${names.join(', ')} with the new result.`,
        },
        'Overwrite',
      );
      if (answer !== 'Overwrite') return { status: 'skipped', model: input, output };
      force = true;
    }
    const args = [...spec.args, '-o', output];
    if (force) args.push('--force');

    const { title } = spec;
    const controller = new AbortController();
    this.runs.set(output, controller);
    this.panel.setRunning({ title, message: 'Planning and writing…' });
    let result: ShrinkResult;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Big Shrink: ${title}`, cancellable: true },
        (progress, token) => {
          token.onCancellationRequested(() => controller.abort());
          progress.report({ message: 'planning and writing…' });
          return runShrink(
            { cli: this.cli, args, output },
            {
              signal: controller.signal,
              onProgress: (line) => {
                progress.report({ message: line });
                this.panel.setRunning({ title, message: line });
              },
            },
          );
        },
      );
    } finally {
      this.runs.delete(output);
      this.panel.setRunning(undefined);
    }
    const outcome: ShrinkOutcome = {
      status: result.status,
      model: input,
      output,
      reportJson: result.reportJson,
      error: result.error,
      removed: result.removed,
    };
    const steps = await this.announce(result, spec);
    if (steps.length > 0) outcome.nextSteps = steps;
    this.lastOutcome = outcome;
    return outcome;
  }

  /**
   * Tell the user how it went, and show the report in the side panel. Returns the labels of the next steps
   * the notification offered (after a fidelity FAIL).
   */
  private async announce(result: ShrinkResult, spec: TransformSpec): Promise<string[]> {
    const { input, output } = spec;
    const name = path.basename(input);
    if (result.status === 'cancelled') {
      const removed = result.removed.length
        ? `; removed ${result.removed.map((f) => path.basename(f)).join(', ')}`
        : '';
      vscode.window.setStatusBarMessage(`Big Shrink: cancelled ${name}${removed}`, 8000);
      return [];
    }
    if (result.reportJson) {
      const view = await this.panel.showReport(result.reportJson, { reveal: true, add: true });
      const summary = [`${name} → ${path.basename(output)}`, ...(view ? figures(view) : [])].join(', ');
      // After a FAIL, the next steps come first: they are what the user can do about it.
      const steps = view ? nextStepsFor(view) : [];
      const actions = [...steps.map((s) => s.label), 'Open Report', 'Open Model'];
      const show = (pick: string | undefined) => {
        const step = steps.find((s) => s.label === pick);
        if (step) void runNextStep(step, input);
        if (pick === 'Open Report') void this.openReport(vscode.Uri.file(result.reportJson!));
        if (pick === 'Open Model')
          void vscode.commands.executeCommand(
            'vscode.openWith',
            vscode.Uri.file(output),
            ModelEditorProvider.viewType,
          );
      };
      // Exit 3 with models that could not be compared (an older CLI: exit 1 with a report).
      const notCompared = result.status === 'failed' || !!view?.fidelity.error;
      if (notCompared) {
        const why = result.error
          ? `: ${result.error.reason}`
          : view?.fidelity.error
            ? `: ${view.fidelity.error}`
            : '';
        void vscode.window
          .showWarningMessage(`Big Shrink: ${summary}. ONNX Runtime could not verify it${why}`, ...actions)
          .then(show);
      } else if (view?.status === 'fail' && steps.length > 0) {
        void vscode.window
          .showWarningMessage(
            `Big Shrink: ${summary}. Its outputs drifted too far from the original: try a next step.`,
            ...actions,
          )
          .then(show);
      } else if (result.exitCode === 3 && result.error) {
        // The CLI's own verdict (a shrink that misses its target).
        void vscode.window
          .showWarningMessage(`Big Shrink: ${summary}. ${result.error.reason}`, ...actions)
          .then(show);
      } else if (view?.status === 'fail' || view?.status === 'warn' || spec.caution) {
        void vscode.window
          .showWarningMessage(`Big Shrink: ${summary}. Check the outputs before using it.`, ...actions)
          .then(show);
      } else {
        void vscode.window.showInformationMessage(`Big Shrink: ${summary}.`, ...actions).then(show);
      }
      return steps.map((s) => s.label);
    }
    // The CLI names the file it stopped at; say it when it is not the model itself.
    const e = result.error;
    const where = e?.file && e.file !== input ? ` (${path.basename(e.file)})` : '';
    void vscode.window.showErrorMessage(
      `Big Shrink could not ${spec.verb} ${name}${where}: ${e?.reason ?? 'unknown error'}`,
    );
    return [];
  }

  /** The model a command acts on: the explorer's resource, the active model editor, else a pick. */
  private async targetModel(resource: unknown): Promise<vscode.Uri | undefined> {
    let uri = resource instanceof vscode.Uri ? resource : undefined;
    if (!uri) {
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      if (input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText) uri = input.uri;
      if (uri && !/\.onnx$/i.test(uri.path)) uri = undefined;
    }
    uri ??= this.editors.activeDocument?.uri;
    if (!uri) {
      const models = await vscode.workspace.findFiles('**/*.onnx', '**/node_modules/**', 500);
      if (models.length === 0) {
        void vscode.window.showInformationMessage('Big Shrink: there is no .onnx model in this workspace.');
        return undefined;
      }
      const picked = await vscode.window.showQuickPick(
        models
          .sort((a, b) => a.path.localeCompare(b.path))
          .map((u) => ({
            label: path.basename(u.fsPath),
            description: vscode.workspace.asRelativePath(u, false),
            uri: u,
          })),
        {
          title: 'Big Shrink: which model?',
          placeHolder: 'An ONNX model of the workspace',
          matchOnDescription: true,
        },
      );
      uri = picked?.uri;
    }
    if (uri && uri.scheme !== 'file') {
      void vscode.window.showErrorMessage(`Big Shrink can transform files on disk only (${uri.toString()}).`);
      return undefined;
    }
    return uri;
  }

  /**
   * Open a compaction report's Markdown beside the editor: the given report (.json or .md), the newest
   * report of a given model, else the one the side panel shows.
   */
  async openReport(resource?: unknown): Promise<vscode.Uri | undefined> {
    let md: string | undefined;
    const file = resource instanceof vscode.Uri ? resource.fsPath : undefined;
    if (file && /\.report\.(json|md)$/i.test(file)) md = file.replace(/\.json$/i, '.md');
    else if (file && /\.onnx$/i.test(file)) {
      // A transform's output has its report beside it; an input, the newest report made from it.
      const own = file.replace(/\.onnx$/i, '.report.md');
      const made = await this.reportMadeFrom(file);
      md = fs.existsSync(own) ? own : made?.replace(/\.json$/i, '.md');
    } else {
      const current = this.panel.currentReport ?? (await this.index.newest());
      md = current?.file.replace(/\.json$/i, '.md');
    }
    if (!md || !fs.existsSync(md)) {
      void vscode.window.showInformationMessage(
        md
          ? `Big Shrink: ${path.basename(md)} does not exist.`
          : 'Big Shrink: no compaction report yet. Quantize, prune or shrink a model first.',
      );
      return undefined;
    }
    const uri = vscode.Uri.file(md);
    try {
      await vscode.commands.executeCommand('markdown.showPreviewToSide', uri);
    } catch {
      await vscode.window.showTextDocument(uri, { viewColumn: vscode.ViewColumn.Beside, preview: true });
    }
    return uri;
  }
}

/**
 * Test-only (registered outside production mode, not in package.json): the runs in flight and the last
 * outcome, a cancel that does what the notification's Cancel button does, and what the side panel was
 * sent and drew.
 */
export function registerShrinkTestCommands(
  commands: ShrinkCommands,
  panel: ReportsViewProvider,
  index: ReportIndex,
): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('bigShrink._test.shrinkState', () => ({
      running: commands.running,
      last: commands.lastOutcome,
    })),
    vscode.commands.registerCommand('bigShrink._test.cancelShrink', () => commands.cancelAll()),
    vscode.commands.registerCommand('bigShrink._test.panelMessage', (message: FromPanel) =>
      panel.receiveForTest(message),
    ),
    vscode.commands.registerCommand('bigShrink._test.reportsState', async () => {
      const current = panel.currentReport;
      return {
        visible: panel.isVisible,
        posted: panel.probe.posted,
        received: panel.probe.received,
        rendered: panel.probe.rendered,
        current: current && {
          file: current.file,
          model: current.model,
          output: current.output,
          status: current.status,
          transform: current.transform,
          variant: current.variant,
          tensors: current.tensors.map((t) => t.name),
          sparsity: current.tensors.map((t) => ({
            name: t.name,
            before: t.sparsityBefore,
            after: t.sparsityAfter,
            storage: t.storage,
          })),
          nodes: current.nodes.length,
          prune: current.prune,
          shrink: current.shrink,
        },
        history: (await index.entries()).map((e) => e.file),
      };
    }),
  ];
}
