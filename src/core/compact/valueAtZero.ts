import type { NodeInfo } from '../onnx/modelIndex';

/** A value's origin: a known number, a node to evaluate, or unknown. */
export type Resolve = (name: string) => number | NodeInfo | undefined;

/**
 * What one hidden unit's value is at `name` when its projection outputs and per-unit constants are zero,
 * evaluating the elementwise ops in between on scalars (undefined when an op or input is unknown). Zero
 * means removing the unit equals zeroing its weights.
 */
export function valueAtZero(
  name: string,
  resolve: Resolve,
  seen = new Map<string, number | undefined>(),
): number | undefined {
  if (seen.has(name)) return seen.get(name);
  const r = resolve(name);
  if (r === undefined || typeof r === 'number') {
    seen.set(name, r);
    return r;
  }
  const args = r.inputs.map((i) => (i ? valueAtZero(i, resolve, seen) : undefined));
  const v = evaluate(r, args);
  seen.set(name, v);
  return v;
}

const f = (n: NodeInfo, name: string, fallback: number) =>
  n.attributes.find((a) => a.name === name)?.f ?? fallback;

function evaluate(n: NodeInfo, args: (number | undefined)[]): number | undefined {
  const [x, y] = args;
  if (x === undefined && n.opType !== 'Clip') return undefined;
  const a = x as number;
  const need2 = () => (y === undefined ? undefined : y);
  switch (n.opType) {
    case 'Relu':
      return Math.max(0, a);
    case 'LeakyRelu':
      return a >= 0 ? a : f(n, 'alpha', 0.01) * a;
    case 'PRelu':
      return y === undefined ? undefined : a >= 0 ? a : y * a;
    case 'Elu':
      return a >= 0 ? a : f(n, 'alpha', 1) * (Math.exp(a) - 1);
    case 'Celu': {
      const al = f(n, 'alpha', 1);
      return Math.max(0, a) + Math.min(0, al * (Math.exp(a / al) - 1));
    }
    case 'Selu':
      return f(n, 'gamma', 1.0507) * (a > 0 ? a : f(n, 'alpha', 1.67326) * (Math.exp(a) - 1));
    case 'Gelu':
    case 'FastGelu':
    case 'BiasGelu': {
      const v = n.opType === 'Gelu' ? a : a + (y ?? 0);
      return 0.5 * v * (1 + erf(v / Math.SQRT2));
    }
    case 'QuickGelu':
      return a / (1 + Math.exp(-f(n, 'alpha', 1.702) * a));
    case 'Tanh':
      return Math.tanh(a);
    case 'Sigmoid':
      return 1 / (1 + Math.exp(-a));
    case 'HardSigmoid':
      return Math.max(0, Math.min(1, f(n, 'alpha', 0.2) * a + f(n, 'beta', 0.5)));
    case 'HardSwish':
      return a * Math.max(0, Math.min(1, a / 6 + 0.5));
    case 'Softplus':
      return Math.log1p(Math.exp(a));
    case 'Softsign':
      return a / (1 + Math.abs(a));
    case 'Mish':
      return a * Math.tanh(Math.log1p(Math.exp(a)));
    case 'Erf':
      return erf(a);
    case 'Neg':
      return -a;
    case 'Abs':
      return Math.abs(a);
    case 'Identity':
    case 'Dropout':
      return a;
    case 'Sqrt':
      return Math.sqrt(a);
    case 'Exp':
      return Math.exp(a);
    case 'Add':
      return need2() === undefined ? undefined : a + y!;
    case 'Sub':
      return need2() === undefined ? undefined : a - y!;
    case 'Mul':
      // Zero times anything finite is zero, whatever the other factor is.
      if (a === 0 || y === 0) return 0;
      return need2() === undefined ? undefined : a * y!;
    case 'Div':
      return need2() === undefined || y === 0 ? undefined : a / y!;
    case 'Pow':
      return need2() === undefined ? undefined : Math.pow(a, y!);
    case 'Max':
      return args.some((v) => v === undefined) ? undefined : Math.max(...(args as number[]));
    case 'Min':
      return args.some((v) => v === undefined) ? undefined : Math.min(...(args as number[]));
    case 'Clip': {
      if (x === undefined) return undefined;
      const lo = args[1] ?? f(n, 'min', -Infinity);
      const hi = args[2] ?? f(n, 'max', Infinity);
      return Math.min(hi, Math.max(lo, a));
    }
    case 'BatchNormalization': {
      const [, scale, bias, mean, variance] = args;
      if ([scale, bias, mean, variance].some((v) => v === undefined)) return undefined;
      return ((a - mean!) / Math.sqrt(variance! + f(n, 'epsilon', 1e-5))) * scale! + bias!;
    }
    default:
      return undefined;
  }
}

/** erf, exact at 0 (Abramowitz–Stegun 7.1.26 elsewhere: the check only needs to tell zero from not). */
function erf(x: number): number {
  if (x === 0) return 0;
  const s = Math.sign(x);
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1 - p * Math.exp(-x * x));
}
