import { fieldHeader } from './pieces';
import { concat } from './planWrite';
import { encodeStringField, encodeVarint } from './protoEncode';

/** ModelProto.graph, GraphProto.input/output, ValueInfoProto.name/type, TypeProto.tensor_type, elem_type. */
const M_GRAPH = 7;
const G_INPUT = 11;
const G_OUTPUT = 12;

/** A value to declare: its name and, when known, its element type. */
export interface ExtraValue {
  name: string;
  /** Undefined: no type (onnxruntime infers an output's; an input needs one). */
  elemType?: number;
}

/**
 * Bytes that, appended to a serialized ModelProto, add graph outputs (name and element type only, which
 * onnxruntime accepts) to its main graph — and, with `inputs`, graph inputs. Protobuf merges a repeated
 * occurrence of a singular message field into the first one (repeated fields concatenate), so
 * `model + extraGraphOutputs(...)` parses as the model with more outputs: no re-encoding of the graph,
 * whatever its size. Used for the temporary models that expose intermediate activations, and for the parts
 * of a model cut out to run alone (captureInSegments).
 */
export function extraGraphOutputs(
  outputs: readonly ExtraValue[],
  inputs: readonly ExtraValue[] = [],
): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [field, values] of [
    [G_INPUT, inputs],
    [G_OUTPUT, outputs],
  ] as const)
    for (const v of values) {
      const name = encodeStringField(1, v.name);
      let info = name;
      if (v.elemType !== undefined) {
        const elem = concat(encodeVarint(1 << 3), encodeVarint(v.elemType));
        // TypeProto { tensor_type (1) { elem_type (1) } }
        const tensorType = concat(fieldHeader(1, elem.length), elem);
        info = concat(name, fieldHeader(2, tensorType.length), tensorType);
      }
      parts.push(fieldHeader(field, info.length), info);
    }
  const graph = concat(...parts);
  return concat(fieldHeader(M_GRAPH, graph.length), graph);
}
