import type { ModelIndex, NodeInfo } from '../onnx/modelIndex';

/** The values an integer input can usefully take: [lo, hi), or a few values it is compared with. */
export interface IntegerRange {
  lo: number;
  /** Exclusive. */
  hi: number;
  /** Values the model compares the input with (Equal against a constant); drawn from when present. */
  values?: number[];
  /** Where the range comes from, in words ("rows of embedding wte", "OneHot depth 257"). */
  why: string;
}

/** Reads a small constant tensor's values (initializer or Constant), undefined when it cannot. */
export type ConstantReader = (name: string) => number[] | undefined;

/** Ops that hand integer ids on unchanged (slot 0), on the way to the op that reads them as indices. */
const PASS_THROUGH = new Set([
  'Cast',
  'Unsqueeze',
  'Reshape',
  'Squeeze',
  'Flatten',
  'Identity',
  'Expand',
  'Transpose',
  'Slice',
  'Tile',
]);

/** How far a trace follows the ids (pass-through chains in real exports are short). */
const MAX_DEPTH = 12;

/**
 * The range an integer input is read in: the row count of the embeddings it indexes (Gather indices,
 * EmbedLayerNormalization ids), a OneHot depth, or the constants an Equal compares it with, traced
 * through Cast/Unsqueeze/Reshape-like ops and constant Add/Sub offsets (ids + 1 reading a table of N rows
 * range over [-1, N-1)). Several readers narrow the range to what all of them accept. Undefined when no
 * reader is found.
 */
export function integerInputRange(
  index: ModelIndex,
  input: string,
  readConstant: ConstantReader = () => undefined,
): IntegerRange | undefined {
  const consumers = new Map<string, { node: NodeInfo; slot: number }[]>();
  for (const node of index.nodes) {
    node.inputs.forEach((x, slot) => {
      if (!x) return;
      const list = consumers.get(x) ?? [];
      list.push({ node, slot });
      consumers.set(x, list);
    });
  }
  const tensorByName = new Map(index.tensors.map((t) => [t.name, t]));
  const scalar = (name: string): number | undefined => {
    const v = readConstant(name);
    return v && v.length === 1 && Number.isFinite(v[0]) ? v[0] : undefined;
  };
  let lo = -Infinity;
  let hi = Infinity;
  const whys: string[] = [];
  let values: number[] | undefined;
  const seen = new Set<string>();
  const visit = (name: string, offset: number, depth: number) => {
    const key = `${name}@${offset}`;
    if (seen.has(key) || depth > MAX_DEPTH) return;
    seen.add(key);
    for (const { node, slot } of consumers.get(name) ?? []) {
      const narrow = (rows: number, why: string) => {
        // ids + offset must lie in [0, rows).
        lo = Math.max(lo, 0 - offset);
        hi = Math.min(hi, rows - offset);
        whys.push(why);
      };
      const op = node.opType;
      if (op === 'Gather' && slot === 1) {
        const table = tensorByName.get(node.inputs[0]);
        const axis = node.attributes.find((a) => a.name === 'axis')?.i ?? 0;
        const a = axis < 0 && table ? table.dims.length + axis : axis;
        if (table && table.dims.length > a && table.dims[a] > 0)
          narrow(table.dims[a], `rows of ${table.name} (${table.dims[a]})`);
      } else if (op === 'EmbedLayerNormalization' && (slot === 0 || slot === 1)) {
        const table = tensorByName.get(node.inputs[slot === 0 ? 2 : 4]);
        if (table && table.dims.length >= 1)
          narrow(table.dims[0], `rows of ${table.name} (${table.dims[0]})`);
      } else if (op === 'OneHot' && slot === 0) {
        const depth = scalar(node.inputs[1]);
        if (depth !== undefined && depth >= 1) narrow(Math.floor(depth), `OneHot depth ${Math.floor(depth)}`);
      } else if (op === 'Equal' && (slot === 0 || slot === 1)) {
        const other = node.inputs[1 - slot];
        const constant = readConstant(other);
        if (constant && constant.length >= 1 && constant.length <= 64 && constant.every(Number.isFinite)) {
          values = [...new Set([...(values ?? []), ...constant.map((c) => c - offset)])];
          whys.push(`compared with ${constant.slice(0, 4).join(', ')}`);
        } else {
          const range = rangeLimit(index, other, readConstant);
          if (range !== undefined) narrow(range, `compared with a Range of ${range}`);
        }
      } else if ((op === 'Add' || op === 'Sub') && (slot === 0 || (slot === 1 && op === 'Add'))) {
        const c = scalar(node.inputs[1 - slot]);
        if (c !== undefined) visit(node.outputs[0], offset + (op === 'Add' ? c : -c), depth + 1);
      } else if (PASS_THROUGH.has(op) && slot === 0) {
        visit(node.outputs[0], offset, depth + 1);
      } else if (op === 'Concat') {
        visit(node.outputs[0], offset, depth + 1);
      }
    }
  };
  visit(input, 0, 0);
  if (values && !(hi < Infinity)) {
    return { lo: Math.min(...values), hi: Math.max(...values) + 1, values, why: whys.join('; ') };
  }
  if (!(hi < Infinity)) return undefined;
  if (!(lo > -Infinity)) lo = 0;
  // 0 - 0 is fine, but -0 would print as 0 and compare unequal in strict tests.
  lo += 0;
  if (hi <= lo) return undefined;
  const inRange = values?.filter((v) => v >= lo && v < hi);
  return { lo, hi, ...(inRange?.length ? { values: inRange } : {}), why: whys.join('; ') };
}

/** N when `name` is the output of Range(0, N, 1) with constant N (ids compared with every position). */
function rangeLimit(index: ModelIndex, name: string, readConstant: ConstantReader): number | undefined {
  const node = index.nodes.find((n) => n.opType === 'Range' && n.outputs[0] === name);
  if (!node) return undefined;
  const [start, limit, delta] = node.inputs.map((x) => readConstant(x)?.[0]);
  if (start !== 0 || delta !== 1 || limit === undefined || !(limit >= 1)) return undefined;
  return limit;
}
