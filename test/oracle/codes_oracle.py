#!/usr/bin/python3
"""Test oracle for stored quantization codes and their dequantized values, written independently in numpy.

usage: codes_oracle.py MODEL.onnx BINS

Prints JSON {"weights": W, "tensors": {NAME: {"codes": STATS, "dequantized": STATS}}} for every constant
weight of the main graph read as quantized codes:
  com.microsoft::MatMulNBits input B: uint8 [N, k_blocks, block_size*bits/8], codes low bits first, the K
    padding of the last block dropped; dequantized (q - zp) * scale per block (zp packed uint8, default
    2^(bits-1)); W counts K*N per MatMulNBits.
  DequantizeLinear input 0 of int4 (22) / uint4 (21) / int8 / uint8 (two 4-bit codes per byte, low nibble
    first; onnx 1.12 predates int4, so they are unpacked here by hand), per-tensor, per-axis or blocked.
  QLinearMatMul / QLinearConv / com.microsoft QGemm input 3 (scale 4, zero point 5), MatMulInteger /
    ConvInteger input 1 (zero point 3, the scale: the constant of Mul(Cast(output), s) or of
    Mul(Cast(output), Mul(a_scale, s))): per tensor, or per column (matrices; QGemm transB=1: per row)
    or per output channel (Conv, axis 0).
STATS: count, min, max, mean, std (population), histogram (numpy.histogram with BINS bins over [min, max]).
"""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper

INT4, UINT4 = 22, 21


def raw_codes(t):
    """Values of an initializer; 4-bit ones unpacked from raw_data (low nibble first)."""
    if t.data_type in (INT4, UINT4):
        n = int(np.prod(t.dims, dtype=np.int64))
        b = np.frombuffer(t.raw_data, dtype=np.uint8)
        q = np.empty(b.size * 2, dtype=np.int16)
        q[0::2] = b & 15
        q[1::2] = b >> 4
        q = q[:n]
        if t.data_type == INT4:
            q = np.where(q >= 8, q - 16, q)
        return q.reshape(tuple(t.dims)).astype(np.float64)
    return numpy_helper.to_array(t).astype(np.float64)


def stats(v, bins):
    v = np.asarray(v, dtype=np.float64).ravel()
    lo, hi = float(v.min()), float(v.max())
    rng = (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)
    counts, _ = np.histogram(v, bins=bins, range=rng)
    return {
        "count": int(v.size),
        "min": lo,
        "max": hi,
        "mean": float(v.mean()),
        "std": float(v.std()),
        "histogram": [int(c) for c in counts],
    }


def per_channel(q, scale, zp, axis):
    shape = [1] * q.ndim
    if scale.size > 1 or (zp is not None and zp.size > 1):
        shape[axis] = q.shape[axis]
    s = scale.reshape(-1)
    z = np.zeros(1) if zp is None else zp.reshape(-1)
    s = np.broadcast_to(s, (max(s.size, z.size),)).reshape(shape)
    z = np.broadcast_to(z, (max(s.size, z.size),)).reshape(shape)
    return (q - z) * s


def main():
    model = onnx.load(sys.argv[1])
    bins = int(sys.argv[2])
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            inits[n.output[0]] = n.attribute[0].t
    val = lambda name: raw_codes(inits[name]) if name in inits else None
    producer = {o: n for n in g.node for o in n.output}
    readers = lambda name: [n for n in g.node if name in n.input]
    attr = lambda n, a, d: next((x.i for x in n.attribute if x.name == a), d)
    out = {}
    weights = 0
    for n in g.node:
        ins = list(n.input) + [""] * 10
        if n.op_type == "MatMulNBits" and ins[1] in inits:
            K, N, bits, bs = attr(n, "K", 0), attr(n, "N", 0), attr(n, "bits", 4), attr(n, "block_size", 32)
            weights += K * N
            b = numpy_helper.to_array(inits[ins[1]]).reshape(N, -1)
            per = 8 // bits
            codes = np.stack([(b >> (bits * i)) & ((1 << bits) - 1) for i in range(per)], axis=-1).reshape(N, -1)
            kb = -(-K // bs)
            codes = codes.reshape(N, kb * bs).astype(np.int64)
            scales = numpy_helper.to_array(inits[ins[2]]).astype(np.float64).reshape(N, kb)
            if ins[3] in inits:
                zb = numpy_helper.to_array(inits[ins[3]]).reshape(N, -1)
                zp = np.stack([(zb >> (bits * i)) & ((1 << bits) - 1) for i in range(per)], axis=-1).reshape(N, -1)[:, :kb]
                zp = zp.astype(np.int64)
            else:
                zp = np.full((N, kb), 1 << (bits - 1))
            deq = (codes.reshape(N, kb, bs) - zp[:, :, None]) * scales[:, :, None]
            out[ins[1]] = {"codes": stats(codes[:, :K], bins), "dequantized": stats(deq.reshape(N, -1)[:, :K], bins)}
        elif n.op_type == "DequantizeLinear" and ins[0] in inits and ins[1] in inits:
            q = val(ins[0])
            scale = val(ins[1])
            zp = val(ins[2]) if ins[2] else None
            axis = attr(n, "axis", 1)
            block = attr(n, "block_size", 0)
            if block:
                s = np.repeat(scale, block, axis=axis).take(range(q.shape[axis]), axis=axis)
                z = np.zeros_like(s) if zp is None else np.repeat(zp, block, axis=axis).take(range(q.shape[axis]), axis=axis)
                deq = (q - z) * s
            else:
                deq = per_channel(q, scale, zp, axis % q.ndim if q.ndim else 0)
            out[ins[0]] = {"codes": stats(q, bins), "dequantized": stats(deq, bins)}
        elif n.op_type in ("QLinearMatMul", "QLinearConv", "QGemm") and ins[3] in inits:
            q = val(ins[3])
            conv = n.op_type == "QLinearConv"
            axis = 0 if conv or attr(n, "transB", 0) == 1 else q.ndim - 1
            deq = per_channel(q, val(ins[4]), val(ins[5]) if ins[5] else None, axis)
            out[ins[3]] = {"codes": stats(q, bins), "dequantized": stats(deq, bins)}
        elif n.op_type in ("MatMulInteger", "ConvInteger") and ins[1] in inits:
            scale = None
            for cast in readers(n.output[0]):
                if cast.op_type != "Cast":
                    continue
                for mul in readers(cast.output[0]):
                    if mul.op_type != "Mul":
                        continue
                    other = mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0]
                    if other in inits:
                        scale = val(other)
                    elif other in producer and producer[other].op_type == "Mul":
                        scale = next((val(x) for x in producer[other].input if x in inits), None)
            if scale is None:
                continue
            q = val(ins[1])
            axis = 0 if n.op_type == "ConvInteger" else q.ndim - 1
            deq = per_channel(q, scale, val(ins[3]) if ins[3] else None, axis)
            out[ins[1]] = {"codes": stats(q, bins), "dequantized": stats(deq, bins)}
    print(json.dumps({"weights": weights, "tensors": out}))


main()
