/** Tolerant readers of parsed report JSON: a field of the wrong type reads as missing. */

export type Json = Record<string, unknown>;

export const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

export const str = (x: unknown, fallback = ''): string => (typeof x === 'string' ? x : fallback);

/** A finite number, else undefined (JSON writes NaN and ±Infinity as null). */
export const num = (x: unknown): number | undefined =>
  typeof x === 'number' && Number.isFinite(x) ? x : undefined;

/** The objects of an array (anything else reads as an empty list). */
export const list = (x: unknown): Json[] => (Array.isArray(x) ? x.filter(isObject) : []);
