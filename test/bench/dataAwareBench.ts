// Data-aware 4-bit benchmark, called by the bench runner (test/bench/bench.ts): every test model with
// MatMul/Gemm weights quantized to 4-bit MatMulNBits by round-to-nearest, the clipping search and GPTQ,
// each compared with the original in onnxruntime-node on held-out inputs — figures, not a test.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TEST_MODELS } from '../testModels';
import { formatRow, gainRows } from './benchRows';
import { heldOutSqnrDb, HELD_OUT_SEEDS, quantize4 } from './heldOutSqnr';

/** No model may lose more than this to RTN on held-out evaluation inputs (issue 13). */
const MAX_LOSS_DB = 0.5;

/** The test models whose MatMul/Gemm weights `quantize` takes (see test/models/README.md). */
export const DATA_AWARE_MODELS = [
  'tiny_bert_random_inline.onnx',
  'tiny_bert_random_extdata.onnx',
  'ortgenai_tiny_random_gpt2_fp32_past.onnx',
  'ortgenai_tiny_random_gpt2_fp16_past.onnx',
  'dtln_model_2.onnx',
  'openwakeword_hello_deepa.onnx',
  'ch_ppocr_mobile_v2.0_cls_infer.onnx',
];

export async function benchDataAware(): Promise<void> {
  console.log(
    `\ndata-aware 4-bit (block 32, asymmetric): worst output SQNR, over held-out seeds ${HELD_OUT_SEEDS[0]}–${HELD_OUT_SEEDS.at(-1)} (energies summed)`,
  );
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bs-dataaware-'));
  const gains: Record<string, Map<string, number>> = { search: new Map(), gptq: new Map() };
  const perModel: { name: string; worst?: number; note?: string }[] = [];
  // BIG_SHRINK_DATA_AWARE_MODELS=a.onnx,b.onnx: only those.
  const only = process.env.BIG_SHRINK_DATA_AWARE_MODELS?.split(',');
  const expected = DATA_AWARE_MODELS.filter((m) => !only || only.includes(m));
  try {
    for (const name of expected) {
      const model = path.join(TEST_MODELS, name);
      const label = `  ${name.padEnd(44)}`;
      if (!fs.existsSync(model)) {
        perModel.push({ name, note: 'not measured (model missing)' });
        continue;
      }
      try {
        const rtnPath = quantize4(model, 'rtn', tmp);
        if (!rtnPath) {
          perModel.push({ name, note: 'not measured (nothing to quantize)' });
          continue;
        }
        const rtn = await heldOutSqnrDb(model, rtnPath);
        const cells = [`rtn ${rtn.toFixed(2)}`];
        let worst = Infinity;
        for (const method of ['search', 'gptq']) {
          const t0 = performance.now();
          const db = await heldOutSqnrDb(model, quantize4(model, method, tmp)!);
          const gain = db - rtn;
          gains[method].set(name, gain);
          worst = Math.min(worst, gain);
          cells.push(
            `${method} ${db.toFixed(2)} (${gain >= 0 ? '+' : ''}${gain.toFixed(2)}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
          );
        }
        console.log(`${label} ${cells.join('  ')} dB`);
        perModel.push({ name, worst });
      } catch (e) {
        console.log(`${label} not measured: ${(e as Error).message.split('\n')[0]}`);
        perModel.push({ name, note: 'not measured' });
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(
    `held-out evaluation inputs (seeds ${HELD_OUT_SEEDS[0]}–${HELD_OUT_SEEDS.at(-1)}; calibration used 1001+): data-aware 4-bit against RTN, per model`,
  );
  for (const m of perModel) {
    const measured = m.worst !== undefined;
    console.log(
      formatRow(
        `  ${m.name}`,
        measured ? `${m.worst! >= 0 ? '+' : ''}${m.worst!.toFixed(2)} dB` : (m.note ?? 'not measured'),
        `loss ≤ ${MAX_LOSS_DB} dB`,
        measured && m.worst! >= -MAX_LOSS_DB,
      ),
    );
  }
  // Rows over the models measured: "not measured" (missed) with none, the skipped ones named.
  for (const method of ['search', 'gptq'])
    for (const line of gainRows(method, gains[method], expected, 1.5)) console.log(line);
}

// Bundled into bench.js, `require.main === module` holds there too: run alone only from its own bundle.
if (require.main === module && /dataAwareBench\.js$/.test(process.argv[1] ?? '')) {
  benchDataAware().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
