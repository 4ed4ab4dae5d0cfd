import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXTRA_MODELS, REPO_ROOT, TEST_MODELS } from '../testModels';

export { REPO_ROOT };
/** Debian's python3 with onnx + numpy (the `python3` on PATH may lack them). */
export const PYTHON = process.env.BIG_SHRINK_PYTHON ?? '/usr/bin/python3';
/** The project's own test models (test/models, committed). */
export const TEST_MODEL_DIR = TEST_MODELS;
/** Debian package libonnx-testdata (ONNX 1.12 backend test models). */
export const LIBONNX_TESTDATA = process.env.LIBONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data';
/** How many model.onnx files libonnx-testdata 1.12.0-2 installs. */
export const LIBONNX_MODEL_COUNT = 1072;

/** Corpus roots and the prefix their models get in messages (and in EXPECTED_FAILURES). */
const roots: [string, string][] = [
  [TEST_MODELS, ''],
  ...(EXTRA_MODELS ? [[EXTRA_MODELS, 'extra/'] as [string, string]] : []),
  [LIBONNX_TESTDATA, ''],
];

/** Every file below `dir` whose name satisfies `keep`, sorted (symlinks are not followed). */
export function findFiles(dir: string, keep: (name: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && keep(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

export interface CorpusGroup {
  name: string;
  models: string[];
}

/** The project's test models (recursive: incl. onnx-backend and the external-data model). */
export function testModels(): string[] {
  return findFiles(TEST_MODELS, (n) => n.endsWith('.onnx'));
}

/** The extra corpus `$BIG_SHRINK_SHARED/models` (recursive), or none when that variable is not set. */
export function extraModels(): string[] {
  return EXTRA_MODELS ? findFiles(EXTRA_MODELS, (n) => n.endsWith('.onnx')) : [];
}

/** libonnx-testdata grouped by its top-level folder (node, pytorch-converted, pytorch-operator, simple). */
export function libonnxGroups(): CorpusGroup[] {
  if (!fs.existsSync(LIBONNX_TESTDATA)) return [];
  return fs
    .readdirSync(LIBONNX_TESTDATA, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => ({
      name: `libonnx-testdata/${e.name}`,
      models: findFiles(path.join(LIBONNX_TESTDATA, e.name), (n) => n === 'model.onnx'),
    }))
    .filter((g) => g.models.length > 0)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Writes the hand-made edge-case models (test/corpus/make_synthetic.py) into a fresh temp folder. */
export function makeSyntheticModels(): { dir: string; models: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-synthetic-'));
  const script = path.join(REPO_ROOT, 'test', 'corpus', 'make_synthetic.py');
  const r = spawnSync(PYTHON, [script, dir], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`make_synthetic.py failed (${r.status}): ${r.error?.message ?? ''}${r.stderr}`);
  roots.push([dir, 'synthetic/']);
  return { dir, models: findFiles(dir, (n) => n.endsWith('.onnx')) };
}

/** One tensor as the oracle (test/oracle/stats_oracle.py) sees it; stats are null for string/complex. */
export interface OracleTensor {
  name: string;
  graph: string;
  where: string;
  dtype: string;
  dims: number[];
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  zeros: number | null;
  nan: number | null;
  inf: number | null;
  absMax: number | null;
  /** numpy.histogram of the finite values with ORACLE_BINS bins (outer edges and counts); null without any. */
  histogram: { min: number; max: number; counts: number[] } | null;
}

/** The histogram bins the oracle uses: `big-shrink inspect`'s default, which the corpus suite compares with. */
export const ORACLE_BINS = 64;

export type OracleResult = { path: string; tensors: OracleTensor[] } | { path: string; error: string };

/** Runs the oracle once over many models (one python process: startup is paid once). */
export function runOracle(models: string[]): Map<string, OracleResult> {
  const script = path.join(REPO_ROOT, 'test', 'oracle', 'stats_oracle.py');
  const r = spawnSync(PYTHON, [script, '--bins', String(ORACLE_BINS), '--stdin'], {
    input: models.join('\n') + '\n',
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0)
    throw new Error(`stats_oracle.py failed (${r.status}): ${r.error?.message ?? ''}${r.stderr}`);
  const out = new Map<string, OracleResult>();
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const result = JSON.parse(line) as OracleResult;
    out.set(result.path, result);
  }
  for (const m of models) if (!out.has(m)) throw new Error(`the oracle printed nothing for ${m}`);
  return out;
}

/** A path relative to the corpus root it came from ("synthetic/…" for make_synthetic.py's models). */
export function shortPath(p: string): string {
  for (const [root, prefix] of roots) {
    if (p.startsWith(root + path.sep)) return prefix + path.relative(root, p);
  }
  return p;
}
