/**
 * What `big-shrink diff A B --json` prints and the compare view shows. The field names are the contract of
 * issue 16 (fields may be added, never renamed).
 */
export interface ModelDiff {
  /** No tensor, node, opset, IR version or metadata entry differs. */
  identical: boolean;
  /** Changed tensors first (worst weight SQNR first), then added, removed and same. */
  tensors: TensorDiff[];
  nodes: NodeChanges;
  opsets: OpsetDiff;
  irVersion: { a: number; b: number; changed: boolean };
  metadata: MetadataDiff;
  /** The overviews of both models (for the side-by-side view). */
  a: ModelOverview;
  b: ModelOverview;
  /** Counts by status. */
  summary: Record<TensorStatus, number>;
}

export type TensorStatus = 'same' | 'changed' | 'added' | 'removed';

/** One tensor of A paired with one of B (or alone, when added or removed). */
export interface TensorDiff {
  /** A's name (B's for an added tensor). */
  name: string;
  /** B's name when the pair was matched by position (the name changed). */
  nameB?: string;
  /** The subgraph holding it ("main" for the main graph). */
  graph: string;
  status: TensorStatus;
  /** How the pair was found: by name, by the output a Cast/DequantizeLinear gives it, or by consumer position. */
  matchedBy?: 'name' | 'value' | 'position';
  dtypeA: string | null;
  dtypeB: string | null;
  dimsA: number[] | null;
  dimsB: number[] | null;
  bytesA: number | null;
  bytesB: number | null;
  /**
   * 10·log10(Σa² / Σ(a−b)²) over the values as their consumers read them (quantized codes dequantized, in
   * A's layout), rounded to 3 decimals as in the transform reports; null when the values are equal (no
   * error) or cannot be compared.
   */
  weightSqnrDb: number | null;
  /** max |a − b|; 0 when equal; null when not compared. */
  maxAbsError: number | null;
  /** Fraction of exact zeros in each side's (dequantized) values; null for a side that is absent. */
  sparsityA: number | null;
  sparsityB: number | null;
  /** B is stored as quantized codes (MatMulNBits / DequantizeLinear) and compared dequantized. */
  dequantizedB?: boolean;
  dequantizedA?: boolean;
  /** The consumer op of each side (after following Cast / DequantizeLinear). */
  opA?: string;
  opB?: string;
  /** Why the values were not compared (non-numeric, element counts differ, a read error). */
  note?: string;
  /** With histogram bins asked for: both value histograms over one shared range. */
  histogramA?: SharedHistogram;
  histogramB?: SharedHistogram;
}

/** Equal-width bins over [min, max] (the same range on both sides, so the two overlay). */
export interface SharedHistogram {
  min: number;
  max: number;
  counts: number[];
}

/** A node present on one side only. */
export interface NodeRef {
  name: string;
  op: string;
  graph: string;
}

/** A node of A matched with a node of B whose op type differs (MatMul → MatMulNBits). */
export interface NodeRewrite {
  name: string;
  nameB?: string;
  graph: string;
  from: string;
  to: string;
}

/** A node of A matched with one of B of the same op whose attributes differ. */
export interface NodeAttributeChange {
  name: string;
  op: string;
  graph: string;
  attributes: string[];
}

export interface NodeChanges {
  added: NodeRef[];
  removed: NodeRef[];
  rewritten: NodeRewrite[];
  changed: NodeAttributeChange[];
}

export interface OpsetDiff {
  a: Record<string, number>;
  b: Record<string, number>;
  changed: { domain: string; a: number | null; b: number | null }[];
}

export interface MetadataDiff {
  a: Record<string, string>;
  b: Record<string, string>;
  changed: { key: string; a: string | null; b: string | null }[];
}

/** The overview of one side. */
export interface ModelOverview {
  path: string;
  /** .onnx plus external data. */
  bytes: number;
  irVersion: number;
  producer: string;
  opsets: Record<string, number>;
  parameters: number;
  weightBytes: number;
  nodeCount: number;
  ops: Record<string, number>;
  tensors: number;
}
