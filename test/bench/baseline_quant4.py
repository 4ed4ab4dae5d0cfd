#!/usr/bin/python3
"""numpy reference of ORT's 4-bit blockwise round-to-nearest (MLAS MlasQuantizeBlockwise, MatMulNBits layout).

Usage:
    /usr/bin/python3 test/bench/baseline_quant4.py MODEL.onnx [--block-size 32] [--symmetric]
        [--dump TENSOR_NAME --dump-dir DIR]

Quantizes every MatMul weight (input B that is a 2-D float initializer [K, N]) of the main graph, one
tensor at a time (external data is loaded per tensor with onnx's loader, so memory stays at one tensor).
Per column n and block of `block_size` values along K (K zero-padded to k_blocks * block_size), all in
float32 (DESIGN.md, "4-bit weight-only"):
    asymmetric: lo = min(bmin, 0), hi = max(bmax, 0), scale = (hi - lo) / 15,
                zp = 0 if scale == 0 else clamp(roundf(0 - lo / scale), 0, 15)
                (MLAS clamps before rounding: < 0 -> 0, > 15 -> 15, same result),
                q = clamp(roundf(v * (1 / scale) + zp), 0, 15)
    symmetric:  m = bmax if |bmax| > |bmin| else bmin, scale = m / -8, zp = 8,
                q = clamp(roundf(v * (1 / scale) + 8), 0, 15)
`1 / scale` is computed once per block from the stored scale (float16 for float16 weights), 0 when the
scale is 0; roundf rounds halves away from zero. bmin/bmax cover the real K values only (padding excluded).
Padding codes are 0, as ORT's Python quantizer leaves them (qbits_block_quant in matmul_nbits_quantizer.py
hands MLAS an np.zeros buffer and MLAS writes codes below K only), and as big-shrink and quant_oracle.py write.

Layout written by --dump (MatMulNBits inputs, plus the unpacked codes for easy comparison):
    <name>.b.npy      uint8 [N, k_blocks, block_size / 2]  two codes per byte, first code in the low nibble
    <name>.scales.npy float32|float16 [N * k_blocks]
    <name>.zp.npy     uint8 [N * ceil(k_blocks / 2)]  packed zero points (asymmetric only; low nibble first,
                      a missing last nibble is 0)
    <name>.q.npy      uint8 [N, k_blocks * block_size]  unpacked codes
Prints one JSON line: {"seconds", "tensors", "elements", "blockSize", "symmetric"}.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.external_data_helper import uses_external_data, load_external_data_for_tensor

F32 = np.float32


def roundf(x):
    """C roundf in float32: halves away from zero (x - trunc(x) is exact, unlike floor(x + 0.5))."""
    t = np.trunc(x)
    frac = x - t
    return (t + np.where(np.abs(frac) >= F32(0.5), np.sign(x), F32(0))).astype(F32)


def quantize(w, block_size, symmetric):
    """w: [K, N] float32/float16. Returns (q [N, kb*bs] uint8, scales [N*kb], zp [N, kb] uint8)."""
    k, n = w.shape
    kb = (k + block_size - 1) // block_size
    scale_dtype = np.float16 if w.dtype == np.float16 else F32
    wt = np.ascontiguousarray(w.T).astype(F32)  # [N, K]
    pad = kb * block_size - k
    vals = np.pad(wt, ((0, 0), (0, pad))).reshape(n, kb, block_size)
    bmin = np.pad(wt, ((0, 0), (0, pad)), constant_values=np.inf).reshape(n, kb, block_size).min(axis=2)
    bmax = np.pad(wt, ((0, 0), (0, pad)), constant_values=-np.inf).reshape(n, kb, block_size).max(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if symmetric:
            m = np.where(np.abs(bmax) > np.abs(bmin), bmax, bmin).astype(F32)
            scale_f = (m / F32(-8)).astype(F32)
            zp = np.full((n, kb), 8, dtype=np.uint8)
        else:
            lo = np.minimum(bmin, F32(0))
            hi = np.maximum(bmax, F32(0))
            scale_f = ((hi - lo) / F32(15)).astype(F32)
            zfp = np.where(scale_f != 0, F32(0) - lo / scale_f, lo).astype(F32)
            zp = np.clip(roundf(zfp), 0, 15).astype(np.uint8)
        scale = scale_f.astype(scale_dtype)
        s32 = scale.astype(F32)
        recip = np.where(s32 != 0, F32(1) / s32, F32(0)).astype(F32)
        q = roundf((vals * recip[:, :, None]).astype(F32) + zp[:, :, None].astype(F32))
    q = np.clip(q, 0, 15).astype(np.uint8).reshape(n, kb * block_size)
    if pad:
        q.reshape(n, kb, block_size)[:, -1, block_size - pad:] = 0
    return q, scale.reshape(-1), zp


def pack_nibbles(codes):
    """[..., 2m] uint8 codes -> [..., m] bytes, first code in the low nibble."""
    return (codes[..., 0::2] | (codes[..., 1::2] << 4)).astype(np.uint8)


def matmul_weights(model):
    inits = {t.name: t for t in model.graph.initializer}
    seen = []
    for node in model.graph.node:
        if node.op_type == "MatMul" and len(node.input) > 1 and node.input[1] in inits:
            t = inits[node.input[1]]
            if len(t.dims) == 2 and t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16) and t.name not in seen:
                seen.append(t.name)
                yield t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--block-size", type=int, default=32)
    ap.add_argument("--symmetric", action="store_true")
    ap.add_argument("--dump")
    ap.add_argument("--dump-dir", default=".")
    a = ap.parse_args()
    if a.block_size < 16 or a.block_size & (a.block_size - 1):
        ap.error("--block-size must be a power of two >= 16")

    t0 = time.time()
    model = onnx.load(a.model, load_external_data=False)
    base = os.path.dirname(os.path.abspath(a.model))
    count = 0
    elements = 0
    dumped = False
    for t in matmul_weights(model):
        if uses_external_data(t):
            load_external_data_for_tensor(t, base)
            t.data_location = onnx.TensorProto.DEFAULT  # raw_data now holds the bytes
        w = numpy_helper.to_array(t)
        t.ClearField("raw_data")
        q, scales, zp = quantize(w, a.block_size, a.symmetric)
        b = pack_nibbles(q).reshape(q.shape[0], -1, a.block_size // 2)
        count += 1
        elements += w.size
        if a.dump == t.name:
            os.makedirs(a.dump_dir, exist_ok=True)
            stem = os.path.join(a.dump_dir, t.name)
            np.save(stem + ".b.npy", b)
            np.save(stem + ".scales.npy", scales)
            np.save(stem + ".q.npy", q)
            if not a.symmetric:
                zpp = zp if zp.shape[1] % 2 == 0 else np.pad(zp, ((0, 0), (0, 1)))
                np.save(stem + ".zp.npy", pack_nibbles(zpp).reshape(-1))
            dumped = True
    if a.dump and not dumped:
        sys.stderr.write("baseline_quant4: no MatMul weight named %r\n" % a.dump)
        return 1
    print(json.dumps({"seconds": round(time.time() - t0, 4), "tensors": count, "elements": int(elements),
                      "blockSize": a.block_size, "symmetric": a.symmetric}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
