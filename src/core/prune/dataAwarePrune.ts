import { weightColumns } from '../quant/blockCodes';
import { gptqFactor, type RowProgress } from '../quant/gptqQuantize';
import { GPTQ_MIN_ROWS_PER_K } from '../quant/dataAwareQuantize';
import { gramError } from '../quant/gramMatrix';
import { jsProducts, type Products } from '../quant/products';

/** Pruning methods that weigh each weight by the activations it multiplies (issue 15). */
export type DataAwarePruneMethod = 'wanda' | 'sparsegpt';
export const DATA_AWARE_PRUNE_METHODS: readonly DataAwarePruneMethod[] = ['wanda', 'sparsegpt'];

/** What to cut per output unit: an unstructured share, or N of every M along the reduction axis K. */
export interface PruneRule {
  sparsity: number;
  /** N:M when both are set (the sparsity is then 1 − N/M). */
  n?: number;
  m?: number;
}

/** SparseGPT's mask-selection block along K (the paper's B_s = 128). */
export const SPARSEGPT_BLOCK = 128;

/** One weight pruned with its calibration activations, and how well it reproduces the layer there. */
export interface DataAwarePrunedLayer {
  /**
   * The method that chose it: the one asked for, wanda for sparsegpt with too few calibration rows, or
   * magnitude when the method lost to magnitude on the held-out activations (`fallback` says why).
   */
  method: DataAwarePruneMethod | 'magnitude';
  fallback?: string;
  /**
   * Wanda, unstructured: the comparison group whose mask rebuilt the layer better on the calibration rows,
   * per output unit (Wanda's choice for LLMs) or across the whole layer (its choice for image models).
   */
  group?: WandaGroup;
  /** The pruned values in the weight's stored layout (float32; pruned positions exactly 0). */
  values: Float32Array;
  /** 1 = kept, in the stored layout. */
  keep: Uint8Array;
  /** ‖XW‖², ‖X(W−Ŵ)‖² of this method and of magnitude pruning at the same rule, on the calibration rows. */
  signal: number;
  error: number;
  magnitudeError: number;
  /** The same errors on held-out activations (XᵀX of rows the choice never saw), when given. */
  heldOutError?: number;
  heldOutMagnitudeError?: number;
}

/** Where Wanda's scores compete: among each output unit's K weights, or among all of the layer's. */
export type WandaGroup = 'unit' | 'layer';

/** A pruned `[N, K]` weight (one row per output unit) and its keep-mask in the same order. */
interface PrunedColumns {
  columns: Float64Array;
  keep: Uint8Array;
}

/**
 * Prunes a `[K, N]` (`layout` KN, ONNX MatMul's B) or `[N, K]` (NK, Gemm transB=1) weight with the Gram
 * matrix `gram` = XᵀX (`[K, K]`) of the activations that multiply it. Every output unit n (a column of
 * the KN weight) loses the same share of its K weights, or N:M groups along K.
 * - wanda (Sun et al. 2023): score |w_kn|·‖x_k‖₂, with ‖x_k‖₂² the diagonal of XᵀX; the lowest scores go.
 * - sparsegpt (Frantar & Alistarh 2023, Algorithm 1): the mask is chosen per block of SPARSEGPT_BLOCK
 *   rows of K (per group of M for N:M) by w²/[U]_kk² on the weights as updated so far (U the upper
 *   Cholesky factor of (H + λI)⁻¹, as GPTQ), and each pruned weight's error is spread over the weights
 *   not yet visited (the OBS update w_j −= w_k/U_kk · U_kj), so the kept weights rebuild the layer's
 *   output on the calibration activations.
 * The magnitude figure is what `--method magnitude` (one cut per weight) or `nm` would leave. SparseGPT
 * with fewer than GPTQ_MIN_ROWS_PER_K·K calibration `rows` would fit the calibration rows' subspace (XᵀX
 * is singular), so such a layer gets wanda. With `heldOutGram`, a layer whose method loses to magnitude
 * on those held-out rows is answered with `method` 'magnitude' (planPrune then prunes it by magnitude).
 */
export async function pruneDataAware(
  method: DataAwarePruneMethod,
  weight: Float32Array,
  K: number,
  N: number,
  layout: 'KN' | 'NK',
  gram: Float64Array,
  rule: PruneRule,
  progress?: RowProgress,
  rows = Infinity,
  heldOutGram?: Float64Array,
  products: Products = jsProducts,
): Promise<DataAwarePrunedLayer> {
  checkRule(rule);
  const original = weightColumns(weight, K, N, layout);
  const errorOf = (h: Float64Array, b?: Float64Array) => gramError(h, K, N, original, b, products);
  const use: DataAwarePruneMethod =
    method === 'sparsegpt' && rows < GPTQ_MIN_ROWS_PER_K * K ? 'wanda' : method;
  let fallback =
    use !== method
      ? `sparsegpt needs ${GPTQ_MIN_ROWS_PER_K}·K = ${GPTQ_MIN_ROWS_PER_K * K} calibration rows, had ${rows}: wanda`
      : undefined;
  let group: WandaGroup | undefined;
  let pruned: PrunedColumns;
  if (use === 'sparsegpt') pruned = await sparseGptColumns(original, K, N, gram, rule, progress, products);
  else if (rule.n !== undefined) pruned = wandaColumns(original, K, N, gram, rule);
  else {
    // Unstructured: per output unit unless the whole-layer group rebuilds the calibration output better.
    const unit = wandaColumns(original, K, N, gram, rule, 'unit');
    const layer = wandaColumns(original, K, N, gram, rule, 'layer');
    const better = (await errorOf(gram, layer.columns)) < (await errorOf(gram, unit.columns));
    group = better ? 'layer' : 'unit';
    pruned = better ? layer : unit;
  }
  const values = new Float32Array(K * N);
  const keep = new Uint8Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const at = layout === 'KN' ? k * N + n : n * K + k;
      values[at] = pruned.keep[n * K + k] ? Math.fround(pruned.columns[n * K + k]) : 0;
      keep[at] = pruned.keep[n * K + k];
    }
  }
  const written = weightColumns(values, K, N, layout);
  const magnitude = magnitudeColumns(original, K, N, rule);
  const layer: DataAwarePrunedLayer = {
    method: use,
    ...(group ? { group } : {}),
    values,
    keep,
    signal: await errorOf(gram),
    error: await errorOf(gram, written),
    magnitudeError: await errorOf(gram, magnitude),
  };
  if (heldOutGram) {
    // Judged again on activations the choice never saw: a loss there means it fitted the calibration.
    const heldOut = await errorOf(heldOutGram, written);
    const heldOutMagnitude = await errorOf(heldOutGram, magnitude);
    layer.heldOutError = heldOut;
    layer.heldOutMagnitudeError = heldOutMagnitude;
    if (heldOut > heldOutMagnitude) {
      const ratio = 10 * Math.log10(heldOut / heldOutMagnitude);
      const lost = `${use} lost to magnitude on held-out activations by ${ratio.toFixed(2)} dB: magnitude`;
      fallback = fallback ? `${fallback}; ${lost}` : lost;
      layer.method = 'magnitude';
    }
  }
  if (fallback) layer.fallback = fallback;
  return layer;
}

function checkRule(rule: PruneRule): void {
  const { n, m } = rule;
  if (n !== undefined || m !== undefined) {
    if (!(Number.isInteger(n) && Number.isInteger(m) && n! >= 1 && n! < m! && m! <= 255))
      throw new RangeError(`N:M needs whole numbers 1 <= N < M <= 255, got ${n}:${m}`);
  } else if (!(rule.sparsity >= 0 && rule.sparsity <= 1))
    throw new RangeError(`sparsity must be in [0, 1], got ${rule.sparsity}`);
}

/** Weights pruned per output unit among K (unstructured): round(sparsity · K). */
export function prunedPerUnit(K: number, sparsity: number): number {
  return Math.round(sparsity * K);
}

/**
 * Marks in `keep` (0) the `count` lowest scores among positions [from, to) of one unit (`score` and `keep`
 * both indexed base + position); equal scores prune the lower position first.
 */
function pruneLowest(
  score: Float64Array,
  keep: Uint8Array,
  base: number,
  from: number,
  to: number,
  count: number,
): void {
  if (count <= 0) return;
  const order = Array.from({ length: to - from }, (_, i) => from + i);
  order.sort((a, b) => score[base + a] - score[base + b] || a - b);
  for (let i = 0; i < count && i < order.length; i++) keep[base + order[i]] = 0;
}

/**
 * Marks in `keep` (0) the `count` lowest scores of the whole array; equal scores prune the lower index
 * first (a typed-array sort finds the cut, so a layer of millions of weights needs no index array).
 */
function pruneLowestOverall(score: Float64Array, keep: Uint8Array, count: number): void {
  if (count <= 0) return;
  const cut = Float64Array.from(score).sort()[Math.min(count, score.length) - 1];
  let below = 0;
  for (let i = 0; i < score.length; i++) if (score[i] < cut) below++;
  let ties = count - below;
  for (let i = 0; i < score.length; i++) {
    if (score[i] < cut) keep[i] = 0;
    else if (score[i] === cut && ties > 0) {
      keep[i] = 0;
      ties--;
    }
  }
}

/** Keeps the N highest scores of every group of M along K (a short last group keeps at most N). */
function keepNofM(
  score: Float64Array,
  keep: Uint8Array,
  base: number,
  from: number,
  K: number,
  n: number,
  m: number,
) {
  const to = Math.min(K, from + m);
  pruneLowest(score, keep, base, from, to, to - from - Math.min(n, to - from));
}

/**
 * Wanda's mask: the lowest |w_k|·‖x_k‖ go, per output unit (`group` unit: round(s·K) of each) or across the
 * layer (round(s·N·K) in all); N:M groups along K by the same score.
 */
export function wandaColumns(
  columns: Float64Array,
  K: number,
  N: number,
  gram: Float64Array,
  rule: PruneRule,
  group: WandaGroup = 'unit',
): PrunedColumns {
  const norms = new Float64Array(K);
  for (let k = 0; k < K; k++) norms[k] = Math.sqrt(Math.max(0, gram[k * K + k]));
  const keep = new Uint8Array(N * K).fill(1);
  const score = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    const base = n * K;
    for (let k = 0; k < K; k++) score[base + k] = Math.abs(columns[base + k]) * norms[k];
    if (group === 'layer' && rule.n === undefined) continue;
    if (rule.n !== undefined)
      for (let g = 0; g < K; g += rule.m!) keepNofM(score, keep, base, g, K, rule.n, rule.m!);
    else pruneLowest(score, keep, base, 0, K, prunedPerUnit(K, rule.sparsity));
  }
  if (group === 'layer' && rule.n === undefined)
    pruneLowestOverall(score, keep, Math.round(rule.sparsity * N * K));
  const out = Float64Array.from(columns);
  for (let i = 0; i < out.length; i++) if (!keep[i]) out[i] = 0;
  return { columns: out, keep };
}

/**
 * SparseGPT (Algorithm 1): K in order; entering a block of SPARSEGPT_BLOCK (unstructured) or a group of M
 * (N:M), each output unit's mask there is chosen by w²/U_kk² on its current values; a pruned weight is
 * zeroed and its error w_k/U_kk spread over the weights after it along U's row k. Updates are applied at
 * once rather than batched per block (the same numbers, without the lazy-batch bookkeeping). Unstructured:
 * the pruned count of block [k0, k1) is round(s·k1) − round(s·k0), so each unit loses round(s·K) in all.
 */
export async function sparseGptColumns(
  original: Float64Array,
  K: number,
  N: number,
  gram: Float64Array,
  rule: PruneRule,
  progress?: RowProgress,
  products: Products = jsProducts,
): Promise<PrunedColumns> {
  const u = await gptqFactor(gram, K, products);
  const columns = Float64Array.from(original);
  const keep = new Uint8Array(N * K).fill(1);
  const score = new Float64Array(N * K);
  const nm = rule.n !== undefined;
  const group = nm ? rule.m! : SPARSEGPT_BLOCK;
  for (let k = 0; k < K; k++) {
    if (k % group === 0) {
      const k1 = Math.min(K, k + group);
      for (let n = 0; n < N; n++) {
        const base = n * K;
        for (let j = k; j < k1; j++) {
          const d = u[j * K + j];
          score[base + j] = (columns[base + j] * columns[base + j]) / (d * d);
        }
        if (nm) keepNofM(score, keep, base, k, K, rule.n!, rule.m!);
        else {
          const count = prunedPerUnit(k1, rule.sparsity) - prunedPerUnit(k, rule.sparsity);
          pruneLowest(score, keep, base, k, k1, count);
        }
      }
      if (k % SPARSEGPT_BLOCK === 0) progress?.(k, K);
    }
    const d = u[k * K + k];
    const row = k * K;
    for (let n = 0; n < N; n++) {
      const base = n * K;
      if (keep[base + k]) continue;
      const err = columns[base + k] / d;
      columns[base + k] = 0;
      if (err === 0) continue;
      for (let j = k + 1; j < K; j++) columns[base + j] -= err * u[row + j];
    }
  }
  progress?.(K, K);
  return { columns, keep };
}

/**
 * What magnitude pruning leaves of the same weight, as a baseline on the same activations: one cut of the
 * lowest |w| over the whole weight (`--method magnitude`, per layer), or N:M by |w| (`--method nm`).
 */
export function magnitudeColumns(columns: Float64Array, K: number, N: number, rule: PruneRule): Float64Array {
  const out = Float64Array.from(columns);
  const score = columns.map(Math.abs);
  const keep = new Uint8Array(N * K).fill(1);
  if (rule.n !== undefined) {
    for (let n = 0; n < N; n++)
      for (let g = 0; g < K; g += rule.m!) keepNofM(score, keep, n * K, g, K, rule.n, rule.m!);
  } else pruneLowestOverall(score, keep, Math.round(rule.sparsity * N * K));
  for (let i = 0; i < out.length; i++) if (!keep[i]) out[i] = 0;
  return out;
}
