import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex } from '../onnx/modelIndex';
import { DataType, dataTypeName, rawByteLength } from '../tensor/dataType';
import { uniqueName, usedNames } from '../write/newNames';
import type { TensorSink } from './planQuantize';
import { type QuantizePlan, readFloat32 } from './planQuantize';
import { quantizeBlockwise, sqnrDb } from './quantizeBlockwise';

/** How token embeddings are quantized (`quantize --embedding 4|8`). */
export interface EmbeddingOptions {
  bits: 4 | 8;
  /** Block size along the hidden axis (a power of two, 16–256; must divide the hidden size). */
  blockSize: number;
}

/**
 * Adds to `plan` the token embeddings turned into `com.microsoft::GatherBlockQuantized`: every float
 * initializer [V, H] read only by `Gather` nodes on axis 0 (as data) becomes uint8 codes [V, H·bits/8]
 * (4-bit: two per byte, low nibble first), scales [V, H/block] in the weight's float type and packed zero
 * points [V, ⌈(H/block)·bits/8⌉], quantized per block of H values of a row with ONNX Runtime's
 * round-to-nearest (the MatMulNBits quantizer on the row-major [V, H] layout, asymmetric), and each
 * Gather becomes GatherBlockQuantized (gather_axis 0, quantize_axis 1, block_size, bits). An embedding
 * also read by another op (a tied LM head through Transpose) stays float and is listed as skipped: its
 * single stored copy serves both readers.
 */
export function planEmbeddingQuantize(
  index: ModelIndex,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  plan: QuantizePlan,
  options: EmbeddingOptions,
  sink: TensorSink,
): void {
  const names = usedNames(index);
  const edited = new Set<number>();
  for (const e of plan.edits)
    if (e.kind === 'replaceTensor' || e.kind === 'removeTensor') edited.add(e.tensorId);
  for (const t of index.tensors) {
    if (t.where !== 'initializer' || t.dims.length !== 2 || edited.has(t.id)) continue;
    if (t.dtype !== DataType.FLOAT && t.dtype !== DataType.FLOAT16) continue;
    const readers = t.consumers.map((c) => ({ c, node: index.nodes[c.nodeId] }));
    const gathers = readers.filter(
      ({ c, node }) =>
        node.opType === 'Gather' &&
        node.domain === '' &&
        c.input === 0 &&
        (node.attributes.find((a) => a.name === 'axis')?.i ?? 0) === 0,
    );
    if (gathers.length === 0) continue;
    const op = 'Gather';
    if (gathers.length !== readers.length) {
      const others = readers.filter((r) => !gathers.includes(r)).map((r) => r.node.opType);
      plan.skipped.push({
        name: t.name,
        op,
        reason: `embedding also read by ${[...new Set(others)].join(', ')} (tied): left in float, stored once`,
      });
      continue;
    }
    const [V, H] = t.dims;
    if (H % options.blockSize !== 0) {
      plan.skipped.push({
        name: t.name,
        op,
        reason: `hidden size ${H} is not a multiple of block ${options.blockSize}`,
      });
      continue;
    }
    const values = readFloat32(t, source, resolveExternal);
    const q = values
      ? quantizeBlockwise(
          values,
          H,
          V,
          {
            bits: options.bits,
            blockSize: options.blockSize,
            symmetric: false,
            scaleType: t.dtype === DataType.FLOAT16 ? 'float16' : 'float32',
          },
          'NK',
          1,
        )
      : undefined;
    if (!q || !q.zeroPoints) {
      plan.skipped.push({ name: t.name, op, reason: 'holds NaN or infinite values' });
      continue;
    }
    const codes = uniqueName(names, `${t.name}_Q${options.bits}`);
    const scales = uniqueName(names, `${t.name}_scales`);
    const zp = uniqueName(names, `${t.name}_zp`);
    const zpPerRow = q.zeroPoints.length / V;
    plan.edits.push(
      {
        kind: 'addTensor',
        graph: t.graph,
        name: codes,
        tensor: { dtype: DataType.UINT8, dims: [V, (H * options.bits) / 8], data: sink(q.b) },
      },
      {
        kind: 'addTensor',
        graph: t.graph,
        name: scales,
        tensor: { dtype: t.dtype, dims: [V, q.kBlocks], data: sink(q.scaleBytes) },
      },
      {
        kind: 'addTensor',
        graph: t.graph,
        name: zp,
        tensor: { dtype: DataType.UINT8, dims: [V, zpPerRow], data: sink(q.zeroPoints) },
      },
      { kind: 'removeTensor', tensorId: t.id },
    );
    for (const { node } of gathers) {
      plan.edits.push({
        kind: 'replaceNode',
        nodeId: node.id,
        nodes: [
          {
            opType: 'GatherBlockQuantized',
            domain: 'com.microsoft',
            name: node.name || undefined,
            inputs: [codes, node.inputs[1], scales, zp],
            outputs: node.outputs,
            attributes: [
              { name: 'gather_axis', i: 0 },
              { name: 'quantize_axis', i: 1 },
              { name: 'block_size', i: options.blockSize },
              { name: 'bits', i: options.bits },
            ],
          },
        ],
      });
      plan.nodes.push({
        node: node.name || `#${node.id}`,
        graph: node.graph,
        from: 'Gather',
        to: 'com.microsoft::GatherBlockQuantized',
        weight: t.name,
        note: `token embedding, ${options.bits}-bit block ${options.blockSize}`,
      });
    }
    plan.tensors.push({
      name: t.name,
      graph: t.graph,
      op,
      nodes: gathers.map(({ node }) => node.name || `#${node.id}`),
      dims: t.dims,
      beforeDtype: dataTypeName(t.dtype),
      afterDtype: `uint${options.bits} (GatherBlockQuantized, block ${options.blockSize})`,
      beforeBytes: rawByteLength(t.dtype, t.count),
      afterBytes: q.b.length + q.scaleBytes.length + q.zeroPoints.length,
      weightSqnrDb: Math.round(sqnrDb(q.signalEnergy, q.errorEnergy) * 1000) / 1000,
      removed: true,
    });
  }
}
