import { FormatError } from '../errors';

/**
 * Keep-masks in the safetensors format (what PyTorch training code loads with `safetensors.torch.load_file`):
 * an 8-byte little-endian header length, a JSON header `{name: {dtype, shape, data_offsets}}` (offsets are
 * relative to the data that follows the header; optional `__metadata__` of strings), then the data.
 */

/** One keep-mask: 1 = keep, 0 = pruned; uint8, row-major, shaped like the weight it belongs to. */
export interface KeepMask {
  name: string;
  dims: number[];
  data: Uint8Array;
}

/** The header must stay small: the reference implementation refuses headers over 100 MB. */
const MAX_HEADER = 100_000_000;

/**
 * A safetensors file of uint8 masks, as the byte arrays to write in order (the masks' own arrays are not
 * copied). The header is padded with spaces to a multiple of 8 bytes, as the reference writer does.
 */
export function encodeSafetensors(
  masks: readonly KeepMask[],
  metadata: Record<string, string> = {},
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const seen = new Set<string>();
  for (const m of masks) {
    if (seen.has(m.name) || m.name === '__metadata__')
      throw new FormatError(`duplicate mask name "${m.name}"`);
    seen.add(m.name);
    const count = m.dims.reduce((a, b) => a * b, 1);
    if (count !== m.data.length)
      throw new FormatError(
        `mask ${m.name} has ${m.data.length} bytes, its shape [${m.dims.join(', ')}] needs ${count}`,
      );
    header[m.name] = { dtype: 'U8', shape: m.dims, data_offsets: [offset, offset + count] };
    offset += count;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(json, 8);
  return [head, ...masks.map((m) => m.data)];
}

/** The masks of a safetensors file (views into `bytes`), in the order of their data; refuses other dtypes. */
export function parseSafetensors(bytes: Uint8Array): { masks: KeepMask[]; metadata: Record<string, string> } {
  if (bytes.length < 8)
    throw new FormatError('not a safetensors file: shorter than its 8-byte header length');
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, bytes.length - 8)))
    throw new FormatError(
      `not a safetensors file: header length ${n} does not fit the ${bytes.length}-byte file`,
    );
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + Number(n))));
  } catch (e) {
    throw new FormatError(`not a safetensors file: the header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw new FormatError('not a safetensors file: the header is not a JSON object');
  const data = bytes.subarray(8 + Number(n));
  const masks: (KeepMask & { begin: number })[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null)
      throw new FormatError(`tensor "${name}": not an object in the header`);
    if (e.dtype !== 'U8') throw new FormatError(`tensor "${name}" is ${String(e.dtype)}; keep-masks are U8`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new FormatError(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    const offsets = e.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      offsets[0] > offsets[1] ||
      offsets[1] > data.length
    ) {
      throw new FormatError(
        `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)} (${data.length} data bytes)`,
      );
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (offsets[1] - offsets[0] !== count)
      throw new FormatError(
        `tensor "${name}" holds ${offsets[1] - offsets[0]} bytes; shape [${shape.join(', ')}] needs ${count}`,
      );
    masks.push({
      name,
      dims: shape as number[],
      data: data.subarray(offsets[0], offsets[1]),
      begin: offsets[0],
    });
  }
  masks.sort((a, b) => a.begin - b.begin);
  return { masks: masks.map(({ name, dims, data }) => ({ name, dims, data })), metadata };
}
