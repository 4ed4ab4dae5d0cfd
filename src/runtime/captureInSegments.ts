import type * as OrtTypes from 'onnxruntime-node';
import { ModelError } from '../core/errors';
import { gramEdits, gramOutputs, planCaptureSegments } from '../core/quant/captureSegments';
import { symmetrize } from '../core/quant/gramMatrix';
import { DataType, dataTypeCodeOf } from '../core/tensor/dataType';
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
  batchesForK,
  calibrationSynthesis,
  calibrationText,
  CaptureCancelledError,
  type CaptureResult,
  emptyGram,
  samplesText,
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

/** A part of the model loaded in onnxruntime, ready to run batches. */
interface OpenPart {
  /** Undefined: the part runs no node (its activations were all made earlier). */
  session?: OrtTypes.InferenceSession;
  inputNames: Set<string>;
  close(): Promise<void>;
}

/**
 * captureActivations block by block for several groups of activations (planCaptureSegments): the model is
 * cut into one part per group; part k alone is loaded in onnxruntime-node (only its nodes and the
 * initializers they read; its inputs the values earlier parts made, kept between parts), every
 * calibration and held-out batch runs through it, the group's XᵀX is accumulated batch by batch and
 * yielded, and the next part starts when the caller asks for it (after solving and releasing the group).
 * So the model runs once in all instead of once per group, a session holds one part's weights, and the
 * nodes after the last activation (an LM head) never run. Each group gets every batch earlier parts ran,
 * and more when its activations need them (`rowsPerK`·K rows, settled on its first batch as
 * captureActivations does): the extra batches are then first run through the earlier parts. Throws
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
    const synthesized = !options.inputsDir && !realCalibration;
    /** Calibration batches run through the parts so far (more when a group needs more rows). */
    let ran = options.inputsDir ? 1 : (realCalibration?.length ?? Math.max(1, options.batches));
    const heldOutBatches = options.inputsDir || !heldOut ? 0 : (realHeldOut?.length ?? heldOut.batches);
    let described: SynthesizedInput[] = [];
    let synthesis = calibrationSynthesis(index, readConstant, options);
    const feedsOf = (held: boolean, b: number): Feeds => {
      const real = held ? realHeldOut : realCalibration;
      if (real) return real[b];
      const into: SynthesizedInput[] = [];
      const feeds = synthesizeFeeds(
        ort,
        index,
        inputNames,
        { ...synthesis, seed: (held ? heldOut!.seedBase : (options.seedBase ?? CALIBRATION_SEED)) + b },
        into,
        readConstant,
      );
      if (!held && b === 0) described = into;
      return feeds;
    };
    // Values kept between parts, per batch ('c3': calibration batch 3, 'h0': held-out batch 0).
    const kept = new Map<string, Map<string, OrtTypes.Tensor>>();
    const keptOf = (slot: string) => kept.get(slot) ?? kept.set(slot, new Map()).get(slot)!;
    /** The element type of each kept value (a later part declares it as an input). */
    const types = new Map<string, number>();

    const open = async (k: number): Promise<OpenPart> => {
      const part = segments[k];
      if (part.nodeIds.length === 0) return { inputNames: new Set(), close: async () => {} };
      const inPart = new Set(part.nodeIds);
      const edits: Edit[] = [
        ...main.nodeIds
          .filter((id) => !inPart.has(id))
          .map((nodeId): Edit => ({ kind: 'removeNode', nodeId })),
        ...part.unusedTensorIds.map((tensorId): Edit => ({ kind: 'removeTensor', tensorId })),
        { kind: 'removeGraphOutputs', graph: main.path, names: main.outputs.map((o) => o.name) },
      ];
      // XᵀX of the activations this part makes is computed by onnxruntime (gramEdits): fetched instead.
      const made = new Set(part.nodeIds.flatMap((id) => index.nodes[id].outputs));
      const inSession = options.diagonal ? [] : groups[k].filter((t) => made.has(t.name));
      const outputs = new Set(part.outputs);
      for (const t of inSession) {
        edits.push(...gramEdits(main.path, t.name, t.K, t.elemType));
        if (!part.kept.includes(t.name)) outputs.delete(t.name);
      }
      const typeOf = (name: string) => {
        const code = types.get(name);
        if (code === undefined) throw new Error(`no kept value of ${name} for part ${k + 1}`);
        return code;
      };
      const elemType = new Map(groups[k].map((t) => [t.name, t.elemType]));
      const candidate = buildCandidate(
        model,
        edits,
        CAPTURE_SESSION_OPTIONS,
        extraGraphOutputs(
          [
            ...[...outputs].map((name) => ({ name, elemType: elemType.get(name) })),
            ...inSession.flatMap((t) => {
              const o = gramOutputs(t.name);
              return [
                { name: o.gram, elemType: DataType.FLOAT },
                { name: o.shape, elemType: DataType.INT64 },
              ];
            }),
          ],
          part.inputs.map((name) => ({ name, elemType: typeOf(name) })),
        ),
      );
      const session = await ort.InferenceSession.create(candidate.bytes, candidate.sessionOptions).catch(
        (e: Error) => {
          candidate.dispose();
          if (k === 0)
            throw new SegmentsUnsupportedError(`onnxruntime cannot load its first part: ${e.message}`);
          throw new ModelError(
            modelPath,
            `onnxruntime cannot load part ${k + 1} of ${segments.length} of it for the calibration: ${e.message}`,
          );
        },
      );
      return {
        session,
        inputNames: new Set(session.inputNames),
        close: async () => {
          await session.release();
          candidate.dispose();
        },
      };
    };
    /** Runs one batch through part k: its feeds, its outputs; the values later parts need are kept. */
    const run = async (k: number, p: OpenPart, held: boolean, b: number) => {
      if (control.cancelled?.()) throw new CaptureCancelledError();
      const part = segments[k];
      const feeds = feedsOf(held, b);
      const values = keptOf(`${held ? 'h' : 'c'}${b}`);
      let out: OrtTypes.InferenceSession.OnnxValueMapType = {};
      if (p.session) {
        const given: Feeds = {};
        for (const [name, t] of Object.entries(feeds)) if (p.inputNames.has(name)) given[name] = t;
        for (const name of part.inputs) given[name] = values.get(name)!;
        try {
          out = await p.session.run(given);
        } catch (e) {
          throw new ModelError(
            modelPath,
            `onnxruntime cannot run the calibration (part ${k + 1} of ${segments.length}): ${(e as Error).message}`,
          );
        }
      }
      for (const name of part.kept) {
        values.set(name, out[name]);
        const code = dataTypeCodeOf(out[name]?.type ?? '');
        if (code !== undefined) types.set(name, code);
      }
      return (name: string) => out[name] ?? values.get(name) ?? feeds[name];
    };
    const release = (k: number, slots: Iterable<string>) => {
      for (const slot of slots) for (const name of segments[k].release) kept.get(slot)?.delete(name);
    };
    /** Calibration batches `from`…`to`-1 through parts 0…k-1, so part k can run them. */
    const catchUp = async (k: number, from: number, to: number) => {
      const slots = Array.from({ length: to - from }, (_, i) => from + i);
      for (let j = 0; j < k; j++) {
        const p = await open(j);
        try {
          for (const b of slots) await run(j, p, false, b);
        } finally {
          await p.close();
        }
        release(
          j,
          slots.map((b) => `c${b}`),
        );
      }
    };

    for (let k = 0; k < segments.length; k++) {
      const missing: CaptureResult['missing'] = [];
      const wanted = groups[k].filter((t) => {
        const ok = produced.has(t.name) || inputNames.includes(t.name);
        if (!ok) missing.push({ name: t.name, reason: 'computed inside a subgraph (or a constant)' });
        return ok;
      });
      const gramsOf = () => new Map(wanted.map((t) => [t.name, emptyGram(t, options.diagonal)]));
      const grams = gramsOf();
      const held = gramsOf();
      // Every batch earlier parts ran flows through this part (later parts need its values), and counts.
      let batches = ran;
      const p = await open(k);
      try {
        for (let b = 0; b < batches; b++) {
          if (b >= ran) {
            await catchUp(k, ran, batches);
            ran = batches;
          }
          let valueOf;
          try {
            valueOf = await run(k, p, false, b);
          } catch (e) {
            // A language model that does not take LM_CALIBRATION_WINDOW tokens: its declared sizes then.
            if (k > 0 || b > 0 || synthesis === options || !(e instanceof ModelError)) throw e;
            synthesis = options;
            kept.clear();
            valueOf = await run(k, p, false, b);
          }
          for (const g of grams.values()) addCaptured(g, valueOf, options.diagonal);
          // The first batch settles how many this group needs, as captureActivations does.
          if (b === 0 && synthesized)
            batches = Math.max(batches, batchesForK([...grams.values()], options.rowsPerK ?? 1));
          control.onBatch?.(b + 1, batches + heldOutBatches, k, segments.length);
        }
        for (let b = 0; b < heldOutBatches; b++) {
          const valueOf = await run(k, p, true, b);
          for (const g of held.values()) addCaptured(g, valueOf, options.diagonal);
          control.onBatch?.(batches + b + 1, batches + heldOutBatches, k, segments.length);
        }
      } finally {
        await p.close();
      }
      release(k, kept.keys());
      for (const g of [...grams.values(), ...held.values()]) if (!options.diagonal) symmetrize(g.gram, g.K);
      for (const g of grams.values())
        if (g.rows === 0) missing.push({ name: g.name, reason: `no rows of ${g.K} values` });
      yield {
        part: k,
        parts: segments.length,
        captured: {
          grams: [...grams.values()].filter((g) => g.rows > 0),
          missing,
          calibration: calibrationText(
            realCalibration && samplesText(realCalibration.length, 'calibration', files!.section.paths),
            options,
            batches,
            described,
          ),
        },
        heldOut: [...held.values()].filter((g) => g.rows > 0),
      };
    }
  } finally {
    model.close();
  }
}

/** Adds a batch's rows of an activation: its XᵀX as the part computed it (gramEdits), else the rows. */
function addCaptured(
  g: ActivationGram,
  valueOf: (name: string) => OrtTypes.Tensor | undefined,
  diagonal: boolean | undefined,
): void {
  const names = gramOutputs(g.name);
  const xtx = valueOf(names.gram);
  const shape = valueOf(names.shape);
  if (!xtx || !shape) {
    addRows(g, valueOf(g.name), diagonal);
    return;
  }
  const data = xtx.data as Float32Array;
  for (let i = 0; i < data.length; i++) g.gram[i] += data[i];
  g.rows += Number((shape.data as BigInt64Array)[0]);
}
