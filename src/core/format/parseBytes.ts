/** Decimal and binary multipliers that a size limit may be written with (case-insensitive). */
const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/**
 * "600000", "600 KB", "1.5 MiB" -> whole bytes (rounded down: a limit is never exceeded by rounding);
 * a string says what is wrong. KB/MB/GB are decimal and KiB/MiB/GiB binary, as file managers differ.
 */
export function parseBytes(text: string): number | string {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return `"${text}" is not a size: write bytes or a size like 600 KB or 1.5 MiB`;
  const unit = UNITS[m[2].toLowerCase()];
  if (unit === undefined) return `"${m[2]}" is not a unit: use B, KB, MB, GB, KiB, MiB or GiB`;
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!(bytes > 0) || !Number.isSafeInteger(bytes)) return `${text.trim()} is not a size above 0 bytes`;
  return bytes;
}
