// Model output fidelity of a quantized model on inputs its calibration never saw: the worst output's SQNR
// averaged (in dB) over a few synthesized seeds. Shared by the data-aware benchmark and its model test.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as OrtTypes from 'onnxruntime-node';
import { decodeFloat16 } from '../../src/core/tensor/float16';
import { openModel } from '../../src/runtime/openModel';
import { synthesizeFeeds } from '../../src/runtime/verifyModels';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node') as typeof OrtTypes;

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'dist/cli.js');

/** Verification seeds: calibration uses 1001+, so these are held out. */
export const HELD_OUT_SEEDS = Array.from({ length: 48 }, (_, i) => i + 1);

/**
 * The worst output's SQNR (dB) of `candidate` against `original` over the held-out seeds, each output's
 * signal and error energies summed over all seeds first (a mean of per-seed dB figures is ruled by the
 * seeds where a tiny output happens to be near zero).
 */
export async function heldOutSqnrDb(original: string, candidate: string): Promise<number> {
  const options: OrtTypes.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    logSeverityLevel: 3,
  };
  const a = await ort.InferenceSession.create(original, options);
  const b = await ort.InferenceSession.create(candidate, options);
  const model = openModel(original);
  const energy = new Map<string, { signal: number; error: number }>();
  try {
    for (const seed of HELD_OUT_SEEDS) {
      const feeds = synthesizeFeeds(ort, model.index, a.inputNames, { seed }, []);
      const x = await a.run(feeds);
      const y = await b.run(feeds);
      for (const name of a.outputNames) {
        if (!['float32', 'float16'].includes(x[name].type)) continue;
        const xs = numbers(x[name]);
        const ys = numbers(y[name]);
        const e = energy.get(name) ?? { signal: 0, error: 0 };
        for (let i = 0; i < xs.length; i++) {
          e.signal += xs[i] * xs[i];
          e.error += (xs[i] - ys[i]) ** 2;
        }
        energy.set(name, e);
      }
    }
  } finally {
    model.close();
    await a.release();
    await b.release();
  }
  return Math.min(...[...energy.values()].map((e) => 10 * Math.log10(e.signal / e.error)));
}

function numbers(t: OrtTypes.Tensor): ArrayLike<number> {
  return t.type === 'float16' ? decodeFloat16(t.data as Uint16Array) : (t.data as Float32Array);
}

/** `big-shrink quantize MODEL --bits 4 --method M --no-verify -o OUT`; undefined when nothing is quantized. */
export function quantize4(model: string, method: string, outDir: string): string | undefined {
  const out = path.join(outDir, `${path.basename(model, '.onnx')}.${method}.onnx`);
  const r = spawnSync(
    'node',
    [cli, 'quantize', model, '--bits', '4', '--method', method, '--no-verify', '--force', '-o', out],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) {
    if (/nothing to quantize/.test(r.stderr)) return undefined;
    throw new Error(`quantize ${model} --method ${method}: ${r.stderr}`);
  }
  if (!fs.existsSync(out)) throw new Error(`quantize wrote no ${out}`);
  return out;
}
