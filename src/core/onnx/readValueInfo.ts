import type { ValueInfo } from './modelIndex';
import { type FieldHeader, type WireReader, WireType } from './wireReader';

/** A ValueInfoProto: name, and for tensors the element type and shape (dims, symbols or unknown). */
export function readValueInfo(r: WireReader, h: FieldHeader): ValueInfo {
  r.expect(h, WireType.LEN);
  const info: ValueInfo = { name: '', kind: 'unknown' };
  r.fields(h.valueStart, h.end, (f) => {
    if (f.field === 1) info.name = r.string(f);
    else if (f.field === 2 && f.wire === WireType.LEN) readTypeProto(r, f, info);
  });
  return info;
}

function readTypeProto(r: WireReader, h: FieldHeader, info: ValueInfo): void {
  const kinds: Record<number, ValueInfo['kind']> = {
    1: 'tensor',
    4: 'sequence',
    5: 'map',
    8: 'sparse_tensor',
    9: 'optional',
  };
  r.fields(h.valueStart, h.end, (f) => {
    const kind = kinds[f.field];
    if (!kind) return;
    info.kind = kind;
    if ((kind !== 'tensor' && kind !== 'sparse_tensor') || f.wire !== WireType.LEN) return;
    r.fields(f.valueStart, f.end, (t) => {
      if (t.field === 1) info.dtype = r.int(t);
      else if (t.field === 2 && t.wire === WireType.LEN) {
        const shape: (number | string | null)[] = [];
        r.fields(t.valueStart, t.end, (d) => {
          if (d.field !== 1 || d.wire !== WireType.LEN) return;
          let dim: number | string | null = null;
          r.fields(d.valueStart, d.end, (v) => {
            if (v.field === 1) dim = r.int(v);
            else if (v.field === 2) dim = r.string(v);
          });
          shape.push(dim);
        });
        info.shape = shape;
      }
    });
  });
}
