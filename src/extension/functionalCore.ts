/**
 * The model editor's Functional core tab, host side: "Measure activations" runs `big-shrink activations
 * MODEL --json` in the CLI child (runCliJson; the CLI reads the recipe beside the model, so the Data card's
 * choice is what it measures on), with progress and cancel, and turns the answer into the tab's summary
 * (functionalCoreView: counts, shares and curves of at most CURVE_POINTS points). One state per model.
 * No `vscode` here.
 */
import * as path from 'path';
import type { ActivationsReport } from '../core/compact/activationSummary';
import { functionalCoreView } from '../core/compact/functionalCoreView';
import type { CoreState } from '../protocol/modelEditor';
import { runCliJson } from './runCliJson';

const PROGRESS = /^activations: (\d+)\/(\d+) runs/;

/** Runs `big-shrink activations MODEL --json` once; resolves (never rejects) with the tab's state. */
export async function measureActivations(
  cli: string,
  model: string,
  options: { signal?: AbortSignal; onProgress?(done: number, total: number): void } = {},
): Promise<CoreState> {
  const r = await runCliJson<ActivationsReport>(cli, ['activations', model, '--json'], {
    cwd: path.dirname(model),
    signal: options.signal,
    progress: PROGRESS,
    onProgress: options.onProgress && ((done, total) => options.onProgress!(done, total)),
  });
  if (r.status === 'cancelled') return { status: 'cancelled' };
  if (r.status === 'failed') {
    const e = r.error!;
    return { status: 'error', error: e.file ? `${e.file}: ${e.reason}` : e.reason };
  }
  try {
    return { status: 'ready', view: functionalCoreView(r.value!) };
  } catch (e) {
    return { status: 'error', error: `the activations answer could not be read: ${(e as Error).message}` };
  }
}

/** The Functional core state of every model, the measurements in flight, and who hears of changes. */
export class FunctionalCore {
  private readonly states = new Map<string, CoreState>();
  private readonly runs = new Map<string, AbortController>();

  constructor(
    private readonly cli: () => string,
    private readonly changed: (model: string, state: CoreState) => void,
  ) {}

  /** The state of `model` (undefined: never measured in this session). */
  stateOf(model: string): CoreState | undefined {
    return this.states.get(model);
  }

  /** Measures `model` (a second request while one runs waits for that one). */
  async measure(model: string): Promise<CoreState> {
    if (this.runs.has(model)) return this.states.get(model)!;
    const controller = new AbortController();
    this.runs.set(model, controller);
    // The last figures stay on screen while the new ones are measured.
    const { view, measured = 0 } = this.states.get(model) ?? {};
    const kept = view ? { view, measured } : {};
    this.set(model, { status: 'running', ...kept });
    try {
      const next = await measureActivations(this.cli(), model, {
        signal: controller.signal,
        onProgress: (done, total) =>
          this.set(model, { status: 'running', progress: { done, total }, ...kept }),
      });
      this.set(model, next.view ? { ...next, measured: measured + 1 } : { ...next, ...kept });
    } finally {
      this.runs.delete(model);
    }
    return this.states.get(model)!;
  }

  /** Cancels the measurement of `model`; false when none runs. */
  cancel(model: string): boolean {
    const run = this.runs.get(model);
    run?.abort();
    return run !== undefined;
  }

  /** Cancels every measurement (the extension is deactivated). */
  dispose(): void {
    for (const run of this.runs.values()) run.abort();
  }

  private set(model: string, state: CoreState): void {
    this.states.set(model, state);
    this.changed(model, state);
  }
}
