/**
 * Fuzz suite: seeded mutations of corpus models (mutate.ts over protoWire.ts) run in-process through the
 * core (exercise.ts): indexModel, tensorValues + computeStats for every tensor (with invariants: histogram
 * counts sum to the finite count, min ≤ mean ≤ max …), summarizeModel, the writer's no-edit plan (which must
 * reproduce the input byte for byte) and an external-data/inline round trip. Each case must end in a
 * result or a FormatError/ModelError with a message, within PER_CASE_LIMIT_MS; any other exception
 * (TypeError, RangeError, stack overflow …) or a broken invariant ("BUG: …") is a bug.
 *
 * Cases run in a worker thread (this same file), watched by the main thread: a case that does not answer
 * within HANG_MS is a hang; the worker is terminated and restarted after it.
 *
 * Also: hand-made cases (If nesting 200 deep, 10,000 nested length-delimited fields, huge and negative
 * dims) and external-data locations on a real file system (absolute, "..", symlinks out of the folder,
 * a folder, a FIFO, /dev/zero), which must be refused through the runtime's openModel.
 *
 * Env: FUZZ_CASES (default 2000), FUZZ_SEED (default 20240601 so CI is reproducible; "random" picks one and
 * prints it), FUZZ_LIMIT_MS (default 5000), FUZZ_VERBOSE=1 (print which errors the cases ended in),
 * FUZZ_DUMP_DIR (write the input of every failing case there as case-N.onnx, for a repro with the CLI).
 * Run: node esbuild.js && node --test dist/test/fuzz/
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { computeStats } from '../../src/core/stats/computeStats';
import { tensorValues } from '../../src/core/tensor/tensorValues';
import type { ExternalDataResolver } from '../../src/core/io/byteSource';
import { openModel } from '../../src/runtime/openModel';
import { classify, exercise, memoryResolver } from './exercise';
import { Rng, caseSeed, mutate } from './mutate';
import {
  deepKnownNesting,
  deepUnknownNesting,
  fBytes,
  fMsg,
  fVarint,
  modelAround,
  nestedIfModel,
  serialize,
  tensorFields,
} from './protoWire';
import { TEST_MODELS } from '../testModels';

const CASES = Number(process.env.FUZZ_CASES ?? 2000);
const PER_CASE_LIMIT_MS = Number(process.env.FUZZ_LIMIT_MS ?? 5000);
const HANG_MS = Math.max(20_000, PER_CASE_LIMIT_MS * 4);
const DEFAULT_SEED = 20240601;

/** The outcome of one case. */
interface CaseResult {
  index: number;
  /** 'result': indexed and every tensor read; 'error': a clear FormatError/ModelError; 'bug': anything else. */
  kind: 'result' | 'error' | 'bug';
  ms: number;
  seedModel: string;
  desc: string;
  error?: string;
}

// ---------------------------------------------------------------------------------------------------
// Seeds (the corpus) and the in-memory external data they may refer to

interface Seed {
  name: string;
  bytes: Uint8Array;
}

const LIBONNX_TESTDATA = process.env.LIBONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data';
const EXT_MODEL = 'tiny_bert_random_extdata.onnx';

function listOnnx(dir: string, keep: (n: string) => boolean): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map(String)
    .filter(keep)
    .map((f) => path.join(dir, f))
    .sort();
}

/** Small hand-made seeds that reach the sparse / Constant / function / typed paths the corpus lacks. */
function syntheticSeeds(): Seed[] {
  const f32 = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);
  const typedGraph = [
    fBytes(2, 'typed'),
    fMsg(5, 'Tensor', [
      fVarint(1, 3),
      fVarint(2, 10),
      fBytes(8, 'h'),
      { num: 5, wire: 2, raw: new Uint8Array([0x80, 0x78, 0x00, 0xff, 0xf7, 0x01]) },
    ]),
    fMsg(5, 'Tensor', [
      fVarint(1, 2),
      fVarint(2, 7),
      fBytes(8, 'i64'),
      {
        num: 7,
        wire: 2,
        raw: new Uint8Array([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
      },
    ]),
    fMsg(5, 'Tensor', [
      fVarint(1, 3),
      fVarint(2, 22),
      fBytes(8, 'i4'),
      fBytes(9, new Uint8Array([0x8f, 0x07])),
    ]),
    fMsg(5, 'Tensor', [
      fVarint(1, 2),
      fVarint(2, 11),
      fBytes(8, 'f64'),
      fBytes(10, new Uint8Array(new Float64Array([1.5, -2]).buffer)),
    ]),
    fMsg(15, 'Sparse', [
      fMsg(1, 'Tensor', [fVarint(1, 2), fVarint(2, 1), fBytes(8, 'sp'), fBytes(9, f32([3, -4]))]),
      fMsg(2, 'Tensor', [
        fVarint(1, 2),
        fVarint(2, 7),
        fBytes(8, 'sp_i'),
        fBytes(9, new Uint8Array(new BigInt64Array([1n, 5n]).buffer)),
      ]),
      fVarint(3, 2),
      fVarint(3, 3),
    ]),
    fMsg(1, 'Node', [
      fBytes(2, 'c'),
      fBytes(4, 'Constant'),
      fMsg(5, 'Attribute', [fBytes(1, 'value_floats'), fVarint(20, 6), fBytes(7, f32([1, 2, 3]))]),
    ]),
    fMsg(1, 'Node', [
      fBytes(2, 'k'),
      fBytes(4, 'Constant'),
      fMsg(5, 'Attribute', [
        fBytes(1, 'value'),
        fVarint(20, 4),
        fMsg(5, 'Tensor', tensorFields('kv', [2], [5, 6])),
      ]),
    ]),
    fMsg(1, 'Node', [fBytes(1, 'c'), fBytes(1, 'k'), fBytes(2, 'y'), fBytes(4, 'MatMul')]),
  ];
  const fn = fMsg(25, 'Function', [
    fBytes(1, 'F'),
    fBytes(10, 'my.domain'),
    fMsg(7, 'Node', [
      fBytes(2, 'fk'),
      fBytes(4, 'Constant'),
      fMsg(5, 'Attribute', [
        fBytes(1, 'value_ints'),
        fVarint(20, 7),
        { num: 8, wire: 2, raw: new Uint8Array([1, 2, 3]) },
      ]),
    ]),
  ]);
  return [
    { name: 'synthetic:typed+sparse+constants', bytes: serialize([...modelAround(typedGraph), fn]) },
    { name: 'synthetic:if-nest-5', bytes: nestedIfModel(5) },
  ];
}

function loadSeeds(): { seeds: Seed[]; external: Map<string, Uint8Array> } {
  const shared = listOnnx(TEST_MODELS, (f) => f.endsWith('.onnx'));
  // A spread of libonnx-testdata: every model with a subgraph or a Constant, plus every 25th other one.
  const lib = listOnnx(LIBONNX_TESTDATA, (f) => f.endsWith('model.onnx')).filter(
    (f, i) => /loop|if|scan|constant|sequence|pytorch/i.test(f) || i % 25 === 0,
  );
  const seeds: Seed[] = [...shared, ...lib].map((p) => ({
    name: p,
    bytes: new Uint8Array(fs.readFileSync(p)),
  }));
  seeds.push(...syntheticSeeds());
  const external = new Map<string, Uint8Array>();
  const ext = path.join(TEST_MODELS, `${EXT_MODEL}.data`);
  if (fs.existsSync(ext)) external.set(`${EXT_MODEL}.data`, new Uint8Array(fs.readFileSync(ext)));
  // What the mutator's "weights.bin" locations read: 8 KiB of float32 ramps.
  external.set('weights.bin', new Uint8Array(new Float32Array(2048).map((_, i) => i - 1024).buffer));
  return { seeds, external };
}

// ---------------------------------------------------------------------------------------------------
// One case

/** Hand-made cases first, then seeded mutations. */
function makeCase(
  index: number,
  seed: number,
  seeds: Seed[],
): { bytes: Uint8Array; seedModel: string; desc: string } {
  const special: (() => { bytes: Uint8Array; desc: string })[] = [
    () => ({ bytes: nestedIfModel(200), desc: 'If subgraphs nested 200 deep' }),
    () => ({ bytes: nestedIfModel(64), desc: 'If subgraphs nested 64 deep' }),
    () => ({ bytes: deepKnownNesting(10_000), desc: '10,000 nested graph/node/attribute messages' }),
    () => ({ bytes: deepUnknownNesting(10_000), desc: '10,000 nested unknown length-delimited fields' }),
    () => ({ bytes: new Uint8Array(0), desc: 'empty file' }),
    () => ({ bytes: new TextEncoder().encode('<html>not a model</html>'), desc: 'text' }),
    () => ({ bytes: new Uint8Array(1 << 16).fill(0xff), desc: '64 KiB of 0xff' }),
    () => ({ bytes: new Uint8Array(1 << 16), desc: '64 KiB of zeros' }),
    () => ({
      bytes: serialize(
        modelAround([
          fMsg(5, 'Tensor', [
            fVarint(1, 2 ** 40),
            fVarint(2, 1),
            fBytes(8, 'big'),
            fBytes(9, new Uint8Array(8)),
          ]),
        ]),
      ),
      desc: 'dims [2^40], 8 raw bytes',
    }),
    () => ({
      bytes: serialize(
        modelAround([
          fMsg(5, 'Tensor', [fVarint(1, -1), fVarint(2, 1), fBytes(8, 'neg'), fBytes(9, new Uint8Array(4))]),
        ]),
      ),
      desc: 'dims [-1]',
    }),
    () => ({
      bytes: serialize(
        modelAround([
          fMsg(5, 'Tensor', [
            fVarint(1, 2 ** 31),
            fVarint(1, 2 ** 31),
            fVarint(2, 1),
            fBytes(8, 'prod'),
            fBytes(9, new Uint8Array(4)),
          ]),
        ]),
      ),
      desc: 'dims [2^31, 2^31]',
    }),
    () => ({
      bytes: serialize(
        modelAround([
          fMsg(5, 'Tensor', [
            fVarint(1, 2 ** 40),
            fVarint(2, 1),
            fBytes(8, 'typed'),
            { num: 4, wire: 2, raw: new Uint8Array(8) },
          ]),
        ]),
      ),
      desc: 'dims [2^40] with 2 typed floats',
    }),
    () => ({
      bytes: serialize(
        modelAround([fMsg(5, 'Tensor', [fVarint(1, 2 ** 40), fVarint(2, 1), fBytes(8, 'empty')])]),
      ),
      desc: 'dims [2^40], no payload',
    }),
    () => ({
      bytes: emptySparseModel(4, 2 ** 14),
      desc: '4 sparse initializers [2^14, 2^14] with no values (a 300-byte file)',
    }),
  ];
  if (index < special.length) return { ...special[index](), seedModel: 'hand-made' };
  const rng = new Rng(caseSeed(seed, index));
  const s = rng.pick(seeds);
  const m = mutate(s.bytes, rng);
  return { bytes: m.bytes, seedModel: s.name, desc: m.desc };
}

/** A model of `n` sparse initializers of dims [side, side] and no non-zero values. */
function emptySparseModel(n: number, side: number): Uint8Array {
  const sparse = (i: number) =>
    fMsg(15, 'Sparse', [
      fMsg(1, 'Tensor', [fVarint(1, 0), fVarint(2, 1), fBytes(8, `sp${i}`), fBytes(9, new Uint8Array(0))]),
      fMsg(2, 'Tensor', [
        fVarint(1, 0),
        fVarint(2, 7),
        fBytes(8, `sp${i}_idx`),
        fBytes(9, new Uint8Array(0)),
      ]),
      fVarint(3, side),
      fVarint(3, side),
    ]);
  return serialize(modelAround([fBytes(2, 'g'), ...Array.from({ length: n }, (_, i) => sparse(i))]));
}

function runCase(index: number, seed: number, seeds: Seed[], resolve: ExternalDataResolver): CaseResult {
  const c = makeCase(index, seed, seeds);
  const started = performance.now();
  let kind: CaseResult['kind'] = 'result';
  let error: string | undefined;
  try {
    exercise(c.bytes, resolve);
  } catch (e) {
    ({ kind, error } = classify(e));
  }
  const ms = performance.now() - started;
  if (process.env.FUZZ_DUMP_DIR && (kind === 'bug' || ms > PER_CASE_LIMIT_MS)) {
    // Keep the failing input for a repro: node dist/cli.js inspect <dir>/case-N.onnx --json
    fs.mkdirSync(process.env.FUZZ_DUMP_DIR, { recursive: true });
    fs.writeFileSync(path.join(process.env.FUZZ_DUMP_DIR, `case-${index}.onnx`), c.bytes);
  }
  return { index, kind, ms, seedModel: c.seedModel, desc: c.desc, error };
}

// ---------------------------------------------------------------------------------------------------
// Worker side

interface WorkerJob {
  seed: number;
  from: number;
  to: number;
}

if (!isMainThread && (workerData as { fuzzWorker?: boolean })?.fuzzWorker) {
  const job = workerData as WorkerJob & { fuzzWorker: true };
  const { seeds, external } = loadSeeds();
  const resolve = memoryResolver(external);
  for (let i = job.from; i < job.to; i++) {
    parentPort?.postMessage({ type: 'start', index: i });
    parentPort?.postMessage({ type: 'done', result: runCase(i, job.seed, seeds, resolve) });
  }
  parentPort?.postMessage({ type: 'finished' });
}

// ---------------------------------------------------------------------------------------------------
// Main side

interface Summary {
  results: CaseResult[];
  hangs: { index: number; seedModel: string; desc: string }[];
  ms: number;
}

/** Runs cases [0, count) in a watched worker; a silent worker is terminated and the case recorded as a hang. */
async function runAll(seed: number, count: number): Promise<Summary> {
  const started = Date.now();
  const results: CaseResult[] = [];
  const hangs: Summary['hangs'] = [];
  let from = 0;
  while (from < count) {
    const stopAt = await new Promise<number>((resolve, reject) => {
      const worker = new Worker(__filename, { workerData: { fuzzWorker: true, seed, from, to: count } });
      let current = from;
      let lastSeen = Date.now();
      const timer = setInterval(() => {
        if (Date.now() - lastSeen > HANG_MS) {
          clearInterval(timer);
          void worker.terminate();
          resolve(current);
        }
      }, 250);
      worker.on('message', (m: { type: string; index?: number; result?: CaseResult }) => {
        lastSeen = Date.now();
        if (m.type === 'start') current = m.index as number;
        else if (m.type === 'done') results.push(m.result as CaseResult);
        else if (m.type === 'finished') {
          clearInterval(timer);
          void worker.terminate();
          resolve(-1);
        }
      });
      worker.on('error', (e) => {
        // An uncaught error inside the worker (e.g. a stack overflow that escaped) is a bug of case `current`.
        clearInterval(timer);
        results.push({
          index: current,
          kind: 'bug',
          ms: Date.now() - lastSeen,
          seedModel: '?',
          desc: 'worker died',
          error: String(e?.stack ?? e),
        });
        resolve(current);
      });
      worker.on('exit', (code) => {
        clearInterval(timer);
        if (code !== 0 && code !== 1) reject(new Error(`fuzz worker exited with code ${code}`));
      });
    });
    if (stopAt < 0) break;
    if (!results.some((r) => r.index === stopAt)) {
      // Rebuild the description of the hanging case here (deterministic), for the report.
      const { seeds } = loadSeeds();
      const c = makeCase(stopAt, seed, seeds);
      hangs.push({ index: stopAt, seedModel: c.seedModel, desc: c.desc });
    }
    from = stopAt + 1;
  }
  return { results, hangs, ms: Date.now() - started };
}

if (isMainThread) {
  // Tests are declared on the main thread only: the worker re-runs this file just for its cases.
  const seedEnv = process.env.FUZZ_SEED ?? String(DEFAULT_SEED);
  const seed = seedEnv === 'random' ? (Date.now() ^ (process.pid << 16)) >>> 0 : Number(seedEnv) >>> 0;

  describe('fuzz', () => {
    test(
      `${CASES} seeded cases end in a result or a clear error (seed ${seed})`,
      { timeout: 30 * 60_000 },
      async (t) => {
        assert.ok(CASES >= 1, 'FUZZ_CASES must be positive');
        const { seeds } = loadSeeds();
        assert.ok(seeds.length >= 20, `only ${seeds.length} seed models: is test/models there?`);
        const s = await runAll(seed, CASES);
        const bugs = s.results.filter((r) => r.kind === 'bug');
        const slow = s.results.filter((r) => r.ms > PER_CASE_LIMIT_MS);
        const ok = s.results.filter((r) => r.kind === 'result').length;
        const errors = s.results.filter((r) => r.kind === 'error').length;
        const slowest = s.results.reduce((a, r) => (r.ms > a.ms ? r : a), s.results[0]);
        const line =
          `fuzz: seed ${seed}, ${s.results.length + s.hangs.length} cases in ${(s.ms / 1000).toFixed(1)} s: ` +
          `${ok} results, ${errors} clear errors, ${bugs.length} bugs, ${s.hangs.length} hangs, ${slow.length} over ${PER_CASE_LIMIT_MS} ms; ` +
          `slowest case ${slowest?.index} ${slowest?.ms.toFixed(0)} ms (${short(slowest?.seedModel ?? '')} [${slowest?.desc}])`;
        console.log(line);
        t.diagnostic(line);
        if (process.env.FUZZ_VERBOSE) {
          // What the clear errors were (message heads with numbers folded): shows which checks the cases reach.
          const kinds = new Map<string, number>();
          for (const r of s.results) {
            const k =
              r.kind === 'result'
                ? 'result'
                : (r.error ?? '')
                    .split('\n')[0]
                    .replace(/\d+/g, 'N')
                    .replace(/"[^"]*"/g, '"…"')
                    .slice(0, 120);
            kinds.set(k, (kinds.get(k) ?? 0) + 1);
          }
          for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1]))
            console.log(`${String(n).padStart(6)}  ${k}`);
        }
        const problems = [
          ...bugs.map(
            (r) =>
              `case ${r.index} (FUZZ_SEED=${seed}) BUG on ${short(r.seedModel)} [${r.desc}]:\n    ${r.error?.split('\n').join('\n    ')}`,
          ),
          ...s.hangs.map(
            (h) =>
              `case ${h.index} (FUZZ_SEED=${seed}) HANG (> ${HANG_MS} ms) on ${short(h.seedModel)} [${h.desc}]`,
          ),
          ...slow.map(
            (r) =>
              `case ${r.index} (FUZZ_SEED=${seed}) SLOW ${r.ms.toFixed(0)} ms on ${short(r.seedModel)} [${r.desc}] -> ${r.kind} ${r.error ?? ''}`,
          ),
        ];
        const distinct = dedupe(problems);
        assert.equal(s.results.length + s.hangs.length, CASES, 'some cases did not report');
        if (distinct.length)
          assert.fail(
            `${distinct.length} failing case kinds (first of each shown):\n${distinct.slice(0, 30).join('\n')}`,
          );
      },
    );

    test('the hand-made cases are refused or read, never crash', () => {
      // Deterministic expectations for the special inputs, independent of the random seed.
      const { seeds, external } = loadSeeds();
      const resolve = memoryResolver(external);
      const expectError = [0, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12];
      for (const i of expectError) {
        const r = runCase(i, 0, seeds, resolve);
        assert.equal(
          r.kind,
          'error',
          `case "${r.desc}" should be a clear error, got ${r.kind}: ${r.error ?? 'a result'}`,
        );
      }
      const nest64 = runCase(1, 0, seeds, resolve);
      assert.notEqual(nest64.kind, 'bug', `If nested 64 deep: ${nest64.error}`);
    });

    test('external data: absolute, "..", links out of the folder, folders, FIFOs and devices are refused', () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-fuzz-ext-'));
      after(() => fs.rmSync(root, { recursive: true, force: true }));
      const dir = path.join(root, 'model');
      const outside = path.join(root, 'outside');
      fs.mkdirSync(dir);
      fs.mkdirSync(outside);
      const payload = new Uint8Array(new Float32Array(16).map((_, i) => i).buffer);
      fs.writeFileSync(path.join(dir, 'weights.bin'), payload);
      fs.writeFileSync(path.join(outside, 'secret.bin'), payload);
      fs.mkdirSync(path.join(dir, 'adir'));
      fs.mkdirSync(path.join(dir, 'sub'));
      fs.writeFileSync(path.join(dir, 'sub', 'w.bin'), payload);
      fs.symlinkSync(path.join(outside, 'secret.bin'), path.join(dir, 'link-out.bin'));
      fs.symlinkSync('weights.bin', path.join(dir, 'link-in.bin'));
      fs.symlinkSync(outside, path.join(dir, 'linkdir'));
      fs.symlinkSync('/dev/zero', path.join(dir, 'devzero'));
      fs.symlinkSync(path.join(root, 'model', 'loop-a'), path.join(dir, 'loop-b'));
      fs.symlinkSync(path.join(root, 'model', 'loop-b'), path.join(dir, 'loop-a'));
      let fifo = false;
      try {
        execFileSync('mkfifo', [path.join(dir, 'fifo')]);
        fifo = true;
      } catch {
        // no mkfifo: that case is skipped (listed below)
      }
      const cases: { location: string; ok: boolean }[] = [
        { location: 'weights.bin', ok: true },
        { location: 'link-in.bin', ok: true },
        { location: 'sub/w.bin', ok: true },
        { location: 'link-out.bin', ok: false },
        { location: 'linkdir/secret.bin', ok: false },
        { location: path.join(outside, 'secret.bin'), ok: false },
        { location: path.join(dir, 'weights.bin'), ok: false },
        { location: '../outside/secret.bin', ok: false },
        { location: 'sub/../../outside/secret.bin', ok: false },
        { location: 'adir', ok: false },
        { location: 'devzero', ok: false },
        { location: '/dev/zero', ok: false },
        { location: 'missing.bin', ok: false },
        { location: 'loop-a', ok: false },
        { location: '', ok: false },
        ...(fifo ? [{ location: 'fifo', ok: false }] : []),
      ];
      const problems: string[] = [];
      cases.forEach((c, i) => {
        const file = path.join(dir, `m${i}.onnx`);
        const tensor = [
          fVarint(1, 16),
          fVarint(2, 1),
          fBytes(8, 'w'),
          fMsg(13, 'KV', [fBytes(1, 'location'), fBytes(2, c.location)]),
          fMsg(13, 'KV', [fBytes(1, 'offset'), fBytes(2, '0')]),
          fMsg(13, 'KV', [fBytes(1, 'length'), fBytes(2, '64')]),
          fVarint(14, 1),
        ];
        fs.writeFileSync(file, serialize(modelAround([fBytes(2, 'g'), fMsg(5, 'Tensor', tensor)])));
        const started = Date.now();
        let outcome: string;
        try {
          const m = openModel(file);
          try {
            for (const t of m.index.tensors) computeStats(tensorValues(t, m.source, m.resolveExternal));
          } finally {
            m.close();
          }
          outcome = 'ok';
        } catch (e) {
          const { kind, error } = classify(e);
          outcome = kind === 'bug' ? `BUG ${error}` : `refused (${error})`;
        }
        if (Date.now() - started > PER_CASE_LIMIT_MS)
          problems.push(`${c.location}: took ${Date.now() - started} ms`);
        if (outcome.startsWith('BUG') || (outcome === 'ok') !== c.ok) {
          problems.push(
            `location ${JSON.stringify(c.location)}: expected ${c.ok ? 'ok' : 'a refusal'}, got ${outcome}`,
          );
        }
      });
      if (!fifo) console.log('fuzz: mkfifo unavailable, the FIFO location case did not run');
      if (problems.length) assert.fail(problems.join('\n'));
    });
  });
}

function short(p: string): string {
  return p.startsWith(TEST_MODELS)
    ? path.relative(TEST_MODELS, p)
    : p.startsWith(LIBONNX_TESTDATA)
      ? `libonnx:${path.relative(LIBONNX_TESTDATA, p)}`
      : p;
}

/** One line per distinct failure (same error message head and kind), so a common bug is not listed 300 times. */
function dedupe(problems: string[]): string[] {
  const seen = new Map<string, string>();
  const counts = new Map<string, number>();
  for (const p of problems) {
    const key = p
      .replace(/^case \d+ \(FUZZ_SEED=\d+\) /, '')
      .replace(/ on \S+ \[.*?\]/, '')
      .replace(/\d+/g, 'N')
      .slice(0, 160);
    if (!seen.has(key)) seen.set(key, p);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...seen.entries()].map(([k, p]) => `${p}\n    (${counts.get(k)} case(s) like this)`);
}
