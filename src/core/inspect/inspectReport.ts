import type { TensorRole, TensorStorage, TensorWhere } from '../onnx/modelIndex';
import type { TensorStats } from '../stats/tensorStats';

/**
 * What `big-shrink inspect --json` prints and what the model editor shows. Field names are a contract
 * (see the foundation issue); fields may be added, never renamed.
 */
export interface InspectReport {
  file: FileSummary;
  model: ModelSummary;
  tensors: TensorSummary[];
}

export interface FileSummary {
  path: string;
  bytes: number;
  externalFiles: { path: string; bytes: number }[];
}

export interface IoSummary {
  name: string;
  dtype: string;
  shape: (number | string | null)[] | null;
}

export interface ModelSummary {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsets: Record<string, number>;
  inputs: IoSummary[];
  outputs: IoSummary[];
  nodeCount: number;
  ops: Record<string, number>;
  /**
   * Weights in learned tensors: one per weight however it is stored (a MatMulNBits B holds two 4-bit
   * weights per byte), none for quantization scales and zero points.
   */
  parameters: number;
  /** Stored bytes of learned weights. */
  weightBytes: number;
  /** Extras for the overview. */
  metadata: Record<string, string>;
  graphs: string[];
  /** Parameters and stored bytes of learned weights per dtype name (MatMulNBits codes as `uint4`, `uint2`…). */
  byDtype: Record<string, { tensors: number; parameters: number; bytes: number }>;
  /** Learned weights that are already quantized (low-bit codes with a scale) or stored sparse. */
  quantizedParameters: number;
  sparseParameters: number;
}

export interface TensorSummary {
  /** Position in `tensors` (stable for one index of one file). */
  id: number;
  name: string;
  dtype: string;
  dims: number[];
  where: TensorWhere;
  graph: string;
  storage: TensorStorage;
  bytes: number;
  /** Names of the nodes that read it (op type and index when a node has no name). */
  consumers: string[];
  /** Op types of the consumers, in the same order. */
  consumerOps: string[];
  learned: boolean;
  role: TensorRole;
  /** Learned parameters it holds (see ModelSummary.parameters); 0 unless `learned`. */
  parameters: number;
  /** Filled when computed (the editor streams them in). */
  stats?: TensorStats;
  dequantized?: TensorStats;
  /** Names of other tensors with byte-identical contents (same dtype and dims). */
  duplicates?: string[];
}
