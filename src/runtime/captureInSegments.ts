import type * as OrtTypes from 'onnxruntime-node';
import { ModelError } from '../core/errors';
import { planCaptureSegments } from '../core/quant/captureSegments';
import { symmetrize } from '../core/quant/gramMatrix';
import { dataTypeCodeOf } from '../core/tensor/dataType';
import { extraGraphOutputs } from '../core/write/extraGraphOutputs';
import type { Edit } from '../core/write/planWrite';
import { buildCandidate } from './candidateModel';
import {
  type ActivationGram,
  type ActivationTarget,
  addRows,
  CALIBRATION_SEED,
  type CalibrationOptions,
  CAPTURE_SESSION_OPTIONS,
  CaptureCancelledError,
  type CaptureResult,
  MAX_CALIBRATION_BATCHES,
} from './captureActivations';
import { samplesFor } from './data/sampleFeeds';
import { constantReaderOf } from './data/synthesizeInputs';
import { loadOrt } from './loadOrt';
import { openModel } from './openModel';
import { type Feeds, type SynthesizedInput, synthesizeFeeds } from './verifyModels';

/** One group's activations, captured in its part of the model. */
export interface SegmentCapture {
  /** 0-based, of `parts`. */
  part: number;
  parts: number;
  captured: CaptureResult;
  /** XᵀX of the held-out rows (none with an inputs folder, whose files are both sets). */
  heldOut: ActivationGram[];
}

/** The graph cannot be cut into parts (a subgraph reads outer values unnamed): capture whole instead. */
export class SegmentsUnsupportedError extends Error {
  constructor(readonly reason: string) {
    super(`cannot run the model part by part: ${reason}`);
    this.name = 'SegmentsUnsupportedError';
  }
}

/**
 * captureActivations block by block for several groups of activations (planCaptureSegments): the model is
 * cut into one part per group; part k alone is loaded in onnxruntime-node (only its nodes and the
 * initializers they read; its inputs the values earlier parts made, kept between parts), every
 * calibration and held-out batch runs through it, the group's XᵀX is accumulated batch by batch and
 * yielded, and the next part starts when the caller asks for it (after solving and releasing the group).
 * So the model runs once in all instead of once per group, a session holds one part's weights, and the
 * nodes after the last activation (an LM head) never run. The batch count is settled on the first part's
 * first batch: enough rows for `rowsPerK`·K of the widest activation of any group. Throws
 * SegmentsUnsupportedError before any run when the graph cannot be cut.
 */
export async function* captureInSegments(
  modelPath: string,
  groups: readonly (readonly ActivationTarget[])[],
  options: CalibrationOptions,
  heldOut: { batches: number; seedBase: number } | undefined,
  control: {
    cancelled?(): boolean;
    onBatch?(done: number, total: number, part: number, parts: number): void;
  } = {},
): AsyncGenerator<SegmentCapture> {
  const ort = loadOrt();
  const model = openModel(modelPath);
  try {
    const { index } = model;
    const main = index.graphs[0];
    const segments = planCaptureSegments(
      index,
      groups.map((g) => g.map((t) => t.name)),
    );
    if (typeof segments === 'string') throw new SegmentsUnsupportedError(segments);
    const initializers = new Set(
      main.tensorIds.map((id) => index.tensors[id]).flatMap((t) => (t.nodeId === undefined ? [t.name] : [])),
    );
    const inputNames = main.inputs.map((i) => i.name).filter((n) => !initializers.has(n));
    const produced = new Set(main.nodeIds.flatMap((id) => index.nodes[id].outputs));
    const readConstant = constantReaderOf(model);

    // The batches: the user's samples (calibration, and evaluation for the held-out rows), else synthesized.
    const samples =
      options.data && !options.inputsDir ? await samplesFor(modelPath, index, options) : undefined;
    const files = samples?.source === 'files' ? samples : undefined;
    const realCalibration = files && files.calibration.length > 0 ? files.calibration : undefined;
    const realHeldOut = files && files.evaluation.length > 0 ? files.evaluation : undefined;
    let calibrationBatches = options.inputsDir
      ? 1
      : (realCalibration?.length ?? Math.max(1, options.batches));
    const heldOutBatches = options.inputsDir || !heldOut ? 0 : (realHeldOut?.length ?? heldOut.batches);
    let described: SynthesizedInput[] = [];
    const feedsOf = (held: boolean, b: number): Feeds => {
      const real = held ? realHeldOut : realCalibration;
      if (real) return real[b];
      const into: SynthesizedInput[] = [];
      const feeds = synthesizeFeeds(
        ort,
        index,
        inputNames,
        { ...options, seed: (held ? heldOut!.seedBase : (options.seedBase ?? CALIBRATION_SEED)) + b },
        into,
        readConstant,
      );
      if (!held && b === 0) described = into;
      return feeds;
    };
    // Values kept between parts, per batch (calibration batches, then held-out ones).
    const kept: Map<string, OrtTypes.Tensor>[] = [];
    const keptOf = (slot: number) => (kept[slot] ??= new Map());
    const widest = Math.max(...groups.flat().map((t) => t.K));

    for (const [k, part] of segments.entries()) {
      const targets = groups[k];
      const missing: CaptureResult['missing'] = [];
      const wanted = targets.filter((t) => {
        const ok = produced.has(t.name) || inputNames.includes(t.name);
        if (!ok) missing.push({ name: t.name, reason: 'computed inside a subgraph (or a constant)' });
        return ok;
      });
      const gramsOf = () =>
        new Map(
          wanted.map((t) => [
            t.name,
            { name: t.name, K: t.K, rows: 0, gram: new Float64Array(options.diagonal ? t.K : t.K * t.K) },
          ]),
        );
      const grams = gramsOf();
      const held = gramsOf();
      let session: OrtTypes.InferenceSession | undefined;
      let dispose = () => {};
      try {
        if (part.nodeIds.length > 0) {
          const inPart = new Set(part.nodeIds);
          const edits: Edit[] = [
            ...main.nodeIds
              .filter((id) => !inPart.has(id))
              .map((nodeId): Edit => ({ kind: 'removeNode', nodeId })),
            ...part.unusedTensorIds.map((tensorId): Edit => ({ kind: 'removeTensor', tensorId })),
            { kind: 'removeGraphOutputs', graph: main.path, names: main.outputs.map((o) => o.name) },
          ];
          const typeOf = (name: string) => {
            const t = kept[0]?.get(name);
            const code = t && dataTypeCodeOf(t.type);
            if (code === undefined) throw new Error(`no kept value of ${name} for part ${k + 1}`);
            return code;
          };
          const elemType = new Map(targets.map((t) => [t.name, t.elemType]));
          const candidate = buildCandidate(
            model,
            edits,
            CAPTURE_SESSION_OPTIONS,
            extraGraphOutputs(
              part.outputs.map((name) => ({ name, elemType: elemType.get(name) })),
              part.inputs.map((name) => ({ name, elemType: typeOf(name) })),
            ),
          );
          dispose = candidate.dispose;
          session = await ort.InferenceSession.create(candidate.bytes, candidate.sessionOptions).catch(
            (e: Error) => {
              if (k === 0)
                throw new SegmentsUnsupportedError(`onnxruntime cannot load its first part: ${e.message}`);
              throw new ModelError(
                modelPath,
                `onnxruntime cannot load part ${k + 1} of ${segments.length} of it for the calibration: ${e.message}`,
              );
            },
          );
        }
        const names = new Set(session?.inputNames ?? []);
        const total = () => calibrationBatches + heldOutBatches;
        for (let slot = 0; slot < total(); slot++) {
          if (control.cancelled?.()) throw new CaptureCancelledError();
          const isHeld = slot >= calibrationBatches;
          const feeds = feedsOf(isHeld, isHeld ? slot - calibrationBatches : slot);
          const values = keptOf(slot);
          let out: OrtTypes.InferenceSession.OnnxValueMapType = {};
          if (session) {
            const run: Feeds = {};
            for (const [name, t] of Object.entries(feeds)) if (names.has(name)) run[name] = t;
            for (const name of part.inputs) run[name] = values.get(name)!;
            try {
              out = await session.run(run);
            } catch (e) {
              throw new ModelError(
                modelPath,
                `onnxruntime cannot run the calibration (part ${k + 1} of ${segments.length}): ${(e as Error).message}`,
              );
            }
          }
          for (const g of (isHeld ? held : grams).values())
            addRows(g, out[g.name] ?? values.get(g.name) ?? feeds[g.name], options.diagonal);
          for (const name of part.kept) values.set(name, out[name]);
          // The first batch settles how many the calibration needs (the widest activation of any group).
          if (k === 0 && slot === 0 && !options.inputsDir && !realCalibration) {
            const perBatch = Math.min(...[...grams.values()].filter((g) => g.rows > 0).map((g) => g.rows));
            if (Number.isFinite(perBatch))
              calibrationBatches = Math.min(
                MAX_CALIBRATION_BATCHES,
                Math.max(calibrationBatches, Math.ceil(((options.rowsPerK ?? 1) * widest) / perBatch)),
              );
          }
          control.onBatch?.(slot + 1, total(), k, segments.length);
        }
      } finally {
        await session?.release();
        dispose();
      }
      for (const values of kept) for (const name of part.release) values?.delete(name);
      for (const g of [...grams.values(), ...held.values()]) if (!options.diagonal) symmetrize(g.gram, g.K);
      for (const g of grams.values())
        if (g.rows === 0) missing.push({ name: g.name, reason: `no rows of ${g.K} values` });
      const from = realCalibration
        ? `${realCalibration.length} calibration sample${realCalibration.length === 1 ? '' : 's'} of ${files!.section.paths.join(', ')}`
        : options.inputsDir
          ? `inputs ${options.inputsDir}`
          : `${calibrationBatches} synthesized batch${calibrationBatches === 1 ? '' : 'es'} (seeds ${CALIBRATION_SEED}–${CALIBRATION_SEED + calibrationBatches - 1})`;
      yield {
        part: k,
        parts: segments.length,
        captured: {
          grams: [...grams.values()].filter((g) => g.rows > 0),
          missing,
          calibration: `${from}: ${described.map((i) => `${i.name} ${i.dtype}[${i.dims.join(',')}] ${i.values}`).join('; ')}`,
        },
        heldOut: [...held.values()].filter((g) => g.rows > 0),
      };
    }
  } finally {
    model.close();
  }
}
