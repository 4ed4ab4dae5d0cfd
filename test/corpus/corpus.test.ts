/**
 * Corpus suite: every model of test/models (recursive), every model.onnx of Debian's libonnx-testdata,
 * the hand-made edge cases of make_synthetic.py and, when BIG_SHRINK_SHARED is set, the extra corpus
 * $BIG_SHRINK_SHARED/models.
 *
 * For each model, in-process (openModel + tensorValues + computeStats + planWrite, the CLI's building
 * blocks without worker threads, so 1,100 models take seconds instead of 1,100 process start-ups):
 *   - the index and the statistics of every tensor succeed (or fail as listed in EXPECTED_FAILURES);
 *   - the set of tensors and per-tensor dtype/dims/count/min/max/mean/std/zeros/nan/inf agree with the
 *     independent oracle test/oracle/stats_oracle.py (python3-onnx + numpy, one process for all models);
 *   - the no-edit rewrite plan is byte-identical to the file (sha256);
 *   - a rewrite that edits, every movable tensor to external data and back (roundTrip.ts), gives the
 *     model's own bytes, or where they legitimately differ the same tensors (bytes) and nodes.
 * Through the real CLI (dist/cli.js), for the test and synthetic models: `inspect --json` agrees with
 * the oracle and `rewrite` (no options) writes byte-identical files; broken inputs exit 1 with a message
 * that names the file and shows no stack trace.
 *
 * Run: node esbuild.js && node --test dist/test/corpus/
 * Env: BIG_SHRINK_SHARED adds an extra corpus; LIBONNX_TESTDATA, BIG_SHRINK_PYTHON override the default
 * locations (/usr/share/libonnx-testdata/data, /usr/bin/python3).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { compareModel, type OurTensor } from './compareStats';
import {
  type CorpusGroup,
  LIBONNX_MODEL_COUNT,
  LIBONNX_TESTDATA,
  type OracleResult,
  REPO_ROOT,
  TEST_MODEL_DIR,
  libonnxGroups,
  makeSyntheticModels,
  runOracle,
  testModels,
  extraModels,
  shortPath,
} from './corpusModels';
import { inspectInProcess } from './inProcess';
import { externalRoundTrip, reencodeRoundTrip, type RoundTrip } from './roundTrip';

/**
 * Models our engine is expected to refuse, with the reason. `model` is the path relative to its corpus
 * root; `error` must match the message. A listed model that starts to pass fails the suite (remove it).
 */
const EXPECTED_FAILURES: { model: string; error: RegExp; why: string }[] = [];

/** Models the oracle cannot read (none today): listed the same way. */
const ORACLE_EXPECTED_ERRORS: { model: string; why: string }[] = [];

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const MAX_LISTED = Number(process.env.CORPUS_MAX_LISTED ?? 40);

const synthetic = makeSyntheticModels();
after(() => fs.rmSync(synthetic.dir, { recursive: true, force: true }));

const groups: CorpusGroup[] = [
  { name: 'test/models', models: testModels() },
  ...(extraModels().length ? [{ name: 'extra (BIG_SHRINK_SHARED)', models: extraModels() }] : []),
  { name: 'synthetic', models: synthetic.models },
  ...libonnxGroups(),
];
const allModels = groups.flatMap((g) => g.models);

let oracleCache: Map<string, OracleResult> | undefined;
function oracle(): Map<string, OracleResult> {
  return (oracleCache ??= runOracle(allModels));
}

function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function expectedFailure(model: string) {
  return EXPECTED_FAILURES.find((e) => shortPath(model) === e.model);
}

function report(problems: string[], what: string): void {
  if (problems.length === 0) return;
  const shown = problems.slice(0, MAX_LISTED).join('\n  ');
  const more = problems.length > MAX_LISTED ? `\n  … and ${problems.length - MAX_LISTED} more` : '';
  assert.fail(`${problems.length} problem(s) in ${what}:\n  ${shown}${more}`);
}

/** Compares one model in-process; returns its problems, each prefixed with the model path. */
async function checkInProcess(model: string): Promise<string[]> {
  const name = shortPath(model);
  const expected = expectedFailure(model);
  const o = oracle().get(model);
  if (!o) return [`${name}: no oracle result`];
  if ('error' in o) {
    return ORACLE_EXPECTED_ERRORS.some((e) => e.model === name)
      ? []
      : [`${name}: the oracle cannot read it: ${o.error}`];
  }
  let result;
  try {
    result = await inspectInProcess(model);
  } catch (e) {
    const err = e as Error;
    const clear = (err.name === 'ModelError' || err.name === 'FormatError') && err.message.length > 0;
    if (expected && clear && expected.error.test(err.message)) return [];
    return [
      `${name}: ${clear ? '' : 'UNEXPECTED EXCEPTION '}${err.name}: ${err.message}${clear ? '' : `\n${err.stack}`}`,
    ];
  }
  if (expected) return [`${name}: listed in EXPECTED_FAILURES (${expected.why}) but it passes: remove it`];
  const problems = compareModel(result.tensors, o.tensors);
  const fileSha = sha256File(model);
  if (result.rewriteSha256 !== fileSha) {
    problems.push(
      `no-edit rewrite differs: ${result.rewriteBytes} bytes, sha256 ${result.rewriteSha256.slice(0, 12)}…, file ${fs.statSync(model).size} bytes, ${fileSha.slice(0, 12)}…`,
    );
  }
  return problems.map((p) => `${name}: ${p}`);
}

describe('corpus', () => {
  test('the corpus is all there', () => {
    const models = testModels();
    assert.ok(models.length >= 25, `expected at least 25 test models, found ${models.length}`);
    assert.ok(
      models.some((m) => m.endsWith('tiny_bert_random_extdata.onnx')),
      'the external-data model is missing',
    );
    assert.ok(
      models.some((m) => m.includes(`${path.sep}onnx-backend${path.sep}`)),
      'onnx-backend models are missing',
    );
    const lib = libonnxGroups().reduce((n, g) => n + g.models.length, 0);
    assert.equal(
      lib,
      LIBONNX_MODEL_COUNT,
      `libonnx-testdata at ${LIBONNX_TESTDATA}: install it with apt-get install libonnx-testdata`,
    );
    assert.ok(synthetic.models.length >= 8, `make_synthetic.py wrote ${synthetic.models.length} models`);
  });

  test('the oracle reads every model', (t) => {
    const started = Date.now();
    const results = oracle();
    t.diagnostic(`oracle: ${results.size} models in ${Date.now() - started} ms (one python process)`);
    const problems: string[] = [];
    for (const [model, r] of results) {
      const listed = ORACLE_EXPECTED_ERRORS.some((e) => e.model === shortPath(model));
      if ('error' in r && !listed) problems.push(`${shortPath(model)}: ${r.error}`);
      if (!('error' in r) && listed)
        problems.push(`${shortPath(model)}: listed in ORACLE_EXPECTED_ERRORS but readable`);
    }
    report(problems, 'the oracle run');
  });

  for (const group of groups) {
    test(`${group.name} (${group.models.length} models): index + stats agree with the oracle; no-edit rewrite is identical`, async (t) => {
      assert.ok(group.models.length > 0, `no models in ${group.name}`);
      const started = Date.now();
      const problems: string[] = [];
      for (const m of group.models) problems.push(...(await checkInProcess(m)));
      const tensors = group.models.reduce((n, m) => {
        const r = oracle().get(m);
        return n + (r && 'tensors' in r ? r.tensors.length : 0);
      }, 0);
      t.diagnostic(`${group.models.length} models, ${tensors} tensors in ${Date.now() - started} ms`);
      report(problems, group.name);
    });
  }

  /** Runs a round trip on every model: diagnostics and problems. */
  function roundTrips(t: { diagnostic(m: string): void }, what: string, trip: (m: string) => RoundTrip) {
    const started = Date.now();
    const problems: string[] = [];
    let models = 0;
    let edited = 0;
    let tensors = 0;
    const differing: string[] = [];
    for (const m of allModels) {
      if (expectedFailure(m)) continue;
      let r: RoundTrip;
      try {
        r = trip(m);
      } catch (e) {
        problems.push(`${shortPath(m)}: ${(e as Error).name}: ${(e as Error).message}`);
        continue;
      }
      models++;
      if (r.moved > 0) edited++;
      tensors += r.moved;
      if (!r.identical) differing.push(shortPath(m));
      problems.push(...r.problems.map((p) => `${shortPath(m)}: ${p}`));
    }
    t.diagnostic(
      `${models} models, ${edited} edited (${tensors} tensors), ${models - differing.length} byte-identical after the round trip, in ${Date.now() - started} ms`,
    );
    if (differing.length)
      t.diagnostic(
        `not byte-identical (same tensors and nodes): ${differing.slice(0, 10).join(', ')}${differing.length > 10 ? ', …' : ''}`,
      );
    report(problems, what);
    return { models, edited };
  }

  test('every model: tensors moved to external data and back give the same model', (t) => {
    const { edited } = roundTrips(t, 'the external-data round trip', externalRoundTrip);
    // The edit is real: every model with a weight the writer moves (shape tables stay inline).
    assert.ok(edited >= 100, `only ${edited} models had a tensor to move`);
  });

  test('every model: each tensor re-encoded as it is gives the same model', (t) => {
    const { edited } = roundTrips(t, 'the re-encode round trip', reencodeRoundTrip);
    // Every model the oracle finds a non-string tensor in had one re-encoded (most ONNX backend node tests
    // have none at all: their data are graph inputs).
    const withTensors = allModels.filter((m) => {
      const o = oracle().get(m);
      return !expectedFailure(m) && o && 'tensors' in o && o.tensors.some((x) => x.dtype !== 'string');
    }).length;
    assert.ok(edited >= withTensors, `${edited} models re-encoded, ${withTensors} have a tensor`);
  });

  test('std keeps its digits when |mean| >> std (no one-pass cancellation)', async () => {
    const model = synthetic.models.find((m) => m.endsWith('shapes.onnx'));
    assert.ok(model);
    const o = oracle().get(model);
    assert.ok(o && 'tensors' in o);
    const want = o.tensors.find((t) => t.name === 'offset');
    const got = (await inspectInProcess(model)).tensors.find((t) => t.name === 'offset');
    assert.ok(want && got?.stats, 'tensor "offset" missing');
    const rel = Math.abs((got.stats.std as number) - (want.std as number)) / (want.std as number);
    assert.ok(rel <= 1e-6, `std ${got.stats.std} vs oracle ${want.std}: relative error ${rel}`);
  });
});

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function cli(args: string[], timeoutMs = 60_000): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { maxBuffer: 1 << 28, timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

/** Runs `jobs` with at most `width` at a time (the machine has 2 cores). */
async function pool<T>(items: T[], width: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await job(items[next++]);
  });
  await Promise.all(lanes);
}

const STACK_LINE = /^\s+at .+\(?.*:\d+:\d+\)?$/m;

describe('cli (dist/cli.js) on the test and synthetic models', () => {
  const models = [...testModels(), ...synthetic.models];
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-corpus-cli-'));
  after(() => fs.rmSync(scratch, { recursive: true, force: true }));

  test('the CLI is built', () => {
    assert.ok(fs.existsSync(CLI), `${CLI} is missing: run node esbuild.js`);
  });

  test(`inspect --json agrees with the oracle (${models.length} models)`, async (t) => {
    const problems: string[] = [];
    let slowest = 0;
    await pool(models, 2, async (model) => {
      const name = shortPath(model);
      const r = await cli(['inspect', model, '--json']);
      slowest = Math.max(slowest, r.ms);
      const expected = expectedFailure(model);
      if (r.code !== 0) {
        if (!(expected && r.code === 1 && expected.error.test(r.stderr)))
          problems.push(`${name}: exit ${r.code}: ${r.stderr.trim()}`);
        return;
      }
      if (expected) problems.push(`${name}: listed in EXPECTED_FAILURES but inspect succeeds`);
      let json: {
        file: { path: string; bytes: number; externalFiles: { path: string; bytes: number }[] };
        model: Record<string, unknown>;
        tensors: OurTensor[];
      };
      try {
        json = JSON.parse(r.stdout);
      } catch (e) {
        problems.push(`${name}: stdout is not JSON (${(e as Error).message}): ${r.stdout.slice(0, 200)}`);
        return;
      }
      if (json.file?.bytes !== fs.statSync(model).size)
        problems.push(`${name}: file.bytes ${json.file?.bytes}, actual ${fs.statSync(model).size}`);
      for (const ext of json.file?.externalFiles ?? []) {
        const abs = path.resolve(ext.path);
        if (!fs.existsSync(abs) || fs.statSync(abs).size !== ext.bytes)
          problems.push(
            `${name}: externalFiles entry ${ext.path} (${ext.bytes} bytes) does not match the disk`,
          );
      }
      for (const k of [
        'irVersion',
        'producerName',
        'opsets',
        'inputs',
        'outputs',
        'nodeCount',
        'ops',
        'parameters',
        'weightBytes',
      ]) {
        if (!(k in (json.model ?? {}))) problems.push(`${name}: model.${k} missing`);
      }
      const o = oracle().get(model);
      if (o && 'tensors' in o)
        problems.push(...compareModel(json.tensors, o.tensors).map((p) => `${name}: ${p}`));
    });
    t.diagnostic(`slowest inspect: ${slowest} ms`);
    report(problems, 'inspect --json');
  });

  test(`rewrite with no options writes byte-identical files (${models.length} models)`, async () => {
    const problems: string[] = [];
    let n = 0;
    await pool(models, 2, async (model) => {
      const name = shortPath(model);
      const dir = path.join(scratch, `rw${n++}`);
      fs.mkdirSync(dir);
      const out = path.join(dir, path.basename(model));
      const r = await cli(['rewrite', model, '-o', out]);
      const expected = expectedFailure(model);
      if (r.code !== 0) {
        if (!(expected && r.code === 1)) problems.push(`${name}: exit ${r.code}: ${r.stderr.trim()}`);
        return;
      }
      if (sha256File(out) !== sha256File(model))
        problems.push(
          `${name}: the rewritten model differs (${fs.statSync(out).size} vs ${fs.statSync(model).size} bytes)`,
        );
      // External data the model refers to must be beside the copy, identical.
      for (const f of fs.readdirSync(path.dirname(model))) {
        const original = path.join(path.dirname(model), f);
        if (
          !f.startsWith(path.basename(model)) ||
          f === path.basename(model) ||
          !fs.statSync(original).isFile()
        )
          continue;
        const copy = path.join(dir, f);
        if (!fs.existsSync(copy))
          problems.push(`${name}: external file ${f} was not written beside the output`);
        else if (sha256File(copy) !== sha256File(original))
          problems.push(`${name}: external file ${f} differs`);
      }
      const leftovers = fs.readdirSync(dir).filter((f) => f.includes('.tmp'));
      if (leftovers.length) problems.push(`${name}: temporary files left: ${leftovers.join(', ')}`);
    });
    report(problems, 'rewrite');
  });

  test('inspect --bins N gives N-bin histograms', async () => {
    const model = path.join(TEST_MODEL_DIR, 'tiny_bert_random_extdata.onnx');
    const r = await cli(['inspect', model, '--json', '--bins', '7']);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { tensors: OurTensor[] };
    const withStats = json.tensors.filter((t) => t.stats);
    assert.ok(withStats.length > 0);
    for (const t of withStats)
      assert.equal(
        t.stats?.histogram?.counts.length,
        7,
        `${t.name}: ${t.stats?.histogram?.counts.length} bins`,
      );
  });

  test('rewrite refuses to overwrite the input or an existing output without --force', async () => {
    const src = testModels().find((m) => m.endsWith('openwakeword_hello_deepa.onnx')) ?? testModels()[0];
    const copy = path.join(scratch, 'input.onnx');
    fs.copyFileSync(src, copy);
    const before = sha256File(copy);
    const self = await cli(['rewrite', copy, '-o', copy, '--force']);
    assert.equal(self.code, 1, `rewrite onto its own input: exit ${self.code}`);
    assert.equal(sha256File(copy), before, 'the input changed');
    const out = path.join(scratch, 'existing.onnx');
    fs.writeFileSync(out, 'keep me');
    const again = await cli(['rewrite', copy, '-o', out]);
    assert.equal(again.code, 1, `rewrite onto an existing file without --force: exit ${again.code}`);
    assert.equal(fs.readFileSync(out, 'utf8'), 'keep me');
    const forced = await cli(['rewrite', copy, '-o', out, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(sha256File(out), before);
  });

  test('broken inputs: exit 1, the file named, no stack trace; bad usage: exit 2', async () => {
    const bert = fs.readFileSync(path.join(TEST_MODEL_DIR, 'tiny_bert_random_inline.onnx'));
    const cases: { name: string; make: (dir: string) => string; args?: string[]; code: number }[] = [
      { name: 'text file', make: (d) => write(d, 'notes.onnx', 'this is not a model\n'), code: 1 },
      { name: 'empty file', make: (d) => write(d, 'empty.onnx', ''), code: 1 },
      {
        name: 'truncated model',
        make: (d) => write(d, 'trunc.onnx', bert.subarray(0, Math.floor(bert.length / 2))),
        code: 1,
      },
      { name: 'missing file', make: (d) => path.join(d, 'nope.onnx'), code: 1 },
      { name: 'a folder', make: (d) => d, code: 1 },
      {
        name: 'external data file missing',
        make: (d) => {
          fs.copyFileSync(
            path.join(TEST_MODEL_DIR, 'tiny_bert_random_extdata.onnx'),
            path.join(d, 'ext.onnx'),
          );
          return path.join(d, 'ext.onnx');
        },
        code: 1,
      },
      { name: 'unknown option', make: (d) => write(d, 'x.onnx', bert), args: ['--no-such-option'], code: 2 },
      { name: 'bad --bins', make: (d) => write(d, 'y.onnx', bert), args: ['--bins', 'many'], code: 2 },
    ];
    const problems: string[] = [];
    for (const c of cases) {
      const dir = fs.mkdtempSync(path.join(scratch, 'bad-'));
      const file = c.make(dir);
      const r = await cli(['inspect', file, '--json', ...(c.args ?? [])]);
      if (r.code !== c.code)
        problems.push(`${c.name}: exit ${r.code}, expected ${c.code}; stderr: ${r.stderr.trim()}`);
      if (c.code === 1 && !r.stderr.includes(path.basename(file)))
        problems.push(`${c.name}: stderr does not name the file: ${r.stderr.trim()}`);
      if (STACK_LINE.test(r.stderr)) problems.push(`${c.name}: stack trace on stderr: ${r.stderr.trim()}`);
      if (r.code !== 0 && r.stdout.trim().startsWith('{'))
        problems.push(`${c.name}: JSON on stdout despite the failure`);
    }
    report(problems, 'error handling');
  });
});

function write(dir: string, name: string, data: string | Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  return p;
}
