import { fieldHeader } from './pieces';
import { concat } from './planWrite';
import { encodeStringField, encodeVarint } from './protoEncode';

/** ModelProto.graph, GraphProto.output, ValueInfoProto.name/type, TypeProto.tensor_type, elem_type. */
const M_GRAPH = 7;
const G_OUTPUT = 12;

/**
 * Bytes that, appended to a serialized ModelProto, add graph outputs (name and element type only, which
 * onnxruntime accepts) to its main graph. Protobuf merges a repeated occurrence of a singular message
 * field into the first one (repeated fields concatenate), so `model + extraGraphOutputs(...)` parses as
 * the model with more outputs: no re-encoding of the graph, whatever its size. Used for the temporary
 * models that expose intermediate activations.
 */
export function extraGraphOutputs(outputs: readonly { name: string; elemType: number }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const o of outputs) {
    const elem = concat(encodeVarint(1 << 3), encodeVarint(o.elemType));
    // TypeProto { tensor_type (1) { elem_type (1) } }
    const type = concat(fieldHeader(1, elem.length), elem);
    const info = concat(encodeStringField(1, o.name), fieldHeader(2, type.length), type);
    parts.push(fieldHeader(G_OUTPUT, info.length), info);
  }
  const graph = concat(...parts);
  return concat(fieldHeader(M_GRAPH, graph.length), graph);
}
