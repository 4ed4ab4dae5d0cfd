/** How many samples go to each set; counts win over the fraction. */
export interface SplitOptions {
  /** Samples for calibration (data-aware methods, sensitivity, the shrink search). */
  calibration?: number;
  /** Samples for evaluation (the final verdict). */
  evaluation?: number;
  /** The calibration share when no count is given (default 0.5). */
  fraction?: number;
  /** Seed of the shuffle (default 0). */
  seed?: number;
}

/** Sample indices of each set; the two never share a sample. */
export interface Split {
  calibration: number[];
  evaluation: number[];
}

/**
 * Divides `count` samples deterministically into a calibration and an evaluation set: the indices are
 * shuffled with a seeded generator (so a folder sorted by class does not put one class in each set), then
 * the first part calibrates and the next evaluates. Default half each (the odd sample evaluates; a lone
 * sample only evaluates). Counts beyond what there is are cut to what is left.
 */
export function splitSamples(count: number, options: SplitOptions = {}): Split {
  const order = shuffled(count, options.seed ?? 0);
  const fraction = options.fraction ?? 0.5;
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`split fraction ${fraction} is not in [0, 1]`);
  let cal: number;
  let evalCount: number;
  if (options.calibration !== undefined) {
    cal = Math.min(options.calibration, count);
    evalCount = Math.min(options.evaluation ?? count - cal, count - cal);
  } else if (options.evaluation !== undefined) {
    evalCount = Math.min(options.evaluation, count);
    cal = count - evalCount;
  } else {
    cal = Math.floor(count * fraction);
    evalCount = count - cal;
  }
  return {
    calibration: order.slice(0, cal).sort((a, b) => a - b),
    evaluation: order.slice(cal, cal + evalCount).sort((a, b) => a - b),
  };
}

/** 0 … count−1 in a seeded Fisher–Yates order. */
function shuffled(count: number, seed: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  const random = mulberry32(seed ^ 0x5bd1e995);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
