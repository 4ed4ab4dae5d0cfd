import { FormatError } from '../errors';
import type { ByteSource } from '../io/byteSource';
import { WireFormatError } from './wireReader';

/**
 * A FormatError met while indexing, said in plain words first with the scanner's own words after:
 * - `not an ONNX model (it looks like text; unsupported wire type 4 of field 13, at byte 2)` when the file does
 *   not start like a model (no IR version read before the error);
 * - `truncated: the file ends at byte N but a field needs M (field 7 runs past …, at byte 19)` when it does
 *   and a field runs past the end of the file;
 * - `damaged: not a valid ONNX model (…)` for another fault of the protobuf wire format inside a model.
 * Errors that already speak plainly (nesting limits, absurd dims, external data …) are returned unchanged.
 */
export function plainFormatError(e: FormatError, source: ByteSource, startsLikeOnnx: boolean): FormatError {
  if (/^(not an ONNX model \(|truncated: |damaged: )/.test(e.detail)) return e;
  const detail = e.offset === undefined ? e.detail : `${e.detail}, at byte ${e.offset}`;
  if (!startsLikeOnnx || source.size === 0) {
    let looks: string | undefined;
    try {
      looks = looksLike(source);
    } catch {
      // The hint is a courtesy: a source that cannot be read again keeps the plain reason.
    }
    return new FormatError(`not an ONNX model (${looks ? `it looks like ${looks}; ` : ''}${detail})`);
  }
  if (e.needs !== undefined && e.needs > source.size) {
    return new FormatError(
      `truncated: the file ends at byte ${source.size} but a field needs ${e.needs} (${detail})`,
    );
  }
  if (e instanceof WireFormatError) return new FormatError(`damaged: not a valid ONNX model (${detail})`);
  return e;
}

/** What kind of file the first bytes suggest, when they suggest one ("a PNG image", "text", …). */
export function looksLike(source: ByteSource): string | undefined {
  const n = Math.min(source.size, 512);
  if (n === 0) return undefined;
  const b = source.read(0, n);
  const starts = (...bytes: number[]) => bytes.every((x, i) => b[i] === x);
  const ascii = (text: string) => starts(...Array.from(text, (c) => c.charCodeAt(0)));
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'a PNG image';
  if (starts(0xff, 0xd8, 0xff)) return 'a JPEG image';
  if (starts(0x1f, 0x8b)) return 'a gzip file';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'a ZIP archive (a PyTorch checkpoint is one)';
  if (ascii('%PDF')) return 'a PDF document';
  if (ascii('RIFF')) return 'a RIFF file (WAV audio, …)';
  if (n >= 8 && String.fromCharCode(b[4], b[5], b[6], b[7]) === 'TFL3') return 'a TensorFlow Lite model';
  // safetensors: an 8-byte little-endian header length, then the JSON header.
  if (n > 8 && b[8] === 0x7b && b[7] === 0 && b[6] === 0) return 'a safetensors file';
  if (!isText(b)) return undefined;
  const text = new TextDecoder().decode(b).trimStart();
  if (text.startsWith('version https://git-lfs'))
    return 'a Git LFS pointer, not the model itself (run `git lfs pull`)';
  if (/^<(!doctype html|html)/i.test(text)) return 'an HTML page';
  if (text.startsWith('{') || text.startsWith('[')) return 'JSON';
  return 'text';
}

/** True when the bytes are printable UTF-8 (tabs and line ends allowed; a cut last character too). */
function isText(b: Uint8Array): boolean {
  for (const x of b) if (x < 0x20 && x !== 0x09 && x !== 0x0a && x !== 0x0d) return false;
  try {
    // stream: a character cut at the end of the sample is not an error.
    new TextDecoder('utf-8', { fatal: true }).decode(b, { stream: true });
    return true;
  } catch {
    return false;
  }
}
