import type { TensorInfo } from '../core/onnx/modelIndex';
import type { DataAwarePruneMethod, DataAwarePrunedLayer, PruneRule } from '../core/prune/dataAwarePrune';
import type { DataAwarePruneRow } from '../core/prune/pruneReport';
import { GPTQ_MIN_ROWS_PER_K } from '../core/quant/dataAwareQuantize';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  matMulNBitsUses,
  type MatMulNBitsUse,
  readFloat32,
} from '../core/quant/planQuantize';
import type { ActivationGram, CalibrationOptions } from './captureActivations';
import type { PruneSolveRequest } from './dataAwareProtocol';
import type { OpenedModel } from './openModel';
import { capturedGroups, type DataAwareJob, solveAll } from './planDataAware';
import { workerScript } from './workerScript';

/** The data-aware pruning of a model's MatMul/Gemm weights, ready for planPrune, and what it gained. */
export interface DataAwarePrunePlan {
  /** Pruned values and keep-masks by tensor id. */
  layers: Map<number, DataAwarePrunedLayer>;
  rows: DataAwarePruneRow[];
  /** What the calibration ran on. */
  calibration: string;
  /** Weights asked for that stay with magnitude pruning, and why. */
  fallback: { name: string; reason: string }[];
}

/**
 * Prunes every weight of `tensors` that only MatMul/Gemm nodes read (as B, as `quantize` takes them) with
 * `method`, on the Gram matrices XᵀX of the activations each one multiplies, collected on the calibration
 * inputs by the data-aware quantization's machinery (planDataAware: capture on a worker thread in groups
 * of at most GRAM_BUDGET_BYTES, the layers solved on worker threads, the largest first). A weight read by
 * several such nodes gets the sum of their Gram matrices. The others (Conv, recurrent, read by other
 * ops, activation not collected) are listed in `fallback`: planPrune prunes them by magnitude.
 */
export async function planDataAwarePrune(
  model: OpenedModel,
  tensors: readonly TensorInfo[],
  method: DataAwarePruneMethod,
  rule: PruneRule,
  calibration: CalibrationOptions,
  job: DataAwareJob = {},
): Promise<DataAwarePrunePlan> {
  const script = job.workerScript ?? workerScript('dataAwareWorker.js');
  const { index } = model;
  const wanted = new Set(tensors.map((t) => t.id));
  const all = matMulNBitsUses(index, { ...DEFAULT_QUANTIZE_OPTIONS, ops: ['MatMul', 'Gemm'] });
  const usesOf = new Map<number, MatMulNBitsUse[]>();
  for (const u of all)
    if (wanted.has(u.tensor.id)) usesOf.set(u.tensor.id, [...(usesOf.get(u.tensor.id) ?? []), u]);
  const fallback: DataAwarePrunePlan['fallback'] = [];
  const uses: MatMulNBitsUse[] = [];
  for (const t of tensors) {
    const us = usesOf.get(t.id) ?? [];
    const others = t.consumers.filter((c) => !us.some((u) => u.node.id === c.nodeId && c.input === 1));
    const ops = [...new Set(t.consumers.map((c) => index.nodes[c.nodeId].opType))];
    const reason =
      us.length === 0
        ? ops.every((op) => op === 'MatMul' || op === 'Gemm')
          ? 'not a dense 2-D float32/float16 MatMul/Gemm weight (B input)'
          : `read by ${ops.join(', ')}, not as a MatMul/Gemm weight`
        : others.length > 0
          ? `also read by ${[...new Set(others.map((c) => index.nodes[c.nodeId].opType))].join(', ')}`
          : us.some((u) => u.layout !== us[0].layout)
            ? 'its readers take it in different layouts'
            : undefined;
    if (reason) fallback.push({ name: t.name, reason: `${reason}: magnitude` });
    else uses.push(...us);
  }
  const rowsPerK = method === 'sparsegpt' ? GPTQ_MIN_ROWS_PER_K : 1;
  const layers = new Map<number, DataAwarePrunedLayer>();
  const rows: DataAwarePruneRow[] = [];
  let calibrationText = '';
  // Held-out rows that judge each layer against magnitude: synthesized seeds apart from both the
  // calibration's and the verification's, or the user's evaluation samples.
  for await (const { group, captured, heldOut, calibration: text } of capturedGroups(
    script,
    model,
    uses,
    { rowsPerK, ...calibration },
    { batches: HELD_OUT_BATCHES, seedBase: HELD_OUT_SEED },
    job,
  )) {
    calibrationText = text;
    const grams = new Map(captured.grams.map((x) => [x.name, x]));
    const inGroup = new Set(group.map((t) => t.name));
    // One job per weight, with the Gram matrices of every node that reads it.
    const jobs = new Map<number, { use: MatMulNBitsUse; grams: ActivationGram[] }>();
    const missing = new Map<number, string>();
    for (const u of uses) {
      if (!inGroup.has(u.activation)) continue;
      const gram = grams.get(u.activation);
      if (!gram || gram.K !== u.K) {
        const why = captured.missing.find((x) => x.name === u.activation)?.reason ?? 'not collected';
        missing.set(u.tensor.id, `activation ${u.activation} ${why}: magnitude`);
        continue;
      }
      const entry = jobs.get(u.tensor.id) ?? { use: u, grams: [] };
      if (!entry.grams.includes(gram)) entry.grams.push(gram);
      jobs.set(u.tensor.id, entry);
    }
    for (const [id, reason] of missing) {
      jobs.delete(id);
      fallback.push({ name: index.tensors[id].name, reason });
    }
    const meta = [...jobs.values()];
    const make = (id: number): PruneSolveRequest | undefined => {
      const { use, grams: gs } = meta[id];
      const values = readFloat32(use.tensor, model.source, model.resolveExternal);
      if (!values) return undefined;
      const gram = sumGrams(gs);
      const held = gs.map((g) => heldOut.get(g.name));
      const heldOutGram = held.every((g) => g && g.K === use.K)
        ? sumGrams(held as ActivationGram[])
        : undefined;
      return {
        ...(heldOutGram ? { heldOutGram } : {}),
        rows: gs.reduce((sum, x) => sum + x.rows, 0),
        type: 'prune',
        id,
        weight: Float32Array.from(values),
        K: use.K,
        N: use.N,
        layout: use.layout,
        gram,
        method,
        rule,
      };
    };
    const sizes = meta.map((m) => (method === 'sparsegpt' ? m.use.K * m.use.K * m.use.N : m.use.K * m.use.N));
    const solved = await solveAll<DataAwarePrunedLayer>(
      script,
      sizes,
      make,
      job,
      (id) => meta[id].use.tensor.name,
      'pruning',
    );
    solved.forEach((layer, id) => {
      const { use, grams: gs } = meta[id];
      if (!layer) {
        fallback.push({ name: use.tensor.name, reason: 'NaN or infinite values: magnitude' });
        return;
      }
      if (layer.method === 'magnitude') fallback.push({ name: use.tensor.name, reason: layer.fallback! });
      else layers.set(use.tensor.id, layer);
      const sqnrDb = round(db(layer.signal, layer.error));
      const magnitudeSqnrDb = round(db(layer.signal, layer.magnitudeError));
      const heldOut =
        layer.heldOutError !== undefined
          ? {
              heldOutGainDb: round(db(layer.heldOutMagnitudeError!, layer.heldOutError)),
            }
          : {};
      rows.push({
        name: use.tensor.name,
        method: layer.method,
        ...(layer.group ? { group: layer.group } : {}),
        ...(layer.fallback ? { note: layer.fallback } : {}),
        ...heldOut,
        layout: use.layout,
        K: use.K,
        N: use.N,
        rows: gs.reduce((s, x) => s + x.rows, 0),
        magnitudeSqnrDb,
        sqnrDb,
        gainDb: round(sqnrDb - magnitudeSqnrDb),
      });
    });
  }
  if (uses.length === 0) calibrationText = 'none: no MatMul/Gemm weight to prune on data';
  return { layers, rows, calibration: calibrationText, fallback };
}

/** Held-out batches whose activations judge each layer (synthesized: seeds HELD_OUT_SEED, +1, …). */
const HELD_OUT_BATCHES = 16;

/** Seeds of the held-out batches: apart from the calibration's (1001+) and the verification's (1+). */
const HELD_OUT_SEED = 2001;

/** The sum of one weight's readers' Gram matrices (a new array). */
function sumGrams(gs: readonly ActivationGram[]): Float64Array {
  const gram = Float64Array.from(gs[0].gram);
  for (const x of gs.slice(1)) for (let i = 0; i < gram.length; i++) gram[i] += x.gram[i];
  return gram;
}

function db(signal: number, error: number): number {
  return error === 0 ? Infinity : 10 * Math.log10(signal / error);
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;
}
