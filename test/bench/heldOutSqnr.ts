// Model output fidelity of a quantized model on inputs its calibration never saw: the worst output's SQNR
// averaged (in dB) over a few synthesized seeds. Shared by the data-aware benchmark and its model test.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openModel } from '../../src/runtime/openModel';
import { seededOutputSqnr } from '../../src/runtime/seededOutputSqnr';

const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'dist/cli.js');

/** Verification seeds: calibration uses 1001+, so these are held out. */
export const HELD_OUT_SEEDS = Array.from({ length: 48 }, (_, i) => i + 1);

/** The worst output's SQNR (dB) of `candidate` against `original` over the held-out seeds (energies summed). */
export async function heldOutSqnrDb(original: string, candidate: string): Promise<number> {
  const model = openModel(original);
  try {
    return (await seededOutputSqnr(model, [candidate], {}, HELD_OUT_SEEDS))[0];
  } finally {
    model.close();
  }
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
    if (/nothing to quantize|weights to quantize/.test(r.stderr)) return undefined;
    throw new Error(`quantize ${model} --method ${method}: ${r.stderr}`);
  }
  if (!fs.existsSync(out)) throw new Error(`quantize wrote no ${out}`);
  return out;
}
