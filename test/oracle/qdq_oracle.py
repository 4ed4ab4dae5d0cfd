#!/usr/bin/python3
"""Test oracle for the portable (DequantizeLinear) weight format, written independently in numpy.

usage:
  qdq_oracle.py quantize WEIGHT.f32 DIMS BITS SYM(0|1) AXIS BLOCK SCALE(float32|float16) OUT_PREFIX
  qdq_oracle.py --jobs JOBS.txt          (one quantize job per line, the same eight fields)
  qdq_oracle.py dequantize MODEL.onnx OUT.onnx

quantize: WEIGHT.f32 holds the little-endian float32 values of a weight with DIMS (comma separated).
Scales follow AXIS, blocked by BLOCK (0 = one scale per index of AXIS). In float32, per group:
  symmetric:  scale = max|w| / qmax (qmax 7 for int4, 127 for int8), zero point 0 (none stored)
  asymmetric: lo = min(wmin, 0), hi = max(wmax, 0), scale = (hi - lo) / (qmax - qmin),
              zp = clip(round_half_even(qmin - lo / scale), qmin, qmax)   (uint4 [0,15], int8 [-128,127])
  the scale is rounded to SCALE first; a stored scale of 0 becomes 1;
  codes = clip(round_half_even(w / scale) + zp, qmin, qmax)   -- QuantizeLinear's formula.
Writes OUT_PREFIX.codes (raw_data: 4-bit two per byte, first element in the low nibble), .scales (raw
SCALE) and, when asymmetric, .zp (raw, the codes' type).

dequantize: reads MODEL.onnx (opset 21 int4/uint4 or int8 DequantizeLinear of constant initializers; onnx
1.12 predates int4, so the 4-bit payloads are unpacked here from raw_data by hand) and writes OUT.onnx where
every DequantizeLinear of constants is replaced by a float initializer (computed here in numpy:
y = (x - zp) * scale, in float32 or float16 like the scale) under the DequantizeLinear's output name.
"""
import sys

import numpy as np

INT4, UINT4, INT8, UINT8 = 22, 21, 3, 2


def code_range(bits, sym):
    if bits == 8:
        return np.int8, -128, 127
    return (np.int8, -8, 7) if sym else (np.uint8, 0, 15)


def groups_of(dims, axis, block):
    """[outer, size, inner] view and, per element, its group index (the scale's flat index)."""
    outer = int(np.prod(dims[:axis], dtype=np.int64))
    size = dims[axis]
    inner = int(np.prod(dims[axis + 1:], dtype=np.int64))
    o = np.arange(outer)[:, None, None]
    j = np.arange(size)[None, :, None]
    r = np.arange(inner)[None, None, :]
    if block:
        nb = -(-size // block)
        g = (o * nb + j // block) * inner + r
        return g.reshape(-1), outer * nb * inner, [d if i != axis else nb for i, d in enumerate(dims)]
    g = np.broadcast_to(j, (outer, size, inner))
    return g.reshape(-1), size, [size]


def pack4(codes):
    u = (codes.astype(np.int16) & 15).astype(np.uint8)
    if u.size % 2:
        u = np.append(u, np.uint8(0))
    return (u[0::2] | (u[1::2] << 4)).astype(np.uint8)


def quantize(w, dims, bits, sym, axis, block, scale_type):
    f32 = np.float32
    g, n, _ = groups_of(dims, axis, block)
    w = w.astype(f32)
    mins = np.full(n, np.inf, dtype=f32)
    maxs = np.full(n, -np.inf, dtype=f32)
    np.minimum.at(mins, g, w)
    np.maximum.at(maxs, g, w)
    ctype, qmin, qmax = code_range(bits, sym)
    if sym:
        scale = (np.maximum(np.abs(mins), np.abs(maxs)) / f32(qmax)).astype(f32)
        lo = np.zeros(n, dtype=f32)
    else:
        lo = np.minimum(mins, f32(0))
        hi = np.maximum(maxs, f32(0))
        scale = ((hi - lo).astype(f32) / f32(qmax - qmin)).astype(f32)
    stored = scale.astype(np.float16) if scale_type == "float16" else scale
    stored = np.where(stored == 0, stored.dtype.type(1), stored)
    s32 = stored.astype(f32)
    if sym:
        zp = np.zeros(n, dtype=np.int32)
    else:
        zp = np.clip(np.rint((f32(qmin) - (lo / s32).astype(f32)).astype(f32)), qmin, qmax).astype(np.int32)
    q = np.rint((w / s32[g]).astype(f32)).astype(np.int64) + zp[g]
    q = np.clip(q, qmin, qmax)
    codes = pack4(q) if bits == 4 else q.astype(np.int8).view(np.uint8)
    zpb = None
    if not sym:
        zpb = pack4(zp) if bits == 4 else zp.astype(np.int8).view(np.uint8)
    return codes, stored, zpb


def run_quantize(path, dims, bits, sym, axis, block, scale_type, out):
    dims = [int(d) for d in dims.split(",")]
    w = np.fromfile(path, dtype="<f4")
    codes, scales, zp = quantize(w, dims, int(bits), sym == "1", int(axis), int(block), scale_type)
    codes.tofile(out + ".codes")
    scales.astype("<f2" if scale_type == "float16" else "<f4").tofile(out + ".scales")
    if zp is not None:
        zp.tofile(out + ".zp")


def tensor_values(t):
    """Values of an initializer, 4-bit types unpacked by hand (onnx 1.12 does not know them)."""
    from onnx import numpy_helper

    count = int(np.prod(t.dims, dtype=np.int64))
    if t.data_type in (INT4, UINT4):
        b = np.frombuffer(t.raw_data, dtype=np.uint8)
        v = np.stack([b & 15, b >> 4], axis=1).reshape(-1)[:count].astype(np.int16)
        if t.data_type == INT4:
            v = np.where(v >= 8, v - 16, v)
        return v.reshape(t.dims)
    return numpy_helper.to_array(t)


def run_dequantize(model_path, out_path):
    import onnx
    from onnx import numpy_helper

    m = onnx.load(model_path)

    def walk(g):
        inits = {t.name: t for t in g.initializer}
        keep = []
        for n in g.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
            if n.op_type == "DequantizeLinear" and all(i in inits for i in n.input if i):
                x = tensor_values(inits[n.input[0]]).astype(np.float64)
                s = numpy_helper.to_array(inits[n.input[1]])
                z = tensor_values(inits[n.input[2]]).astype(np.float64) if len(n.input) > 2 and n.input[2] else 0.0
                attrs = {a.name: a.i for a in n.attribute}
                axis = attrs.get("axis", 1) % x.ndim
                block = attrs.get("block_size", 0)
                if block:
                    s_full = np.repeat(s, block, axis=axis).take(np.arange(x.shape[axis]), axis=axis)
                    z_full = z if np.isscalar(z) else np.repeat(z, block, axis=axis).take(np.arange(x.shape[axis]), axis=axis)
                else:
                    shape = [1] * x.ndim
                    shape[axis] = -1
                    s_full = s.reshape(shape)
                    z_full = z if np.isscalar(z) else z.reshape(shape)
                # DequantizeLinear computes (x - zp) * scale in the scale's precision.
                y = ((x - z_full).astype(np.float32) * s_full.astype(np.float32)).astype(s.dtype)
                g.initializer.append(numpy_helper.from_array(y, n.output[0]))
                continue
            keep.append(n)
        del g.node[:]
        g.node.extend(keep)

    walk(m.graph)
    onnx.save(m, out_path)


def main():
    if sys.argv[1] == "--jobs":
        with open(sys.argv[2]) as f:
            for line in f:
                if line.strip():
                    run_quantize(*line.split())
    elif sys.argv[1] == "quantize":
        run_quantize(*sys.argv[2:10])
    elif sys.argv[1] == "dequantize":
        run_dequantize(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
