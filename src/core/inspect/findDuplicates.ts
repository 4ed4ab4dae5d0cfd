import type { TensorInfo } from '../onnx/modelIndex';

/**
 * Tensors whose stored contents are byte-identical (same dtype, dims and content hash): for each
 * tensor with twins, the names of the others. Tiny tensors (< 16 elements) are left out: equal scalars
 * are everywhere and are not worth deduplicating.
 */
export function findDuplicates(
  tensors: TensorInfo[],
  hashOf: (id: number) => string | undefined,
): Map<number, string[]> {
  const groups = new Map<string, TensorInfo[]>();
  for (const t of tensors) {
    const hash = hashOf(t.id);
    if (hash === undefined || t.count < 16) continue;
    const key = `${t.dtype}|${t.dims.join(',')}|${hash}`;
    const group = groups.get(key);
    if (group) group.push(t);
    else groups.set(key, [t]);
  }
  const out = new Map<number, string[]>();
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    for (const t of group)
      out.set(
        t.id,
        group.filter((o) => o !== t).map((o) => o.name),
      );
  }
  return out;
}
