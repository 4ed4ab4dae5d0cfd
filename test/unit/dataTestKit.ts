// Shared helpers of the data tests: temp folders, the CLI, loadSamples on a model file.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type DataOptions, loadSamples, type SampleSet } from '../../src/runtime/data/loadSamples';
import { defaultSynthesizer } from '../../src/runtime/data/sampleFeeds';
import { openModel } from '../../src/runtime/openModel';
import { REPO_ROOT } from '../testModels';
import { loadOrt } from '../../src/runtime/loadOrt';

export const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
export const LLAMA_TOKENIZER = path.join(
  REPO_ROOT,
  'node_modules',
  '@lenml',
  'tokenizer-llama2',
  'models',
  'tokenizer.json',
);

/** A fresh temp folder named big-shrink-NAME-…; remove it with `fs.rmSync` in t.after/finally. */
export function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `big-shrink-${name}-`));
}

/** Runs the CLI: exit status, stdout, stderr. */
export function cli(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs /usr/bin/python3 with a script (a file, or `-c` code) and returns stdout. */
export function python(args: string[]): string {
  return execFileSync('/usr/bin/python3', args, { maxBuffer: 64 << 20 }).toString();
}

/** True when a command is on the PATH (Debian tools the tests use: espeak-ng, sox). */
export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** loadSamples on a model file with the default synthesizer. */
export async function samplesOf(model: string, options: DataOptions): Promise<SampleSet> {
  const ort = loadOrt();
  const opened = openModel(model);
  try {
    return await loadSamples(model, opened.index, {
      synthesize: defaultSynthesizer(ort, opened.index, { dims: options.dims }),
      ...options,
    });
  } finally {
    opened.close();
  }
}

/** Reads a float32 .npy that numpy wrote (little-endian, C order). */
export function readFloat32Npy(file: string): Float32Array {
  const bytes = fs.readFileSync(file);
  const headerLength = bytes.readUInt16LE(8);
  const start = 10 + headerLength;
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length));
}

/** Largest absolute difference of two arrays of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
