#!/usr/bin/python3
"""Test oracle: ONNX Runtime's default MatMulNBits round-to-nearest quantization, written independently
in numpy (float32 arithmetic, as MLAS BlockwiseQuantizer in onnxruntime/core/mlas/lib/q4_dq.cpp does).

usage: quant_oracle.py WEIGHT.f32 K N BITS BLOCK SYM(0|1) SCALE(float32|float16) LAYOUT(KN|NK) OUT_PREFIX
       quant_oracle.py --jobs JOBS.txt   (one job per line, the same nine fields separated by spaces)

WEIGHT.f32 holds K*N little-endian float32 values. Writes OUT_PREFIX.b (uint8 [N, k_blocks, blob]),
OUT_PREFIX.scales (raw scales in SCALE) and, when asymmetric, OUT_PREFIX.zp (packed uint8).
Padding of the last block: code 0, what ORT's own quantizer leaves there (MLAS BlockwiseQuantizer::
quantizeAndTranspose in onnxruntime/core/mlas/lib/q4_dq.cpp writes codes below K only, into the np.zeros
buffer of qbits_block_quant in matmul_nbits_quantizer.py); unused zero-point slots hold 2^(bits-1).
"""
import sys

import numpy as np


def roundf(x):
    """C roundf (halves away from zero), evaluated exactly in float64."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def pack(codes, bits):
    """Pack rows of codes, low bits first, into bytes."""
    per = 8 // bits
    rows, cnt = codes.shape
    padded = np.zeros((rows, -(-cnt // per) * per), dtype=np.uint32)
    padded[:, :cnt] = codes
    padded = padded.reshape(rows, -1, per)
    out = np.zeros(padded.shape[:2], dtype=np.uint32)
    for i in range(per):
        out |= padded[:, :, i] << (i * bits)
    return out.astype(np.uint8)


def quantize(w, bits, block, sym, scale_type):
    K, N = w.shape
    kb = -(-K // block)
    qmax = np.float32((1 << bits) - 1)
    mid = 1 << (bits - 1)
    wt = w.T.astype(np.float32)  # [N, K]
    # Block statistics over the real values only: pad with NaN and use nanmin/nanmax.
    padded = np.full((N, kb * block), np.nan, dtype=np.float32)
    padded[:, :K] = wt
    blocks = padded.reshape(N, kb, block)
    bmin = np.nanmin(blocks, axis=2).astype(np.float32)
    bmax = np.nanmax(blocks, axis=2).astype(np.float32)
    if sym:
        m = np.where(np.abs(bmax) > np.abs(bmin), bmax, bmin).astype(np.float32)
        scale_f = (-m / np.float32(mid)).astype(np.float32)
        zp = np.full((N, kb), mid, dtype=np.float32)
    else:
        lo = np.minimum(bmin, np.float32(0))
        hi = np.maximum(bmax, np.float32(0))
        scale_f = ((hi - lo).astype(np.float32) / qmax).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            zpf = np.where(scale_f != 0, np.float32(0) - (lo / scale_f).astype(np.float32), lo).astype(np.float32)
        zp = np.where(zpf < 0, 0, np.where(zpf > qmax, qmax, roundf(zpf))).astype(np.float32)
    if scale_type == "float16":
        stored = scale_f.astype(np.float16)
        scale = stored.astype(np.float32)
    else:
        stored = scale_f
        scale = scale_f
    with np.errstate(divide="ignore"):
        recip = np.where(scale != 0, (np.float32(1) / scale).astype(np.float32), np.float32(0)).astype(np.float32)
    zero_filled = np.nan_to_num(blocks, nan=0.0).astype(np.float32)
    prod = (zero_filled * recip[:, :, None]).astype(np.float32)
    summed = (prod + zp[:, :, None]).astype(np.float32)
    q = np.clip(roundf(summed), 0, float(qmax)).astype(np.uint32)
    # Padding positions: code 0.
    q = q.reshape(N, kb * block)
    q[np.isnan(padded)] = 0
    b = pack(q.reshape(N * kb, block), bits).reshape(N, kb, block * bits // 8)
    zp_packed = None
    if not sym:
        per = 8 // bits
        zrow = -(-kb * bits // 8)
        zfull = np.full((N, zrow * per), mid, dtype=np.uint32)
        zfull[:, :kb] = zp.astype(np.uint32)
        zp_packed = pack(zfull, bits).reshape(-1)
    return b, stored.reshape(-1), zp_packed


def run(path, K, N, bits, block, sym, scale_type, layout, out):
    K, N, bits, block, sym = int(K), int(N), int(bits), int(block), sym == "1"
    w = np.fromfile(path, dtype="<f4")
    w = w.reshape(K, N) if layout == "KN" else w.reshape(N, K).T
    b, scales, zp = quantize(w, bits, block, sym, scale_type)
    b.tofile(out + ".b")
    scales.astype("<f2" if scale_type == "float16" else "<f4").tofile(out + ".scales")
    if zp is not None:
        zp.tofile(out + ".zp")


def main():
    if sys.argv[1] == "--jobs":
        with open(sys.argv[2]) as f:
            for line in f:
                if line.strip():
                    run(*line.split())
    else:
        run(*sys.argv[1:10])


if __name__ == "__main__":
    main()
