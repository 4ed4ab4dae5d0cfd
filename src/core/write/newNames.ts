import type { AttributeInfo, ModelIndex, NodeInfo } from '../onnx/modelIndex';
import type { NewAttribute, NewNode } from './protoEncode';

/** Every name in use (tensors, node inputs/outputs, graph inputs/outputs), so new names never collide. */
export function usedNames(index: ModelIndex): Set<string> {
  const names = new Set<string>();
  for (const t of index.tensors) names.add(t.name);
  for (const n of index.nodes) for (const x of [...n.inputs, ...n.outputs]) names.add(x);
  for (const g of index.graphs) for (const v of [...g.inputs, ...g.outputs]) names.add(v.name);
  return names;
}

/** `wanted`, or `wanted_1`, `wanted_2` … whichever is free; the name is then taken. */
export function uniqueName(names: Set<string>, wanted: string): string {
  let name = wanted;
  for (let i = 1; names.has(name); i++) name = `${wanted}_${i}`;
  names.add(name);
  return name;
}

// AttributeProto.AttributeType values the writer can encode.
const FLOAT = 1;
const INT = 2;
const STRING = 3;
const FLOATS = 6;
const INTS = 7;

/**
 * An existing node as a NewNode, to re-encode it with changes (renamed inputs, attributes moved to
 * inputs). Only nodes whose attributes are numbers, strings or lists of numbers qualify: a string says
 * which attribute is in the way. The node's doc_string is not carried over.
 */
export function nodeFromInfo(node: NodeInfo): NewNode | string {
  const attributes: NewAttribute[] = [];
  for (const a of node.attributes) {
    const attr = attributeFromInfo(a);
    if (!attr)
      return `attribute ${a.name} of ${node.opType} ${node.name || `#${node.id}`} cannot be re-encoded`;
    attributes.push(attr);
  }
  return {
    opType: node.opType,
    domain: node.domain || undefined,
    name: node.name || undefined,
    inputs: [...node.inputs],
    outputs: [...node.outputs],
    attributes,
  };
}

/** One attribute as the writer encodes it; undefined for graphs, tensors, strings lists and unsafe ints. */
export function attributeFromInfo(a: AttributeInfo): NewAttribute | undefined {
  switch (a.type) {
    case FLOAT:
      return a.f === undefined ? undefined : { name: a.name, f: a.f };
    case INT:
      // Values beyond 2^53 were rounded when read: re-encoding them would change them.
      return a.i === undefined || !Number.isSafeInteger(a.i) ? undefined : { name: a.name, i: a.i };
    case STRING:
      return a.s === undefined ? undefined : { name: a.name, s: a.s };
    case FLOATS:
      return { name: a.name, floats: a.floats ?? [] };
    case INTS:
      return (a.ints ?? []).every(Number.isSafeInteger) ? { name: a.name, ints: a.ints ?? [] } : undefined;
    default:
      return undefined;
  }
}
