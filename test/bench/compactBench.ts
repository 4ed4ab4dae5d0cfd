// Compact benchmark, called by the bench runner (test/bench/bench.ts): a generated wide MLP (4 residual
// blocks 512 → 2048 → 512, biases, ReLU and GELU) compacted by `big-shrink compact --units 0.25`; file size
// and median onnxruntime-node latency before and after, with the fidelity cost — figures, not a test.
// Run alone: node dist/test/bench/compactBench.js
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { loadOrt } from '../../src/runtime/loadOrt';
import { absoluteRow, row } from './benchRows';

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'dist/cli.js');

const D = 512;
const H = 2048;
const BLOCKS = 4;
const TOKENS = 64;

/** A seeded normal generator (mulberry32 + Box–Muller): the model is the same on every run. */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
}

function tensor(name: string, dims: number[], values: Float32Array): onnx.ITensorProto {
  return { name, dims, dataType: 1, rawData: new Uint8Array(values.buffer) };
}

/**
 * x[1,64,512] → 4 × (x + down(act(up(x) + b_up)) + b_down) → y. Hidden units have a spread of strengths,
 * as trained MLPs do: a unit's up column and down row are both scaled by 0.05 + 0.95·z² (z standard
 * normal), so many units carry little of the output and a few carry much.
 */
export function wideMlp(): Uint8Array {
  const n = normals(15);
  const nodes: onnx.INodeProto[] = [];
  const initializer: onnx.ITensorProto[] = [];
  let x = 'x';
  for (let b = 0; b < BLOCKS; b++) {
    const strength = Float32Array.from({ length: H }, () => 0.05 + 0.95 * Math.abs(n()) ** 2);
    const up = new Float32Array(D * H);
    for (let i = 0; i < D; i++)
      for (let j = 0; j < H; j++) up[i * H + j] = (n() / Math.sqrt(D)) * strength[j];
    const down = new Float32Array(H * D);
    for (let j = 0; j < H; j++)
      for (let i = 0; i < D; i++) down[j * D + i] = (n() / Math.sqrt(H)) * strength[j];
    initializer.push(
      tensor(`up${b}`, [D, H], up),
      tensor(
        `up${b}_b`,
        [H],
        Float32Array.from({ length: H }, () => 0.02 * n()),
      ),
      tensor(`down${b}`, [H, D], down),
      tensor(
        `down${b}_b`,
        [D],
        Float32Array.from({ length: D }, () => 0.02 * n()),
      ),
    );
    const act = b % 2 === 0 ? 'Relu' : 'Gelu';
    nodes.push(
      { opType: 'MatMul', input: [x, `up${b}`], output: [`u${b}`], name: `up${b}_mm` },
      { opType: 'Add', input: [`u${b}`, `up${b}_b`], output: [`ub${b}`], name: `up${b}_add` },
      { opType: act, input: [`ub${b}`], output: [`a${b}`], name: `act${b}` },
      { opType: 'MatMul', input: [`a${b}`, `down${b}`], output: [`d${b}`], name: `down${b}_mm` },
      { opType: 'Add', input: [`d${b}`, `down${b}_b`], output: [`db${b}`], name: `down${b}_add` },
      { opType: 'Add', input: [x, `db${b}`], output: [b === BLOCKS - 1 ? 'y' : `h${b}`], name: `res${b}` },
    );
    x = `h${b}`;
  }
  const info = (name: string): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: [1, TOKENS, D].map((d) => ({ dimValue: d })) } } },
  });
  return onnx.ModelProto.encode({
    irVersion: 9,
    producerName: 'big-shrink bench',
    opsetImport: [{ version: 20 }],
    graph: { name: 'wide_mlp', node: nodes, initializer, input: [info('x')], output: [info('y')] },
  }).finish();
}

/** Median latency of each model over `runs` interleaved runs after a warm-up, one session per model. */
export async function medians(files: string[], runs: number): Promise<number[]> {
  const ort = loadOrt();
  const sessions = await Promise.all(
    files.map((f) => ort.InferenceSession.create(f, { executionProviders: ['cpu'], logSeverityLevel: 4 })),
  );
  const n = normals(3);
  const feeds = {
    x: new ort.Tensor('float32', Float32Array.from({ length: TOKENS * D }, n), [1, TOKENS, D]),
  };
  const times = files.map(() => [] as number[]);
  for (const s of sessions) for (let i = 0; i < 3; i++) await s.run(feeds);
  for (let r = 0; r < runs; r++)
    for (const [i, s] of sessions.entries()) {
      const t0 = performance.now();
      await s.run(feeds);
      times[i].push(performance.now() - t0);
    }
  await Promise.all(sessions.map((s) => s.release()));
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]);
}

/** `compact --units 0.25` on the wide MLP: file ≥ 20% smaller, median latency ≥ 15% lower, fidelity printed. */
export async function benchCompact(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'big-shrink-bench-compact-'));
  try {
    const model = path.join(dir, 'wide_mlp.onnx');
    fs.writeFileSync(model, wideMlp());
    const t0 = performance.now();
    let stdout: string;
    try {
      stdout = execFileSync('node', [cli, 'compact', model, '--units', '0.25', '--json'], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
    } catch (e) {
      // Exit code 3: written, fidelity FAIL — still measured.
      stdout = (e as { stdout?: string }).stdout ?? '';
      if (!stdout) throw e;
    }
    const seconds = (performance.now() - t0) / 1000;
    const report = JSON.parse(stdout) as {
      summary: { bytesBefore: number; bytesAfter: number; status: string };
      verification?: { minCosine: number; outputs: { sqnrDb: number }[] };
    };
    const out = path.join(dir, 'wide_mlp.compact25.onnx');
    const [before, after] = await medians([model, out], 30);
    const s = report.summary;
    console.log(
      `\ncompact: wide MLP ${BLOCKS} × ${D}→${H}→${D}, x[1,${TOKENS},${D}], --units 0.25 (activation)`,
    );
    row('compact --units 0.25 (whole process)', `${seconds.toFixed(2)} s`, '', undefined);
    row(
      '  file',
      `${(s.bytesBefore / 1e6).toFixed(2)} → ${(s.bytesAfter / 1e6).toFixed(2)} MB`,
      '',
      undefined,
    );
    console.log(
      absoluteRow('  file size reduction', (1 - s.bytesAfter / s.bytesBefore) * 100, '%', { atLeast: 20 }, 1),
    );
    row('  median ORT latency (30 runs)', `${before.toFixed(2)} → ${after.toFixed(2)} ms`, '', undefined);
    console.log(absoluteRow('  latency reduction', (1 - after / before) * 100, '%', { atLeast: 15 }, 1));
    const v = report.verification;
    row(
      '  fidelity cost',
      v ? `cosine ${v.minCosine.toFixed(5)}, ${v.outputs[0]?.sqnrDb.toFixed(1)} dB` : 'not verified',
      `verdict ${s.status}`,
      undefined,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Bundled into bench.js too, where require.main is also this module: run only as compactBench.js itself.
if (require.main === module && /compactBench\.js$/.test(process.argv[1] ?? ''))
  benchCompact().catch((e) => {
    console.error(e);
    process.exit(1);
  });
