// Quantization benchmark, called by the bench runner (test/bench/bench.ts): figures and ratios against
// the numpy baseline of the same formulas, run in the same process tree — not a test.
// Run alone: bundle this file with esbuild (onnxruntime-node external) and call benchQuantize('.bench/bench400.onnx').
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { rawByteLength } from '../../src/core/tensor/dataType';
import { openModel } from '../../src/runtime/openModel';
import { readNpy } from '../../src/runtime/readNpy';
import { verifyModels } from '../../src/runtime/verifyModels';
import { absoluteRow, row, speedupRows } from './benchRows';
import { timedRun } from './timedRun';

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'dist/cli.js');
const python = '/usr/bin/python3';
const baseline = path.join(root, 'test/bench/baseline_quant4.py');

/** Reads a model and its external data once, so both sides start from the page cache. */
function warm(modelPath: string): void {
  const model = openModel(modelPath);
  const files = [
    modelPath,
    ...model.index.externalLocations.map((l) => path.join(path.dirname(modelPath), l)),
  ];
  model.close();
  const buf = Buffer.allocUnsafe(8 << 20);
  for (const f of files) {
    const fd = fs.openSync(f, 'r');
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    fs.closeSync(fd);
  }
}

/** The raw bytes of a tensor of a model (inline or external). */
function tensorBytes(modelPath: string, name: string): Uint8Array {
  const model = openModel(modelPath);
  try {
    const t = model.index.tensors.find((x) => x.name === name);
    if (!t) throw new Error(`no tensor ${name} in ${modelPath}`);
    const p = t.payload;
    if (p.kind === 'raw') return Uint8Array.from(model.source.read(p.offset, p.length));
    if (p.kind === 'external') {
      return Uint8Array.from(
        model.resolveExternal(p.location).read(p.offset, p.length ?? rawByteLength(t.dtype, t.count)),
      );
    }
    throw new Error(`${name} is not stored raw`);
  } finally {
    model.close();
  }
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const x = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const y = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return x.equals(y);
}

/**
 * 4-bit quantization of the benchmark model: `big-shrink quantize` against the numpy baseline of the
 * same formulas (time ratio, identical codes, scales and zero points for one tensor), then the latency of
 * the 4-bit model in onnxruntime-node against the original at batch 1 (one token) and both load times.
 * With BENCH_BIG=1 and .bench/bench2600.onnx present, also the peak RSS of quantizing that model.
 */
export async function benchQuantize(modelPath: string): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-qbench-'));
  try {
    const out = path.join(work, 'bench.int4.onnx');
    console.log(`\n4-bit quantization (MatMulNBits, block 32, asymmetric) of ${path.basename(modelPath)}\n`);
    warm(modelPath);
    const ours = await timedRun('node', [
      cli,
      'quantize',
      modelPath,
      '--bits',
      '4',
      '-o',
      out,
      '--force',
      '--no-verify',
      '--json',
    ]);
    const report = JSON.parse(ours.stdout) as {
      tensors: { name: string; op: string; dims: number[] }[];
      timingsMs: Record<string, number>;
      summary: { bytesBefore: number; bytesAfter: number };
    };
    const probe = report.tensors.find((t) => t.op === 'MatMul');
    if (!probe) throw new Error('the benchmark model has no MatMul weight');
    const base = await timedRun(python, [baseline, modelPath, '--dump', probe.name, '--dump-dir', work]);
    row('big-shrink quantize --bits 4 (wall)', `${ours.seconds.toFixed(2)} s`, '', undefined);
    row(
      '  of which planning (read + quantize)',
      `${(report.timingsMs.plan / 1000).toFixed(2)} s`,
      '',
      undefined,
    );
    row('numpy baseline, same formulas (wall)', `${base.seconds.toFixed(2)} s`, '', undefined);
    for (const line of speedupRows('quantize speed-up over the baseline', base, ours, 5)) console.log(line);
    row('quantize peak RSS', `${ours.peakRssMb.toFixed(0)} MB`, '', undefined);
    row(
      'model size after / before',
      `${((100 * report.summary.bytesAfter) / report.summary.bytesBefore).toFixed(1)} %`,
      '',
      undefined,
    );

    // Identical codes, scales and zero points for one tensor: the baseline's dump against our bytes.
    const stem = path.join(work, probe.name);
    const b = readNpy(`${stem}.b.npy`).data;
    const scales = readNpy(`${stem}.scales.npy`).data;
    const zp = readNpy(`${stem}.zp.npy`).data;
    const same =
      sameBytes(b, tensorBytes(out, `${probe.name}_Q4`)) &&
      sameBytes(scales, tensorBytes(out, `${probe.name}_scales`)) &&
      sameBytes(zp, tensorBytes(out, `${probe.name}_zp`));
    row(
      `identical codes/scales/zp (${probe.dims.join('×')})`,
      same ? `${b.byteLength} B same` : 'DIFFERENT',
      'identical',
      same,
    );

    // Latency at batch 1, one token: both models in onnxruntime-node, same input, 20 timed runs each.
    const v = await verifyModels(modelPath, out, { dims: { seq: 1 }, runs: 20 });
    if (!v.ok) throw new Error(`verification failed: ${v.error}`);
    const latency = v.candidate.medianMs / v.original.medianMs;
    row('original median latency (batch 1, seq 1)', `${v.original.medianMs.toFixed(2)} ms`, '', undefined);
    row('4-bit median latency (batch 1, seq 1)', `${v.candidate.medianMs.toFixed(2)} ms`, '', undefined);
    row('4-bit latency / original', `${latency.toFixed(2)}×`, '≤ 0.5×', latency <= 0.5);
    row('original session load', `${v.original.loadMs.toFixed(0)} ms`, '', undefined);
    row('4-bit session load', `${v.candidate.loadMs.toFixed(0)} ms`, '', undefined);
    row('4-bit output cosine (logits)', v.minCosine.toFixed(5), '', undefined);

    // The portable format on the same model: ORT fuses DequantizeLinear → MatMul into MatMulNBits at load.
    const qdq = path.join(work, 'bench.int4.qdq.onnx');
    const q = await timedRun('node', [
      cli,
      'quantize',
      modelPath,
      '--format',
      'qdq',
      '--bits',
      '4',
      '-o',
      qdq,
      '--force',
      '--no-verify',
    ]);
    const vq = await verifyModels(modelPath, qdq, { dims: { seq: 1 }, runs: 20 });
    if (!vq.ok) throw new Error(`verification of the DequantizeLinear model failed: ${vq.error}`);
    row('portable 4-bit (DequantizeLinear) quantize', `${q.seconds.toFixed(2)} s`, '', undefined);
    row(
      'portable 4-bit latency / original',
      `${(vq.candidate.medianMs / vq.original.medianMs).toFixed(2)}×`,
      '',
      undefined,
    );
    row('portable 4-bit session load', `${vq.candidate.loadMs.toFixed(0)} ms`, '', undefined);

    const big = path.join(path.dirname(modelPath), 'bench2600.onnx');
    if (process.env.BENCH_BIG === '1' && fs.existsSync(big)) {
      const model = openModel(big);
      const largest = Math.max(...model.index.tensors.map((t) => rawByteLength(t.dtype, t.count)));
      model.close();
      const bigOut = path.join(work, 'big.int4.onnx');
      warm(big);
      const run = await timedRun('node', [
        cli,
        'quantize',
        big,
        '--bits',
        '4',
        '-o',
        bigOut,
        '--force',
        '--no-verify',
        '--json',
      ]);
      const spilled = (JSON.parse(run.stdout) as { spilledBytes?: number }).spilledBytes ?? 0;
      const bound = (2 * largest) / 2 ** 20 + 300;
      row(`quantize ${path.basename(big)} (wall)`, `${run.seconds.toFixed(1)} s`, '', undefined);
      row('  new tensors spilled to disk', `${(spilled / 2 ** 20).toFixed(0)} MB`, '', undefined);
      console.log(absoluteRow('  peak RSS', run.peakRssMb, 'MB', { atMost: bound }));
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
