import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { InspectReport } from '../core/inspect/inspectReport';
import {
  sensitivityFileOf,
  summarizeSensitivity,
  type SensitivitySummary,
} from '../core/sensitivity/sensitivitySummary';
import { isSweepable } from '../core/sensitivity/sweepPoints';
import type {
  EditorSnapshot,
  StatsProgress,
  TensorRowStats,
  TensorSweepRow,
  ToWebview,
} from '../protocol/modelEditor';
import { RemoteError } from '../protocol/messaging';
import type { TensorStatsResult } from '../protocol/worker';
import { CancelledError, type WorkerPool } from '../runtime/workerPool';
import { localCopy, type LocalCopy } from './localCopy';
import { readSensitivitySettings } from './settings';

/** How often coalesced rows go to the webviews. */
const ROWS_INTERVAL_MS = 200;

const emptyProgress = (): StatsProgress => ({ done: 0, total: 0, bytesDone: 0, bytesTotal: 0, elapsedMs: 0 });

let generations = 0;

/**
 * One opened .onnx file. Holds the summary and the statistics computed so far, so every editor of
 * the document (and an editor that was hidden and is shown again) gets them without recomputing.
 * The work runs in the worker pool and is cancelled when the document is disposed (its last editor
 * closed) or refreshed.
 */
export class ModelDocument implements vscode.CustomDocument {
  private snapshot: EditorSnapshot;
  private readonly hashes = new Map<number, string>();
  private pendingRows: TensorRowStats[] = [];
  private pendingSweeps: TensorSweepRow[] = [];
  /** Tensors whose sweep is on its way, and those that have one. */
  private readonly sweepAsked = new Set<number>();
  private readonly sweepDone = new Set<number>();
  /** Sweeps stop with the document or a refresh, apart from the statistics (which may have ended). */
  private sweepAbort = new AbortController();
  private flushTimer?: ReturnType<typeof setTimeout>;
  private abort?: AbortController;
  private key = '';
  private settled: Promise<void> = Promise.resolve();
  private readonly onDidChangeEmitter = new vscode.EventEmitter<ToWebview>();
  private readonly onDidDisposeEmitter = new vscode.EventEmitter<void>();
  private disposed = false;
  /** The temporary copy of a resource that is not a file on disk. */
  private copy: LocalCopy | undefined;

  /** Fired once, when the last editor of the document closed. */
  readonly onDidDispose = this.onDidDisposeEmitter.event;

  /** What the webviews should be told (rows are coalesced a few times a second). */
  readonly onDidChange = this.onDidChangeEmitter.event;

  /** The tensor selected in the most recently focused editor of this document. */
  selection: { id: number; name: string } | undefined;

  constructor(
    readonly uri: vscode.Uri,
    private readonly pool: () => WorkerPool,
    private readonly bins: () => number,
  ) {
    this.snapshot = this.initial();
  }

  get fileName(): string {
    return path.basename(this.uri.fsPath);
  }

  /** The whole state, for a webview that says `ready`. */
  getSnapshot(): EditorSnapshot {
    return this.snapshot;
  }

  /** Resolves when the current analysis has ended (done, failed or cancelled). */
  whenSettled(): Promise<void> {
    return this.settled;
  }

  /** Start (or restart) indexing and statistics; earlier work is cancelled. */
  analyze(): Promise<void> {
    this.cancel();
    this.snapshot = this.initial();
    this.hashes.clear();
    this.pendingRows = [];
    this.pendingSweeps = [];
    this.sweepAsked.clear();
    this.sweepDone.clear();
    this.sweepAbort = new AbortController();
    this.emit({ type: 'editor/init', snapshot: this.snapshot });
    void this.loadSensitivity();
    const abort = new AbortController();
    this.abort = abort;
    this.settled = this.run(abort.signal).finally(() => {
      if (this.abort === abort) this.abort = undefined;
    });
    return this.settled;
  }

  /** Stop the statistics in flight (the summary and the rows so far stay). */
  cancel(): void {
    this.abort?.abort();
    this.abort = undefined;
    this.sweepAbort.abort();
    if (this.key) this.pool().close(this.key);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cancel();
    this.copy?.dispose();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.onDidChangeEmitter.dispose();
    this.onDidDisposeEmitter.fire();
    this.onDidDisposeEmitter.dispose();
  }

  private initial(): EditorSnapshot {
    return {
      fileName: this.fileName,
      status: 'indexing',
      rows: [],
      duplicates: {},
      progress: emptyProgress(),
      timings: {},
      sweeps: [],
    };
  }

  /** `<model>.sensitivity.json` beside the model. */
  get sensitivityFile(): string {
    return sensitivityFileOf(this.uri.fsPath);
  }

  /** Show a measured sensitivity (after "Measure Sensitivity", or read from its file). */
  setSensitivity(sensitivity: SensitivitySummary | undefined): void {
    this.snapshot.sensitivity = sensitivity;
    this.emit({ type: 'sensitivity/report', sensitivity });
  }

  /** Read `<model>.sensitivity.json` when there is one (a small file; an unreadable one is ignored, logged). */
  private async loadSensitivity(): Promise<void> {
    if (this.uri.scheme !== 'file') return;
    const file = this.sensitivityFile;
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch {
      return; // not measured yet
    }
    try {
      this.setSensitivity(summarizeSensitivity(JSON.parse(text), file));
    } catch (e) {
      console.warn(`Big Shrink: ignoring ${file}: ${(e as Error).message}`);
    }
  }

  /**
   * Compute the sweeps of `ids` in the worker pool (never here): `urgent` ones (the selected tensor) go
   * ahead of queued statistics and background sweeps (even one the background job has queued already).
   * Each result reaches the webviews once.
   */
  requestSweeps(ids: number[], urgent: boolean): Promise<void> {
    const report = this.snapshot.report;
    if (!report || this.uri.scheme !== 'file') return Promise.resolve();
    const tasks = ids
      .map((id) => report.tensors[id])
      .filter((t) => t && isSweepable(t) && !(urgent ? this.sweepDone : this.sweepAsked).has(t.id))
      .map((t) => ({ id: t.id, bytes: t.bytes }));
    if (tasks.length === 0) return Promise.resolve();
    for (const t of tasks) this.sweepAsked.add(t.id);
    const signal = this.sweepAbort.signal;
    return this.pool()
      .computeStats(this.uri.fsPath, this.key, tasks, {
        bins: 0,
        what: 'sweep',
        blockSize: readSensitivitySettings().blockSize,
        urgent,
        background: !urgent,
        signal,
        onResult: ({ id, sweep, error }) => {
          if (signal.aborted || this.sweepDone.has(id)) return;
          this.sweepDone.add(id);
          const row: TensorSweepRow = sweep ? { id, sweep } : { id, error: error ?? 'no sweep' };
          this.snapshot.sweeps.push(row);
          this.pendingSweeps.push(row);
          // The selected tensor's sweep shows at once; background ones are coalesced.
          if (urgent) this.flush();
          else if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), ROWS_INTERVAL_MS);
        },
      })
      .catch((error: unknown) => {
        if (!(error instanceof CancelledError)) throw error;
      });
  }

  private async run(signal: AbortSignal): Promise<void> {
    let file = this.uri.fsPath;
    if (this.uri.scheme !== 'file') {
      // The git: side of a diff (or another file system): read through VS Code into a temporary copy.
      try {
        this.copy ??= await localCopy(this.uri);
      } catch (e) {
        this.fail(
          this.uri.toString(),
          `could not read this ${this.uri.scheme}: resource: ${(e as Error).message}`,
        );
        return;
      }
      if (this.disposed) {
        this.copy.dispose();
        return;
      }
      file = this.copy.file;
    }
    this.key = `${file}#${++generations}`;
    const t0 = Date.now();
    let report: InspectReport;
    try {
      ({ report } = await this.pool().index(file, this.key, signal));
    } catch (error) {
      if (error instanceof CancelledError || signal.aborted) return;
      if (error instanceof RemoteError) this.fail(error.file || file, error.reason);
      else this.fail(file, error instanceof Error ? error.message : String(error));
      return;
    }
    if (signal.aborted) return;
    const indexMs = Date.now() - t0;
    // Learned weights first (what users look at), then shape tables and constants, each in table order.
    const order = [...report.tensors.filter((t) => t.learned), ...report.tensors.filter((t) => !t.learned)];
    this.snapshot = {
      ...this.snapshot,
      status: 'computing',
      report,
      progress: {
        ...emptyProgress(),
        total: order.length,
        bytesTotal: order.reduce((s, t) => s + t.bytes, 0),
      },
      timings: { indexMs },
    };
    this.emit({ type: 'model/overview', report, indexMs });

    const t1 = Date.now();
    try {
      await this.pool().computeStats(
        file,
        this.key,
        order.map((t) => ({ id: t.id, bytes: t.bytes })),
        {
          bins: this.bins(),
          signal,
          onResult: (result) => this.addResult(result, t1),
        },
      );
    } catch (error) {
      if (error instanceof CancelledError || signal.aborted) {
        this.finish('cancelled', Date.now() - t1);
        return;
      }
      throw error;
    }
    this.finish('done', Date.now() - t1);
  }

  private addResult(result: TensorStatsResult, started: number): void {
    const { hash, ...row } = result;
    if (hash) this.hashes.set(result.id, hash);
    this.snapshot.rows.push(row);
    this.pendingRows.push(row);
    const p = this.snapshot.progress;
    p.done = this.snapshot.rows.length;
    p.bytesDone += this.snapshot.report?.tensors[result.id]?.bytes ?? 0;
    p.elapsedMs = Date.now() - started;
    if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), ROWS_INTERVAL_MS);
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pendingSweeps.length > 0) {
      this.emit({ type: 'sweep/rows', rows: this.pendingSweeps });
      this.pendingSweeps = [];
    }
    if (this.pendingRows.length === 0) return;
    const rows = this.pendingRows;
    this.pendingRows = [];
    this.emit({ type: 'stats/rows', rows, progress: { ...this.snapshot.progress } });
  }

  private finish(status: 'done' | 'cancelled', statsMs: number): void {
    this.flush();
    const duplicates = this.findDuplicates();
    this.snapshot = {
      ...this.snapshot,
      status,
      duplicates,
      progress: { ...this.snapshot.progress, elapsedMs: statsMs },
      timings: { ...this.snapshot.timings, statsMs },
    };
    this.emit({ type: 'stats/done', status, duplicates, progress: this.snapshot.progress });
    // Then, off the critical path of opening, every weight's sweep (the table sorts by 4-bit SQNR).
    if (status === 'done' && readSensitivitySettings().sweepAll)
      void this.requestSweeps(
        (this.snapshot.report?.tensors ?? []).map((t) => t.id),
        false,
      );
  }

  private fail(file: string, reason: string): void {
    this.snapshot = { ...this.initial(), status: 'error', error: { file, reason } };
    this.emit({ type: 'model/error', error: { file, reason } });
  }

  /**
   * Byte-identical tensors: same dtype, dims and content hash, 16 elements or more (the rule of
   * core/inspect/findDuplicates, which works on the index the host does not hold).
   */
  private findDuplicates(): Record<number, string[]> {
    const tensors = this.snapshot.report?.tensors ?? [];
    const groups = new Map<string, number[]>();
    for (const [id, hash] of this.hashes) {
      const t = tensors[id];
      if (!t || t.dims.reduce((a, b) => a * b, 1) < 16) continue;
      const key = `${t.dtype}|${t.dims.join(',')}|${hash}`;
      const group = groups.get(key);
      if (group) group.push(id);
      else groups.set(key, [id]);
    }
    const duplicates: Record<number, string[]> = {};
    for (const group of groups.values()) {
      if (group.length < 2) continue;
      group.sort((a, b) => a - b);
      for (const id of group) duplicates[id] = group.filter((o) => o !== id).map((o) => tensors[o].name);
    }
    return duplicates;
  }

  private emit(message: ToWebview): void {
    if (!this.disposed) this.onDidChangeEmitter.fire(message);
  }
}
