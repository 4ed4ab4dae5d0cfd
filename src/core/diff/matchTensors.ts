import type { ModelIndex, NodeInfo, TensorInfo } from '../onnx/modelIndex';
import type { NodeMatch } from './matchNodes';

/** How a layer reads a 2-D weight: `[K, N]` (MatMul B, Gemm transB=0) or `[N, K]` (Gemm transB=1, MatMulNBits). */
export type WeightOrientation = 'KN' | 'NK';

/** One place a tensor's values are read, after following Cast and DequantizeLinear to the layer that uses them. */
export interface TensorUse {
  nodeId: number;
  op: string;
  /** The input as the layer names it: `B` for a MatMul/Gemm/MatMulNBits weight, `bias`, or the input index. */
  slot: string;
  orientation?: WeightOrientation;
  /** A Gemm's alpha (a quantizer folds it into the weight). */
  alpha: number;
  /** The value a Cast / DequantizeLinear in between produces (fp16 conversions keep the weight's name there). */
  via?: string;
}

/** A tensor of A and a tensor of B that hold the same weight, and how they were paired. */
export interface TensorPair {
  a?: TensorInfo;
  b?: TensorInfo;
  matchedBy?: 'name' | 'value' | 'position';
}

const PASS_THROUGH = new Set(['Cast', 'DequantizeLinear']);

/** Readers of every value name, per graph (`graph\0name` -> node inputs). */
function readersOf(index: ModelIndex): Map<string, { node: NodeInfo; input: number }[]> {
  const out = new Map<string, { node: NodeInfo; input: number }[]>();
  for (const node of index.nodes) {
    node.inputs.forEach((name, input) => {
      if (!name) return;
      const key = `${node.graph}\0${name}`;
      let list = out.get(key);
      if (!list) out.set(key, (list = []));
      list.push({ node, input });
    });
  }
  return out;
}

/** The layer-level uses of each tensor of `index`. */
export function tensorUses(index: ModelIndex): Map<number, TensorUse[]> {
  const readers = readersOf(index);
  const out = new Map<number, TensorUse[]>();
  for (const t of index.tensors) {
    const uses: TensorUse[] = [];
    const visit = (node: NodeInfo, input: number, via: string | undefined, depth: number) => {
      if (PASS_THROUGH.has(node.opType) && input === 0 && node.outputs[0] && depth < 4) {
        const next = readers.get(`${node.graph}\0${node.outputs[0]}`) ?? [];
        for (const r of next) visit(r.node, r.input, node.outputs[0], depth + 1);
        if (next.length > 0) return;
      }
      uses.push(useOf(node, input, via));
    };
    for (const c of t.consumers) visit(index.nodes[c.nodeId], c.input, undefined, 0);
    out.set(t.id, uses);
  }
  return out;
}

function useOf(node: NodeInfo, input: number, via: string | undefined): TensorUse {
  const int = (name: string) => node.attributes.find((a) => a.name === name)?.i;
  const float = (name: string) => node.attributes.find((a) => a.name === name)?.f;
  const use: TensorUse = { nodeId: node.id, op: node.opType, slot: String(input), alpha: 1, via };
  const nbits = node.opType === 'MatMulNBits';
  if ((node.opType === 'MatMul' || node.opType === 'Gemm' || nbits) && input === 1) use.slot = 'B';
  if ((node.opType === 'Gemm' && input === 2) || (nbits && input === 5)) use.slot = 'bias';
  if (node.opType === 'MatMul' && input === 1) use.orientation = 'KN';
  if (node.opType === 'Gemm' && input === 1) {
    use.orientation = int('transB') ? 'NK' : 'KN';
    use.alpha = float('alpha') ?? 1;
  }
  if (nbits && input === 1) use.orientation = 'NK';
  return use;
}

/** The dims a tensor's values have as its layer reads them (MatMulNBits codes: the weight's `[N, K]`). */
export function logicalDims(index: ModelIndex, t: TensorInfo, uses: TensorUse[]): number[] {
  const nbits = uses.find((u) => u.op === 'MatMulNBits' && u.slot === 'B' && u.via === undefined);
  if (nbits) {
    const node = index.nodes[nbits.nodeId];
    const int = (name: string) => node.attributes.find((a) => a.name === name)?.i;
    const K = int('K');
    const N = int('N');
    if (K !== undefined && N !== undefined) return [N, K];
  }
  return t.dims;
}

/** Whether two logical shapes hold the same weight, allowing the transpose a change of orientation brings. */
export function sameWeightShape(
  dimsA: number[],
  dimsB: number[],
  orientationA: WeightOrientation | undefined,
  orientationB: WeightOrientation | undefined,
): boolean {
  const flip = orientationA && orientationB && orientationA !== orientationB && dimsA.length === 2;
  const want = flip ? [dimsA[1], dimsA[0]] : dimsA;
  return want.length === dimsB.length && want.every((d, i) => d === dimsB[i]);
}

/**
 * Pairs the tensors of A and B: by name within the same graph; then a tensor whose Cast or
 * DequantizeLinear produces a value named like a tensor of the other side (`W_fp16` -> Cast -> `W`);
 * then by position: read by paired nodes at the same input, with the same shape as the layer reads it
 * (a MatMul's `[K, N]` weight pairs with a MatMulNBits's `[N, K]` codes). Unpaired tensors are returned
 * alone (added or removed).
 */
export function matchTensors(
  a: ModelIndex,
  b: ModelIndex,
  nodes: NodeMatch,
  usesA: Map<number, TensorUse[]>,
  usesB: Map<number, TensorUse[]>,
): TensorPair[] {
  const pairs: TensorPair[] = [];
  const doneA = new Set<number>();
  const doneB = new Set<number>();
  const pair = (x: TensorInfo, y: TensorInfo, matchedBy: TensorPair['matchedBy']) => {
    pairs.push({ a: x, b: y, matchedBy });
    doneA.add(x.id);
    doneB.add(y.id);
  };
  const key = (t: TensorInfo) => `${t.graph}\0${t.name}`;
  const byName = (index: ModelIndex) => {
    const m = new Map<string, TensorInfo[]>();
    for (const t of index.tensors) {
      let list = m.get(key(t));
      if (!list) m.set(key(t), (list = []));
      list.push(t);
    }
    return m;
  };
  const namesB = byName(b);
  for (const t of a.tensors) {
    const y = namesB.get(key(t))?.find((c) => !doneB.has(c.id));
    if (y) pair(t, y, 'name');
  }

  // A weight converted behind a Cast or a DequantizeLinear that gives back its old name.
  const namesA = byName(a);
  for (const t of b.tensors) {
    if (doneB.has(t.id)) continue;
    for (const u of usesB.get(t.id) ?? []) {
      const x = u.via && namesA.get(`${t.graph}\0${u.via}`)?.find((c) => !doneA.has(c.id));
      if (x) {
        pair(x, t, 'value');
        break;
      }
    }
  }
  for (const t of a.tensors) {
    if (doneA.has(t.id)) continue;
    for (const u of usesA.get(t.id) ?? []) {
      const y = u.via && namesB.get(`${t.graph}\0${u.via}`)?.find((c) => !doneB.has(c.id));
      if (y) {
        pair(t, y, 'value');
        break;
      }
    }
  }

  // By position: the same input of paired nodes, and a shape that fits.
  const atPosition = new Map<string, TensorInfo[]>();
  for (const t of b.tensors) {
    if (doneB.has(t.id)) continue;
    for (const u of usesB.get(t.id) ?? []) {
      const k = `${u.nodeId}:${u.slot}`;
      let list = atPosition.get(k);
      if (!list) atPosition.set(k, (list = []));
      list.push(t);
    }
  }
  for (const t of a.tensors) {
    if (doneA.has(t.id)) continue;
    const uses = usesA.get(t.id) ?? [];
    const dimsA = logicalDims(a, t, uses);
    search: for (const u of uses) {
      const nodeB = nodes.aToB.get(u.nodeId);
      if (nodeB === undefined) continue;
      for (const y of atPosition.get(`${nodeB}:${u.slot}`) ?? []) {
        if (doneB.has(y.id)) continue;
        const usesY = usesB.get(y.id) ?? [];
        const useY = usesY.find((v) => v.nodeId === nodeB && v.slot === u.slot);
        if (sameWeightShape(dimsA, logicalDims(b, y, usesY), u.orientation, useY?.orientation)) {
          pair(t, y, 'position');
          break search;
        }
      }
    }
  }

  for (const t of a.tensors) if (!doneA.has(t.id)) pairs.push({ a: t });
  for (const t of b.tensors) if (!doneB.has(t.id)) pairs.push({ b: t });
  return pairs;
}
