import * as path from 'path';
import * as vscode from 'vscode';
import type {
  FidelityStatus,
  NodeChangeRow,
  OutputFidelity,
  TaskFigures,
  PruneFigures,
  PruneSizes,
  ReportEntry,
  ReportView,
  StayedFloatView,
  TensorChange,
} from '../protocol/reportsPanel';
import { isObject, type Json, list, num, str } from './jsonFields';
import { shrinkFiguresOf, shrinkVariant } from './shrinkFiguresOf';

/** Reports the history lists at most (newest first). */
const MAX_REPORTS = 300;
const GLOB = '**/*.report.json';
const STATUSES: readonly FidelityStatus[] = ['pass', 'warn', 'fail', 'unverified'];

/** "4-bit MatMulNBits, block 32", "fp16 weights", "magnitude 50%, per layer", "2:4 semi-structured". */
export function variantOf(transform: string, o: Json): string {
  if (transform === 'quantize') {
    const qdq = o.format === 'qdq';
    const parts = [`${num(o.bits) ?? '?'}-bit ${qdq ? 'QDQ' : 'MatMulNBits'}`];
    if (qdq && o.bits === 8) parts.push('per channel');
    else if (num(o.blockSize) !== undefined) parts.push(`block ${o.blockSize}`);
    if (o.symmetric === true) parts.push('symmetric');
    return parts.join(', ');
  }
  if (transform === 'shrink') return shrinkVariant(o);
  if (transform === 'compact') {
    const rank = num(o.rank);
    const units = num(o.units);
    const what =
      rank !== undefined
        ? rank < 1
          ? `low-rank, ${Number((rank * 100).toFixed(1))}% of full rank`
          : `low-rank, rank ${rank}`
        : units !== undefined
          ? `${Number((units * 100).toFixed(1))}% of hidden units removed, by ${str(o.method, 'activation')}`
          : 'compact';
    return [what, o.keepFirstLast === true ? 'first/last whole' : ''].filter(Boolean).join(', ');
  }
  if (transform === 'convert') return `${o.to === 'float16' ? 'fp16' : str(o.to, 'converted')} weights`;
  if (transform === 'prune') {
    const pct = (x: number) => `${Number((x <= 1 ? x * 100 : x).toFixed(1))}%`;
    const sparsity = num(o.sparsity);
    let what: string;
    if (o.method === 'nm' && num(o.n) !== undefined && num(o.m) !== undefined)
      what = `${o.n}:${o.m} semi-structured`;
    else if (o.method === 'channel' && sparsity !== undefined) what = `${pct(sparsity)} of output channels`;
    else if (o.method === 'magnitude' && sparsity !== undefined)
      what = `magnitude ${pct(sparsity)}, ${o.scope === 'global' ? 'global' : 'per layer'}`;
    else if (sparsity !== undefined) what = `${pct(sparsity)} sparsity`;
    else what = o.mask || o.method === undefined ? 'saved masks' : str(o.method, 'prune');
    return [
      what,
      o.storage === 'sparse' ? 'sparse_initializer' : o.storage === 'int4' ? 'then 4-bit' : '',
      o.keepFirstLast === true ? 'first/last dense' : '',
    ]
      .filter(Boolean)
      .join(', ');
  }
  return transform;
}

/** pass / warn / fail as the CLI computes it (quantizeReport.fidelityStatus), for reports that lack it. */
function statusOf(summary: Json, verification: Json | undefined): FidelityStatus {
  if (STATUSES.includes(summary.status as FidelityStatus)) return summary.status as FidelityStatus;
  if (!verification) return 'unverified';
  const min = num(verification.minCosine);
  if (verification.ok !== true || min === undefined || min < 0.95) return 'fail';
  return min >= 0.99 ? 'pass' : 'warn';
}

function sparsityOf(row: Json, which: 'before' | 'after'): number | undefined {
  const flat = num(row[which === 'before' ? 'sparsityBefore' : 'sparsityAfter']);
  if (flat !== undefined) return flat;
  return isObject(row.sparsity) ? num(row.sparsity[which]) : undefined;
}

/**
 * A compaction report (`big-shrink quantize|convert|prune|shrink`, the QuantizeReport shape of
 * src/core/quant/quantizeReport.ts) as the side panel shows it. Unknown fields are ignored and missing
 * optional ones tolerated, so reports of newer transforms still show; throws when it is not a report.
 */
export function parseReport(text: string, file: string, label = file): ReportView {
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON (${(e as Error).message})`);
  }
  if (!isObject(r) || !isObject(r.tool) || r.tool.name !== 'big-shrink' || !isObject(r.summary)) {
    throw new Error('not a Big Shrink compaction report (no tool "big-shrink" and summary)');
  }
  const summary = r.summary;
  const dir = path.dirname(file);
  const firstPath = (files: unknown) => {
    const p = str(isObject(files) ? list(files.files)[0]?.path : undefined);
    return p && !path.isAbsolute(p) ? path.resolve(dir, p) : p;
  };
  const inputPath = firstPath(r.input);
  const outputPath = firstPath(r.output);
  const transform = str(r.transform, 'transform');
  const options: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(isObject(r.options) ? r.options : {})) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') options[k] = v;
  }
  const v = isObject(r.verification) ? r.verification : undefined;
  const timing = (x: unknown) =>
    isObject(x) && num(x.loadMs) !== undefined && num(x.medianMs) !== undefined
      ? { loadMs: num(x.loadMs)!, medianMs: num(x.medianMs)! }
      : undefined;
  const bytesBefore = num(summary.bytesBefore) ?? 0;
  const bytesAfter = num(summary.bytesAfter) ?? 0;
  const tensors: TensorChange[] = list(r.tensors).map((t) => ({
    name: str(t.name),
    graph: str(t.graph, 'main'),
    op: str(t.op),
    dims: Array.isArray(t.dims) ? t.dims.filter((d): d is number => typeof d === 'number') : [],
    beforeDtype: str(t.beforeDtype),
    afterDtype: str(t.afterDtype),
    beforeBytes: num(t.beforeBytes) ?? 0,
    afterBytes: num(t.afterBytes) ?? 0,
    weightSqnrDb: num(t.weightSqnrDb) ?? (t.weightSqnrDb === null ? null : undefined),
    sparsityBefore: sparsityOf(t, 'before'),
    sparsityAfter: sparsityOf(t, 'after'),
    removed: typeof t.removed === 'boolean' ? t.removed : undefined,
    storage: typeof t.storage === 'string' ? t.storage : undefined,
    denseBytes: num(t.denseBytes),
    sparseBytes: num(t.sparseBytes),
    pattern: typeof t.pattern === 'string' && t.pattern ? t.pattern : undefined,
    note: typeof t.note === 'string' && t.note ? t.note : undefined,
    channels: channelsOf(t.channels),
  }));
  const nodes: NodeChangeRow[] = list(r.nodes).map((n) => ({
    node: str(n.node),
    graph: str(n.graph, 'main'),
    from: str(n.from),
    to: str(n.to),
    weight: str(n.weight),
    note: typeof n.note === 'string' && n.note ? n.note : undefined,
  }));
  const outputs: OutputFidelity[] = list(v?.outputs).map((o) => ({
    name: str(o.name),
    cosine: num(o.cosine) ?? NaN,
    sqnrDb: num(o.sqnrDb) ?? NaN,
    maxAbsError: num(o.maxAbsError) ?? NaN,
    top1Agreement: num(o.top1Agreement),
  }));
  return {
    file,
    label,
    transform,
    variant: variantOf(transform, isObject(r.options) ? r.options : {}),
    model: path.basename(inputPath),
    output: path.basename(outputPath),
    createdAt: str(r.createdAt),
    bytesBefore,
    bytesAfter,
    ratio: num(summary.ratio) ?? (bytesBefore > 0 ? bytesAfter / bytesBefore : 1),
    status: statusOf(summary, v),
    inputPath,
    outputPath,
    options,
    fidelity: {
      status: statusOf(summary, v),
      minCosine: num(v?.minCosine),
      error: v && typeof v.error === 'string' ? v.error : undefined,
      outputs,
      ...taskOf(v?.metrics),
      synthetic: !isFilesSource(r.data) && !isFilesSource(v?.data),
      original: timing(v?.original),
      candidate: timing(v?.candidate),
    },
    tensors,
    nodes,
    skipped: list(r.skipped).length,
    stayedFloat: stayedFloatOf(r.stayedFloat),
    warnings: Array.isArray(r.warnings) ? r.warnings.map(String) : [],
    opsetChanges: Array.isArray(r.opsetChanges) ? r.opsetChanges.map(String) : [],
    prune: transform === 'prune' ? pruneFiguresOf(summary, r.sizes) : undefined,
    shrink: transform === 'shrink' ? shrinkFiguresOf(r) : undefined,
  };
}

function stayedFloatOf(x: unknown): StayedFloatView | undefined {
  if (!isObject(x) || typeof x.summary !== 'string' || !num(x.tensors)) return undefined;
  return {
    summary: x.summary,
    tensors: num(x.tensors)!,
    bytes: num(x.bytes) ?? 0,
    groups: list(x.groups).map((g) => ({
      label: str(g.label),
      tensors: num(g.tensors) ?? 0,
      bytes: num(g.bytes) ?? 0,
      names: Array.isArray(g.names) ? g.names.map(String) : [],
    })),
  };
}

function channelsOf(x: unknown): TensorChange['channels'] {
  if (!isObject(x) || num(x.axis) === undefined || num(x.total) === undefined || !Array.isArray(x.zeroed))
    return undefined;
  return {
    axis: num(x.axis)!,
    total: num(x.total)!,
    zeroed: x.zeroed.filter((i): i is number => typeof i === 'number'),
  };
}

const SIZE_KEYS: readonly (keyof PruneSizes)[] = [
  'inputBytes',
  'inputGzipBytes',
  'outputBytes',
  'outputGzipBytes',
  'prunedDenseBytes',
  'prunedSparseBytes',
  'prunedStoredBytes',
  'runtimeBytesBefore',
  'runtimeBytesAfter',
];

/** Present with --storage int4, and when a gzip size is estimated from samples (large files). */
const OPTIONAL_SIZE_KEYS: readonly (keyof PruneSizes)[] = [
  'quantizedDenseBytes',
  'quantizedBytes',
  'gzipSampledFraction',
];

/** The sparsity and size figures of a prune report (`summary` and `sizes`); the sizes only when all are there. */
function pruneFiguresOf(summary: Json, sizes: unknown): PruneFigures | undefined {
  const before = num(summary.sparsityBefore);
  const after = num(summary.sparsityAfter);
  if (before === undefined || after === undefined) return undefined;
  const z = isObject(sizes) ? sizes : {};
  const complete = SIZE_KEYS.every((k) => num(z[k]) !== undefined);
  return {
    sparsityBefore: before,
    sparsityAfter: after,
    target: num(summary.target),
    threshold: num(summary.threshold),
    weights: num(summary.weights) ?? 0,
    sizes: complete
      ? (Object.fromEntries(
          [...SIZE_KEYS, ...OPTIONAL_SIZE_KEYS].flatMap((k) =>
            num(z[k]) === undefined ? [] : [[k, num(z[k])!]],
          ),
        ) as unknown as PruneSizes)
      : undefined,
  };
}

/** The history row of a report. */
export function entryOf(view: ReportView): ReportEntry {
  const {
    file,
    label,
    transform,
    variant,
    model,
    output,
    createdAt,
    bytesBefore,
    bytesAfter,
    ratio,
    status,
  } = view;
  return {
    file,
    label,
    transform,
    variant,
    model,
    output,
    createdAt,
    bytesBefore,
    bytesAfter,
    ratio,
    status,
  };
}

/**
 * Every compaction report of the workspace (`**\/*.report.json`), kept fresh by a file system
 * watcher, plus the reports written by this session's runs outside the workspace. Reading is lazy:
 * the first `entries()` searches; later changes re-read only the files that changed.
 */
export class ReportIndex implements vscode.Disposable {
  private readonly reports = new Map<string, ReportView>();
  /** Reports outside the workspace that this session produced (the watcher cannot see them). */
  private readonly extra = new Set<string>();
  private scanning: Promise<void> | undefined;
  private scanned = false;
  private readonly watcher: vscode.FileSystemWatcher;
  private readonly onDidChangeEmitter = new vscode.EventEmitter<{ changed: string[]; created: string[] }>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private pending = new Map<string, 'changed' | 'created' | 'deleted'>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** Fired (debounced) when reports appeared, changed or went away. */
  readonly onDidChange = this.onDidChangeEmitter.event;

  constructor() {
    this.watcher = vscode.workspace.createFileSystemWatcher(GLOB);
    this.subscriptions.push(
      this.watcher,
      this.watcher.onDidCreate((u) => this.queue(u.fsPath, 'created')),
      this.watcher.onDidChange((u) => this.queue(u.fsPath, 'changed')),
      this.watcher.onDidDelete((u) => this.queue(u.fsPath, 'deleted')),
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        this.scanned = false;
        this.scanning = undefined;
        void this.entries().then(() => this.onDidChangeEmitter.fire({ changed: [], created: [] }));
      }),
      this.onDidChangeEmitter,
    );
  }

  get isScanned(): boolean {
    return this.scanned;
  }

  /** The history, newest first. */
  async entries(): Promise<ReportEntry[]> {
    if (!this.scanned) {
      this.scanning ??= this.scan();
      await this.scanning;
    }
    return this.sorted().map(entryOf);
  }

  /** The newest report, if any. */
  async newest(): Promise<ReportView | undefined> {
    await this.entries();
    return this.sorted()[0];
  }

  /** One report, read again from disk (it may have changed since the history was made). */
  async get(file: string): Promise<ReportView> {
    const view = await this.read(file);
    this.reports.set(file, view);
    return view;
  }

  /** A report this session wrote (kept in the history even outside the workspace). */
  async add(file: string): Promise<ReportView> {
    this.extra.add(file);
    const view = await this.get(file);
    this.onDidChangeEmitter.fire({ changed: [], created: [file] });
    return view;
  }

  /** Search the workspace again. */
  async refresh(): Promise<void> {
    this.scanned = false;
    this.scanning = undefined;
    await this.entries();
    this.onDidChangeEmitter.fire({ changed: [], created: [] });
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.subscriptions.forEach((s) => s.dispose());
  }

  private sorted(): ReportView[] {
    return [...this.reports.values()]
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.file.localeCompare(b.file))
      .slice(0, MAX_REPORTS);
  }

  private async read(file: string): Promise<ReportView> {
    const bytes = await vscode.workspace.fs.readFile(vscode.Uri.file(file));
    const label = vscode.workspace.asRelativePath(vscode.Uri.file(file), false);
    const view = parseReport(new TextDecoder().decode(bytes), file, label);
    const markdown = file.replace(/\.json$/i, '.md');
    try {
      await vscode.workspace.fs.stat(vscode.Uri.file(markdown));
      view.markdownPath = markdown;
    } catch {
      // Only the JSON: the panel offers no Markdown link.
    }
    return view;
  }

  private async scan(): Promise<void> {
    const found = await vscode.workspace.findFiles(GLOB, '**/node_modules/**', MAX_REPORTS * 2);
    const files = [...new Set([...found.map((u) => u.fsPath), ...this.extra])];
    this.reports.clear();
    await Promise.all(
      files.map(async (f) => {
        try {
          this.reports.set(f, await this.read(f));
        } catch {
          // Not a Big Shrink report (another tool's *.report.json), or unreadable: not listed.
        }
      }),
    );
    this.scanned = true;
  }

  /** Coalesce watcher events (a transform writes the JSON and the Markdown within milliseconds). */
  private queue(file: string, what: 'changed' | 'created' | 'deleted'): void {
    const before = this.pending.get(file);
    this.pending.set(file, before === 'created' && what === 'changed' ? 'created' : what);
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), 150);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    const changed: string[] = [];
    const created: string[] = [];
    for (const [file, what] of batch) {
      if (what === 'deleted') {
        this.reports.delete(file);
        this.extra.delete(file);
        changed.push(file);
        continue;
      }
      try {
        this.reports.set(file, await this.read(file));
        (what === 'created' ? created : changed).push(file);
      } catch {
        if (this.reports.delete(file)) changed.push(file);
      }
    }
    if (changed.length || created.length) this.onDidChangeEmitter.fire({ changed, created });
  }
}

/** The report's task metrics (`verification.metrics`), flattened for the panel. */
function taskOf(m: unknown): { task?: TaskFigures } {
  if (!isObject(m) || (m.task !== 'lm' && m.task !== 'classification' && m.task !== 'generic')) return {};
  const task: TaskFigures = { task: m.task, samples: num(m.samples) };
  const lm = isObject(m.lm) ? m.lm : undefined;
  const c = isObject(m.classification) ? m.classification : undefined;
  if (lm) {
    task.pplOriginal = num(lm.pplOriginal);
    task.pplCandidate = num(lm.pplCandidate);
    task.klMean = num(lm.klMean);
    task.klMax = num(lm.klMax);
    task.top1Agreement = num(lm.top1Agreement);
    task.tokens = num(lm.tokens);
  } else if (c) {
    task.top1Agreement = num(c.top1Agreement);
    task.accuracyOriginal = num(c.accuracyOriginal);
    task.accuracyCandidate = num(c.accuracyCandidate);
    task.samples = num(c.samples) ?? task.samples;
  }
  return { task };
}

/** True for a `data` section whose source is the user's files. */
function isFilesSource(data: unknown): boolean {
  return isObject(data) && data.source === 'files';
}
