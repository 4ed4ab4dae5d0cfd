import type { ByteSource, ExternalDataResolver } from '../io/byteSource';
import type { ModelIndex, NodeInfo, TensorInfo } from '../onnx/modelIndex';
import { DataType, dataTypeName, rawByteLength } from '../tensor/dataType';
import { emptyPlan } from '../transform/transformPlan';
import { nodeFromInfo, uniqueName, usedNames } from '../write/newNames';
import type { NewNode } from '../write/protoEncode';
import { planRaiseOpset } from '../write/raiseOpset';
import { type QuantizeOptions, type QuantizePlan, readFloat32, type TensorSink } from './planQuantize';
import { sqnrDb } from './quantizeBlockwise';
import { quantizeQdq, type QdqOptions } from './quantizeQdq';
import { quantTargets } from './quantTargets';

/**
 * The opset DequantizeLinear needs: blocked int4/uint4 at 21, per-axis int8 at 13 (float outputs) or 19
 * (float16 scales and outputs).
 */
export function qdqOpset(bits: 4 | 8, float16: boolean): number {
  return bits === 4 ? 21 : float16 ? 19 : 13;
}

/** How one reader takes the weight: which axis is reduced and which one holds output channels. */
interface Use {
  node: NodeInfo;
  /** The axis summed over (blocked for 4-bit). */
  reduction: number;
  /** The output-channel axis (per-channel scales for 8-bit). */
  channel: number;
}

/**
 * Plans the portable weight-only format: each constant float weight read by a `MatMul` (B `[K, N]`),
 * `Gemm` (B, transB 0 or 1; alpha, beta, C and transA untouched) or `Conv` (W `[O, I/group, k…]`) is stored
 * as integer codes + scales (+ zero points) and a standard `DequantizeLinear` recreates it in front of the
 * ORIGINAL op. 4-bit: int4 (symmetric) or uint4 with zero points, blocked along the reduction axis (K, or
 * Conv's input channels) with `block_size` — opset 21. 8-bit: int8 with one scale per output channel —
 * opset 13. The default-domain opset is raised only as far as that (the model's nodes whose signature
 * changed on the way are rewritten, see planRaiseOpset; `blockers` lists those that cannot be) and the IR
 * version to what the opset and int4 need (10 for 4-bit). The DequantizeLinear output takes the weight's
 * name when nothing else reads the float weight, so the consumers stay byte-for-byte as they were;
 * otherwise the float weight stays for the other readers and the quantized ops read a new name.
 */
export function planQdq(
  index: ModelIndex,
  source: ByteSource,
  resolveExternal: ExternalDataResolver,
  options: QuantizeOptions,
  sink: TensorSink = (bytes) => bytes,
): QuantizePlan {
  const plan: QuantizePlan = emptyPlan();
  if (options.bits !== 4 && options.bits !== 8) {
    plan.blockers.push(
      `DequantizeLinear weights are 4- or 8-bit (use --format nbits for ${options.bits}-bit)`,
    );
    return plan;
  }
  const bits = options.bits;
  const ops = new Set(options.ops);
  const names = usedNames(index);
  const graphs = new Map(index.graphs.map((g) => [g.path, g]));
  const dqNodes = new Map<string, NewNode[]>();
  const targets = quantTargets(
    index,
    options,
    plan.skipped,
    (node, t) => asUse(node, t, ops),
    (t) => (t.sparse ? `${t.name} is a sparse initializer` : undefined),
  );

  for (const { tensor: t, uses, others, skip, row } of targets) {
    const axis = bits === 4 ? uses[0].reduction : uses[0].channel;
    if (uses.some((u) => (bits === 4 ? u.reduction : u.channel) !== axis)) {
      skip(`${t.name} is read along different axes by ${uses.map((u) => u.node.opType).join(' and ')}`);
      continue;
    }
    const qo: QdqOptions = {
      bits,
      symmetric: options.symmetric,
      axis,
      blockSize: bits === 4 ? options.blockSize : 0,
      scaleType: t.dtype === DataType.FLOAT16 ? 'float16' : 'float32',
    };
    const beforeBytes = rawByteLength(t.dtype, t.count);
    const afterBytes = qdqBytes(t, qo);
    if (bits === 4 && afterBytes > beforeBytes / 2) {
      skip(
        `${t.name} [${t.dims.join(', ')}]: blocks along axis ${axis} hold only ${t.dims[axis]} values, so the ` +
          `scales would cost more than 4-bit codes save (${afterBytes} of ${beforeBytes} bytes); use --bits 8`,
      );
      continue;
    }
    // The consumers keep their bytes when the weight's name can go to the DequantizeLinear output.
    const renamed = others.length > 0;
    const rewritten = renamed ? uses.map((u) => nodeFromInfo(u.node)) : [];
    const cannot = rewritten.find((n): n is string => typeof n === 'string');
    if (cannot) {
      skip(`${t.name} is also read by ${others.map((n) => n.opType).join(', ')} and ${cannot}`);
      continue;
    }
    const values = readFloat32(t, source, resolveExternal);
    if (!values) {
      skip(`${t.name} holds NaN or infinite values`);
      continue;
    }
    const q = quantizeQdq(values, t.dims, qo);
    const codes = uniqueName(names, `${t.name}_quantized`);
    const scale = uniqueName(names, `${t.name}_scale`);
    const zp = q.zeroPoints ? uniqueName(names, `${t.name}_zero_point`) : undefined;
    const output = renamed ? uniqueName(names, `${t.name}_dequantized`) : t.name;
    plan.edits.push(
      {
        kind: 'addTensor',
        graph: t.graph,
        name: codes,
        tensor: { dtype: q.codeType, dims: t.dims, data: sink(q.codes) },
      },
      {
        kind: 'addTensor',
        graph: t.graph,
        name: scale,
        tensor: { dtype: t.dtype, dims: q.scaleDims, data: sink(q.scaleBytes) },
      },
    );
    if (zp && q.zeroPoints) {
      plan.edits.push({
        kind: 'addTensor',
        graph: t.graph,
        name: zp,
        tensor: { dtype: q.codeType, dims: q.scaleDims, data: sink(q.zeroPoints) },
      });
    }
    const dqName = uniqueName(names, `${t.name}_DequantizeLinear`);
    const attributes = [{ name: 'axis', i: axis }];
    if (qo.blockSize > 0) attributes.push({ name: 'block_size', i: qo.blockSize });
    const dq: NewNode = {
      opType: 'DequantizeLinear',
      name: dqName,
      inputs: [codes, scale, zp ?? ''],
      outputs: [output],
      attributes,
    };
    if (!zp) dq.inputs.pop();
    const list = dqNodes.get(t.graph) ?? [];
    list.push(dq);
    dqNodes.set(t.graph, list);
    if (renamed) {
      uses.forEach((u, i) => {
        const n = rewritten[i] as NewNode;
        n.inputs[1] = output;
        plan.edits.push({ kind: 'replaceNode', nodeId: u.node.id, nodes: [n] });
      });
    } else plan.edits.push({ kind: 'removeTensor', tensorId: t.id });
    const layout =
      qo.blockSize > 0 ? `block ${qo.blockSize} along axis ${axis}` : `per channel along axis ${axis}`;
    plan.nodes.push({
      node: dqName,
      graph: t.graph,
      from: t.where === 'constant' ? 'Constant' : 'initializer',
      to: 'DequantizeLinear',
      weight: t.name,
      note:
        `${dataTypeName(q.codeType)} ${layout}, feeds ${uses.map((u) => `${u.node.opType} ${u.node.name || `#${u.node.id}`}`).join(', ')}` +
        (renamed
          ? ` (as ${output}; the float weight stays for ${others.map((n) => n.opType).join(', ')})`
          : ''),
    });
    plan.tensors.push({
      ...row,
      afterDtype: `${dataTypeName(q.codeType)} (DequantizeLinear, ${layout}${options.symmetric ? ', symmetric' : ''})`,
      beforeBytes,
      afterBytes,
      weightSqnrDb: round3(sqnrDb(q.signalEnergy, q.errorEnergy)),
      removed: !renamed,
    });
  }
  if (plan.tensors.length === 0) return plan;

  for (const [graph, nodes] of dqNodes) {
    const first = graphs.get(graph)!.nodeIds[0];
    plan.edits.push({ kind: 'insertNodes', graph, beforeNodeId: first, nodes });
  }
  const float16 = plan.tensors.some((t) => t.beforeDtype === 'float16');
  const raise = planRaiseOpset(index, qdqOpset(bits, float16), names, bits === 4 ? 10 : 0);
  plan.edits.push(...raise.edits);
  plan.opsetChanges.push(...raise.changes);
  plan.blockers.push(...raise.refusals.map((r) => `cannot raise the opset to ${raise.to}: ${r}`));
  if (raise.to > raise.from) {
    plan.warnings.push(
      `the default opset was raised from ${raise.from} to ${raise.to} for DequantizeLinear ` +
        `(${bits === 4 ? 'blocked int4 needs opset 21 and IR 10' : `per-channel int8 ${float16 ? 'with float16 scales needs opset 19' : 'needs opset 13'}`}): ` +
        'runtimes older than that cannot load the result',
    );
  }
  return plan;
}

/** How a node reads a weight at input 1, if it is one of the ops to quantize; a string says why not. */
function asUse(node: NodeInfo, t: TensorInfo, ops: Set<string>): Use | string | undefined {
  if ((node.domain !== '' && node.domain !== 'ai.onnx') || !ops.has(node.opType)) return undefined;
  const rank = t.dims.length;
  switch (node.opType) {
    case 'MatMul':
      return rank === 2 ? { node, reduction: 0, channel: 1 } : `${t.name} is not a 2-D MatMul weight`;
    case 'Gemm': {
      const transB = node.attributes.find((a) => a.name === 'transB')?.i ?? 0;
      return transB ? { node, reduction: 1, channel: 0 } : { node, reduction: 0, channel: 1 };
    }
    case 'Conv':
      return rank >= 3 ? { node, reduction: 1, channel: 0 } : `${t.name} is not a Conv weight`;
    default:
      return undefined;
  }
}

/** Bytes of codes, scales and zero points for a weight. */
function qdqBytes(t: TensorInfo, o: QdqOptions): number {
  const groups =
    o.blockSize > 0 ? (t.count / t.dims[o.axis]) * Math.ceil(t.dims[o.axis] / o.blockSize) : t.dims[o.axis];
  const codeType = o.bits === 4 ? DataType.INT4 : DataType.INT8;
  return (
    rawByteLength(codeType, t.count) +
    rawByteLength(t.dtype, groups) +
    (o.symmetric ? 0 : rawByteLength(codeType, groups))
  );
}

function round3(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;
}
