import { FormatError } from '../errors';

/**
 * Refuses an external-data `location` that could name a file outside the model's folder: absolute
 * paths (POSIX, Windows drive or UNC), `..` segments, empty names and NUL bytes. Links that leave the
 * folder are checked where the file is opened (the runtime resolves real paths).
 */
export function checkExternalLocation(location: string, tensor: string): void {
  const why = unsafeReason(location);
  if (why)
    throw new FormatError(`tensor ${tensor}: external data location "${location}" is refused (${why})`);
}

function unsafeReason(location: string): string | undefined {
  if (location.length === 0) return 'empty';
  if (location.includes('\0')) return 'contains a NUL byte';
  if (location.startsWith('/') || location.startsWith('\\')) return 'absolute path';
  if (/^[A-Za-z]:/.test(location)) return 'absolute path';
  if (location.split(/[\\/]/).some((part) => part === '..')) return 'it leaves the model folder';
  return undefined;
}
