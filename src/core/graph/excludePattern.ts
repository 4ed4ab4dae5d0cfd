/**
 * The regular expressions the graph view's node actions write: an exact match of a weight name, added to
 * the `bigShrink.quantize.exclude` pattern (`--exclude`), or the `--only` pattern of "Quantize only this
 * layer…".
 */

/** `name` as a regular expression that matches exactly that name. */
export function exactPattern(name: string): string {
  return `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
}

/** One pattern matching exactly these names. */
export function exactAny(names: readonly string[]): string {
  return names.length === 1 ? exactPattern(names[0]) : `(?:${names.map(exactPattern).join('|')})`;
}

/**
 * The exclusion pattern `current` with `names` added (each as an exact pattern), or undefined when it
 * matches them all already. A pattern that does not compile is kept as it is and extended.
 */
export function withExcluded(current: string, names: readonly string[]): string | undefined {
  let matcher: RegExp | undefined;
  try {
    matcher = current ? new RegExp(current) : undefined;
  } catch {
    matcher = undefined;
  }
  const missing = [...new Set(names)].filter((n) => !matcher?.test(n));
  if (missing.length === 0) return undefined;
  return [current, ...missing.map(exactPattern)].filter(Boolean).join('|');
}
