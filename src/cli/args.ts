/** Bad command-line usage: exit code 2 with the usage text. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The options a command accepts: a flag takes no value, a string/number option takes the next argument. */
export type OptionSpec = Record<string, { type: 'flag' | 'string' | 'number'; alias?: string }>;

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | number | boolean | undefined>;
  /** Every value of each string option, in order (`--data A --data B`); `options` keeps the last. */
  repeated?: Record<string, string[]>;
}

/** Parses `argv` strictly: unknown options, missing values and malformed numbers are usage errors. */
export function parseArgs(argv: string[], spec: OptionSpec): ParsedArgs {
  const byAlias = new Map<string, string>();
  for (const [name, s] of Object.entries(spec)) {
    byAlias.set(`--${name}`, name);
    if (s.alias) byAlias.set(s.alias, name);
  }
  const positionals: string[] = [];
  const options: ParsedArgs['options'] = {};
  const repeated: Record<string, string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = eq > 0 ? arg.slice(0, eq) : arg;
    const name = byAlias.get(key);
    if (!name) throw new UsageError(`unknown option ${key}`);
    const s = spec[name];
    if (s.type === 'flag') {
      if (eq > 0) throw new UsageError(`${key} takes no value`);
      options[name] = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`${key} needs a value`);
    if (s.type === 'number') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n))
        throw new UsageError(`${key} needs a number, got "${value}"`);
      options[name] = n;
    } else {
      options[name] = value;
      (repeated[name] ??= []).push(value);
    }
  }
  return { positionals, options, repeated };
}

/** A whole number option within [min, max], or the default. */
export function intOption(
  args: ParsedArgs,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = args.options[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(`--${name} takes a whole number from ${min} to ${max}`);
  }
  return v;
}

/** A regular expression option (`--exclude REGEX`), undefined when absent; a bad pattern is a usage error. */
export function regexOption(args: ParsedArgs, name: string): RegExp | undefined {
  const v = args.options[name];
  if (v === undefined) return undefined;
  try {
    return new RegExp(String(v));
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}
