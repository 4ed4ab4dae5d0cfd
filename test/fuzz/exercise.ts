/**
 * What one fuzz case does with its input, in-process: index it, read and check the statistics of every
 * tensor, summarize it, plan the no-edit rewrite (which must reproduce the input byte for byte), and
 * round-trip every tensor through a new external data file and back inline (tensors and statistics must
 * survive). Throws what the core throws; a wrong result throws an Error whose message starts with "BUG:".
 */
import { FormatError, ModelError } from '../../src/core/errors';
import { type ByteSource, type ExternalDataResolver, MemoryByteSource } from '../../src/core/io/byteSource';
import { summarizeModel } from '../../src/core/inspect/summarizeModel';
import { indexModel } from '../../src/core/onnx/indexModel';
import type { ModelIndex } from '../../src/core/onnx/modelIndex';
import { computeStats } from '../../src/core/stats/computeStats';
import { canDecode } from '../../src/core/tensor/decodeRawElements';
import { tensorValues } from '../../src/core/tensor/tensorValues';
import type { Piece } from '../../src/core/write/pieces';
import { planWrite } from '../../src/core/write/planWrite';

/** Stand-in for the runtime's resolver over in-memory files (the real one is exercised by the file-system cases). */
export function memoryResolver(files: Map<string, Uint8Array>): ExternalDataResolver {
  const open = new Map<string, ByteSource>();
  return (location) => {
    const bytes = files.get(location);
    if (!bytes) throw new FormatError(`external data file "${location}" does not exist`);
    let s = open.get(location);
    if (!s) open.set(location, (s = new MemoryByteSource(bytes)));
    return s;
  };
}

/** Everything the CLI does with a model, in-process; throws what the core throws. */
export function exercise(bytes: Uint8Array, resolve: ExternalDataResolver): void {
  const source = new MemoryByteSource(bytes);
  const index = indexModel(source);
  const before = allStats(index, source, resolve);
  summarizeModel(index, { path: 'fuzz.onnx', bytes: bytes.length, externalFiles: [] });
  const plan = planWrite(index, source, []);
  const out = assemble(plan.model, source, resolve);
  if (!sameBytes(out, bytes))
    throw new Error(
      `BUG: the no-edit rewrite differs from the input (${out.length} vs ${bytes.length} bytes)`,
    );
  roundTrip(index, source, resolve, before);
}

type StatsRow = ReturnType<typeof computeStats> | undefined;

function allStats(
  index: ModelIndex,
  source: ByteSource,
  resolve: ExternalDataResolver,
  skipSparse = false,
): StatsRow[] {
  return index.tensors.map((t) => {
    if (!canDecode(t.dtype) || (skipSparse && t.sparse)) return undefined;
    const stats = computeStats(tensorValues(t, source, resolve), { bins: 16 });
    checkInvariants(stats, t.count, t.name);
    return stats;
  });
}

/** What must hold for any statistics of any tensor (a violation is a wrong result, not a clear error). */
function checkInvariants(s: ReturnType<typeof computeStats>, count: number, name: string): void {
  const bug = (what: string) => {
    throw new Error(`BUG: tensor "${name}": ${what}`);
  };
  if (s.count !== count) bug(`stats.count ${s.count} != element count ${count}`);
  const finite = s.count - s.nan - s.inf;
  if (s.nan < 0 || s.inf < 0 || finite < 0 || s.zeros < 0 || s.zeros > finite)
    bug(`counts nan ${s.nan} inf ${s.inf} zeros ${s.zeros} of ${s.count}`);
  const counts = s.histogram.counts;
  if (counts.some((c) => !Number.isInteger(c) || c < 0)) bug(`histogram counts [${counts}]`);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== finite) bug(`histogram holds ${total} values, ${finite} are finite`);
  if (finite > 0) {
    if (!(s.min <= s.max) || !(s.absMax >= 0)) bug(`min ${s.min} max ${s.max} absMax ${s.absMax}`);
    // The mean may round just outside [min, max] only by float64 summation error.
    const slack = 1e-9 * Math.max(Math.abs(s.min), Math.abs(s.max));
    if (!(s.mean >= s.min - slack && s.mean <= s.max + slack))
      bug(`mean ${s.mean} outside [${s.min}, ${s.max}]`);
    if (!(s.std >= 0) || !Number.isFinite(s.std)) bug(`std ${s.std}`);
  }
}

/**
 * Moves every tensor of >= 16 bytes to a new external data file, re-indexes the result, then brings
 * them back inline and re-indexes again: the tensors and their statistics must survive both trips.
 */
function roundTrip(
  index: ModelIndex,
  source: ByteSource,
  resolve: ExternalDataResolver,
  before: StatsRow[],
): void {
  const outPlan = planWrite(index, source, [], {
    externalData: { location: 'moved.bin', threshold: 16, alignment: 64 },
  });
  const moved = outPlan.external ? assemble(outPlan.external.pieces, source, resolve) : new Uint8Array(0);
  const src2 = new MemoryByteSource(assemble(outPlan.model, source, resolve));
  const movedSource = new MemoryByteSource(moved);
  const resolve2: ExternalDataResolver = (location) =>
    location === 'moved.bin' ? movedSource : resolve(location);
  const index2 = reindex(src2, 'after --external-data');
  // Sparse tensors are never moved: their statistics are not recomputed (a large one costs seconds).
  compareTrip(index, before, index2, allStats(index2, src2, resolve2, true), 'after --external-data');
  const inPlan = planWrite(index2, src2, [], { inline: true });
  const src3 = new MemoryByteSource(assemble(inPlan.model, src2, resolve2));
  const index3 = reindex(src3, 'after --inline');
  if (index3.externalLocations.includes('moved.bin'))
    throw new Error('BUG: --inline left tensors in moved.bin');
  compareTrip(index, before, index3, allStats(index3, src3, resolve, true), 'after --inline');
}

function reindex(source: ByteSource, when: string): ModelIndex {
  try {
    return indexModel(source);
  } catch (e) {
    throw new Error(`BUG: the writer's output does not index ${when}: ${(e as Error).message}`);
  }
}

function compareTrip(a: ModelIndex, sa: StatsRow[], b: ModelIndex, sb: StatsRow[], when: string): void {
  if (a.tensors.length !== b.tensors.length)
    throw new Error(`BUG: ${a.tensors.length} tensors before, ${b.tensors.length} ${when}`);
  a.tensors.forEach((t, i) => {
    const u = b.tensors[i];
    if (
      t.name !== u.name ||
      t.dtype !== u.dtype ||
      t.dims.join() !== u.dims.join() ||
      t.graph !== u.graph ||
      t.where !== u.where
    ) {
      throw new Error(
        `BUG: tensor ${i} "${t.name}" ${t.dtype} [${t.dims}] became "${u.name}" ${u.dtype} [${u.dims}] ${when}`,
      );
    }
    const x = sa[i];
    const y = sb[i];
    if (!x || !y) return;
    for (const k of ['count', 'min', 'max', 'mean', 'std', 'zeros', 'nan', 'inf'] as const) {
      if (!Object.is(x[k], y[k]) && !(x[k] === 0 && y[k] === 0))
        throw new Error(`BUG: tensor "${t.name}" ${k} ${x[k]} became ${y[k]} ${when}`);
    }
  });
}

export function assemble(pieces: Piece[], source: ByteSource, resolve: ExternalDataResolver): Uint8Array {
  const total = pieces.reduce((n, p) => n + (p.kind === 'bytes' ? p.bytes.length : p.length), 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of pieces) {
    const b =
      p.kind === 'bytes'
        ? p.bytes
        : (p.kind === 'source' ? source : resolve(p.location)).read(p.offset, p.length);
    out.set(b, o);
    o += b.length;
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Classifies what a case threw: a clear FormatError/ModelError, or a bug. */
export function classify(e: unknown): { kind: 'error' | 'bug'; error: string } {
  if ((e instanceof FormatError || e instanceof ModelError) && e.message.trim().length > 0) {
    return { kind: 'error', error: `${e.name}: ${e.message}` };
  }
  const err = e as Error;
  const stack = (err?.stack ?? String(e)).split('\n').slice(0, 6).join('\n');
  return { kind: 'bug', error: err instanceof Error ? stack : `non-Error thrown: ${String(e)}` };
}
