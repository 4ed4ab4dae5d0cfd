// A rewrite that edits: every tensor the writer may move goes out to a new external data file and comes
// back inline, in memory. The result must be the model's own bytes (what a no-edit `--inline` rewrite
// gives: the file itself when it has no external data); where the bytes legitimately differ (a typed
// payload such as float_data comes back as raw_data, a field order the writer does not keep) every tensor
// must still hold the same name, type, shape and raw bytes, and every node be the same.
import { createHash } from 'node:crypto';
import { type ByteSource, type ExternalDataResolver, MemoryByteSource } from '../../src/core/io/byteSource';
import { indexModel } from '../../src/core/onnx/indexModel';
import type { ModelIndex, TensorInfo } from '../../src/core/onnx/modelIndex';
import { rawByteLength } from '../../src/core/tensor/dataType';
import type { Piece } from '../../src/core/write/pieces';
import { type Edit, planWrite } from '../../src/core/write/planWrite';
import { typedToRaw } from '../../src/core/write/typedToRaw';
import { openModel } from '../../src/runtime/openModel';

/** What one model's round trip did. */
export interface RoundTrip {
  /** Tensors stored in the external data file on the way (re-encoded, for reencodeRoundTrip). */
  moved: number;
  /** The result is the model's own bytes (no-edit --inline rewrite). */
  identical: boolean;
  problems: string[];
}

const LOCATION = 'big-shrink-round-trip.data';
/** TensorProto.DataType STRING. */
const STRING = 8;

/** The bytes a list of pieces describes. */
function bytesOf(pieces: Piece[], source: ByteSource, resolve: ExternalDataResolver): Uint8Array {
  const parts = pieces.map((p) =>
    p.kind === 'bytes'
      ? p.bytes
      : (p.kind === 'source' ? source : resolve(p.location)).read(p.offset, p.length).slice(),
  );
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A tensor's contents as raw little-endian bytes, wherever and however they are stored. */
function rawOf(t: TensorInfo, source: ByteSource, resolve: ExternalDataResolver): Uint8Array {
  const p = t.payload;
  switch (p.kind) {
    case 'raw':
      return source.read(p.offset, p.length).slice();
    case 'external':
      return resolve(p.location)
        .read(p.offset, p.length ?? rawByteLength(t.dtype, t.count))
        .slice();
    case 'typed':
    case 'values':
      return typedToRaw(source, t.dtype, t.count, p);
    case 'empty':
      return new Uint8Array(0);
  }
}

/** rawOf, or the reason the tensor cannot be read. */
function contents(t: TensorInfo, source: ByteSource, resolve: ExternalDataResolver): Uint8Array | string {
  try {
    return rawOf(t, source, resolve);
  } catch (e) {
    return (e as Error).message;
  }
}

/** Differences between two indexes of the same model: tensors (by position) and nodes. */
function sameModel(
  a: { index: ModelIndex; source: ByteSource; resolve: ExternalDataResolver },
  b: { index: ModelIndex; source: ByteSource; resolve: ExternalDataResolver },
  what: string,
): string[] {
  const problems: string[] = [];
  if (a.index.tensors.length !== b.index.tensors.length)
    return [`${what}: ${b.index.tensors.length} tensors, the model has ${a.index.tensors.length}`];
  a.index.tensors.forEach((t, i) => {
    const u = b.index.tensors[i];
    const label = `${what}: tensor "${t.name}"`;
    if (u.name !== t.name || u.dtype !== t.dtype || u.dims.join() !== t.dims.join())
      problems.push(`${label} became "${u.name}" dtype ${u.dtype} [${u.dims}]`);
    else {
      // A tensor the model stores inconsistently (a typed payload shorter than its shape) cannot be read
      // on either side: it must stay so, with the same complaint.
      const x = contents(t, a.source, a.resolve);
      const y = contents(u, b.source, b.resolve);
      if (typeof x === 'string' || typeof y === 'string') {
        if (x !== y)
          problems.push(
            `${label}: ${typeof x === 'string' ? x : 'readable'} became ${typeof y === 'string' ? y : 'readable'}`,
          );
      } else if (!Buffer.from(x).equals(Buffer.from(y))) problems.push(`${label}: contents differ`);
    }
  });
  const node = (n: ModelIndex['nodes'][number]) => `${n.opType}(${n.inputs.join()})->(${n.outputs.join()})`;
  if (a.index.nodes.map(node).join('\n') !== b.index.nodes.map(node).join('\n'))
    problems.push(`${what}: the nodes differ`);
  return problems;
}

/** Moves every movable tensor of `modelPath` to external data and back, in memory, and checks the result. */
export function externalRoundTrip(modelPath: string): RoundTrip {
  const model = openModel(modelPath);
  try {
    const original = { index: model.index, source: model.source, resolve: model.resolveExternal };
    const expected = bytesOf(
      planWrite(model.index, model.source, [], { inline: true }).model,
      model.source,
      model.resolveExternal,
    );
    const out = planWrite(model.index, model.source, [], {
      externalData: { location: LOCATION, threshold: 1, alignment: 16 },
    });
    if (!out.external) return { moved: 0, identical: true, problems: [] };
    const external = new MemoryByteSource(bytesOf(out.external.pieces, model.source, model.resolveExternal));
    const source1 = new MemoryByteSource(bytesOf(out.model, model.source, model.resolveExternal));
    const resolve1: ExternalDataResolver = (l) => (l === LOCATION ? external : model.resolveExternal(l));
    const index1 = indexModel(source1);
    const moved = index1.tensors.filter(
      (t) => t.payload.kind === 'external' && t.payload.location === LOCATION,
    );
    const problems = sameModel(original, { index: index1, source: source1, resolve: resolve1 }, 'moved out');
    if (moved.length === 0) problems.push('an external data file was written but no tensor refers to it');

    const back = bytesOf(planWrite(index1, source1, [], { inline: true }).model, source1, resolve1);
    const identical = sha(back) === sha(expected);
    if (!identical) {
      const source2 = new MemoryByteSource(back);
      const index2 = indexModel(source2);
      const externals = (index: ModelIndex) =>
        index.tensors.filter((t) => t.payload.kind === 'external').length;
      if (externals(index2) !== externals(indexModel(new MemoryByteSource(expected))))
        problems.push(`${externals(index2)} tensors stayed external`);
      problems.push(
        ...sameModel(original, { index: index2, source: source2, resolve: resolve1 }, 'back inline'),
      );
    }
    return { moved: moved.length, identical, problems };
  } finally {
    model.close();
  }
}

/**
 * Re-encodes every tensor of `modelPath` with its own type, shape and raw bytes (a replaceTensor edit each,
 * in one plan) and checks the result: the same bytes, or the same tensors and nodes where the encoding
 * legitimately changes (typed payloads and Constant value_floats/value_ints become raw_data).
 */
export function reencodeRoundTrip(modelPath: string): RoundTrip {
  const model = openModel(modelPath);
  try {
    const edits: Edit[] = model.index.tensors
      // Strings have no raw form (and sparse tensors are replaced through replaceWithSparse).
      .filter((t) => !t.sparse && t.dtype !== STRING)
      .map((t) => ({
        kind: 'replaceTensor',
        tensorId: t.id,
        tensor: { dtype: t.dtype, dims: t.dims, data: rawOf(t, model.source, model.resolveExternal) },
      }));
    if (edits.length === 0) return { moved: 0, identical: true, problems: [] };
    const plan = planWrite(model.index, model.source, edits);
    const out = bytesOf(plan.model, model.source, model.resolveExternal);
    const file = bytesOf(planWrite(model.index, model.source, []).model, model.source, model.resolveExternal);
    const identical = sha(out) === sha(file);
    const problems: string[] = [];
    if (!identical) {
      const source2 = new MemoryByteSource(out);
      const original = { index: model.index, source: model.source, resolve: model.resolveExternal };
      const again = { index: indexModel(source2), source: source2, resolve: model.resolveExternal };
      problems.push(...sameModel(original, again, 're-encoded'));
    }
    return { moved: edits.length, identical, problems };
  } finally {
    model.close();
  }
}
