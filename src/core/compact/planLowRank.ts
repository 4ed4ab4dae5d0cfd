import type { ModelIndex, NodeInfo } from '../onnx/modelIndex';
import type { TensorSink } from '../quant/planQuantize';
import { DataType } from '../tensor/dataType';
import { emptyPlan } from '../transform/transformPlan';
import { attributeFromInfo, uniqueName, usedNames } from '../write/newNames';
import type { NewAttribute, NewNode } from '../write/protoEncode';
import type { CompactLayerRow, CompactPlan, ReadWeight } from './planCompact';
import { lowRankFactors } from './lowRank';

/** The rank to keep: a fraction of each weight's full rank min(K, N), or a number of singular values. */
export type RankOption = { fraction: number } | { count: number };

/**
 * Plans low-rank factorization: each MatMul/Gemm weight W [K, N] (float32, read by that node only) whose
 * kept rank r makes it smaller (r·(K+N) < K·N) becomes A [K, r] and B [r, N], the node two: MatMul(X, A)
 * then MatMul (or, for Gemm, Gemm with the same C, alpha and beta) by B. Weights it would not shrink are
 * listed as skipped. `pick` limits it to the weights it accepts (shrink factorizes one weight at a time).
 */
export function planLowRank(
  index: ModelIndex,
  rank: RankOption,
  keepFirstLast: boolean,
  read: ReadWeight,
  sink: TensorSink = (b) => b,
  pick?: (weight: string) => boolean,
): CompactPlan {
  const plan: CompactPlan = { ...emptyPlan<CompactLayerRow>(), leftWhole: [] };
  const names = usedNames(index);
  const readers = new Map<string, number>();
  for (const n of index.nodes) for (const i of n.inputs) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  const main = index.graphs[0];
  const candidates: NodeInfo[] = [];
  for (const id of main.nodeIds) {
    const n = index.nodes[id];
    if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
    if (n.opType !== 'MatMul' && n.opType !== 'Gemm') continue;
    const w = index.tensors.find(
      (t) => t.name === n.inputs[1] && t.graph === 'main' && t.where !== 'sparse_initializer',
    );
    if (!w || w.dims.length !== 2) continue;
    if (pick && !pick(w.name)) continue;
    candidates.push(n);
  }
  for (const [i, n] of candidates.entries()) {
    const w = index.tensors.find((t) => t.name === n.inputs[1] && t.graph === 'main')!;
    const name = n.name || w.name;
    const skip = (reason: string) => plan.skipped.push({ name, op: n.opType, reason });
    if (keepFirstLast && (i === 0 || i === candidates.length - 1)) {
      skip('first or last layer (--keep-first-last)');
      continue;
    }
    if (w.dtype !== DataType.FLOAT) {
      skip('not a float32 weight');
      continue;
    }
    if ((readers.get(w.name) ?? 0) !== 1) {
      skip(`${w.name} is shared with other nodes`);
      continue;
    }
    const attrs = new Map(n.attributes.map((a) => [a.name, a]));
    if (n.opType === 'Gemm' && attrs.get('transA')?.i) {
      skip('Gemm with transA');
      continue;
    }
    const transB = n.opType === 'Gemm' && Boolean(attrs.get('transB')?.i);
    const [K, N] = transB ? [w.dims[1], w.dims[0]] : w.dims;
    const full = Math.min(K, N);
    const r = 'fraction' in rank ? Math.max(1, Math.round(rank.fraction * full)) : Math.min(full, rank.count);
    if (r * (K + N) >= K * N) {
      skip(`rank ${r} of ${full} would not make it smaller (${r}·(${K}+${N}) ≥ ${K}·${N})`);
      continue;
    }
    let values = read(w);
    if (transB) values = transpose(values, N, K);
    const f = lowRankFactors(values, K, N, r);
    const aName = uniqueName(names, `${w.name}.lowrank_a`);
    const bName = uniqueName(names, `${w.name}.lowrank_b`);
    const mid = uniqueName(names, `${n.outputs[0]}.lowrank`);
    const first: NewNode = {
      opType: 'MatMul',
      name: `${name}.lowrank_a`,
      inputs: [n.inputs[0], aName],
      outputs: [mid],
    };
    let second: NewNode;
    if (n.opType === 'MatMul') {
      second = { opType: 'MatMul', name: n.name, inputs: [mid, bName], outputs: n.outputs };
    } else {
      const kept: NewAttribute[] = [];
      for (const a of n.attributes) {
        if (a.name === 'transA' || a.name === 'transB') continue;
        const encoded = attributeFromInfo(a);
        if (encoded) kept.push(encoded);
      }
      second = {
        opType: 'Gemm',
        name: n.name,
        inputs: [mid, bName, ...n.inputs.slice(2)],
        outputs: n.outputs,
        attributes: kept,
      };
    }
    plan.edits.push(
      { kind: 'replaceNode', nodeId: n.id, nodes: [first, second] },
      { kind: 'removeTensor', tensorId: w.id },
      {
        kind: 'addTensor',
        graph: 'main',
        name: aName,
        tensor: { dtype: w.dtype, dims: [K, r], data: sink(bytes(f.a)) },
      },
      {
        kind: 'addTensor',
        graph: 'main',
        name: bName,
        tensor: { dtype: w.dtype, dims: [r, N], data: sink(bytes(f.b)) },
      },
    );
    plan.nodes.push({
      node: name,
      graph: 'main',
      from: n.opType,
      to: `MatMul + ${second.opType}`,
      weight: w.name,
      note: `rank ${r} of ${full}`,
    });
    plan.tensors.push({
      name,
      kind: 'lowrank',
      op: n.opType,
      unitsBefore: full,
      unitsAfter: r,
      removed: [],
      bytesBefore: K * N * 4,
      bytesAfter: r * (K + N) * 4,
      importanceKept: f.energyKept,
      rank: r,
      energyKept: f.energyKept,
      tensors: [
        { name: w.name, dimsBefore: w.dims, dimsAfter: [], bytesBefore: K * N * 4, bytesAfter: 0 },
        { name: aName, dimsBefore: [], dimsAfter: [K, r], bytesBefore: 0, bytesAfter: K * r * 4 },
        { name: bName, dimsBefore: [], dimsAfter: [r, N], bytesBefore: 0, bytesAfter: r * N * 4 },
      ],
    });
  }
  return plan;
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = values[i * cols + j];
  return out;
}

const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
