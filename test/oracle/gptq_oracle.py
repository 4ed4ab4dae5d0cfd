#!/usr/bin/python3
"""Test oracle: GPTQ (Frantar et al. 2022, Algorithm 1, without lazy batching) with MatMulNBits blocks,
written independently in numpy from the paper: H + 0.01*mean(diag(H))*I, H^-1 by numpy's inverse, its
upper Cholesky factor U (H^-1 = U^T U), then for each row k of W [K, N]: on entering a block of the block
size, each column's scale and zero point by ONNX Runtime's round-to-nearest rule (float32, asymmetric:
range including 0; symmetric: the larger-magnitude end over -2^(bits-1)) from the current, updated block;
q = clamp(roundf(w*(1/scale) + zp)); W[k+1:, :] -= outer(U[k, k+1:], (w - dq) / U[k, k]).

usage: gptq_oracle.py W.f32 H.f64 K N BITS BLOCK SYM(0|1) OUT.u8
Writes the codes, uint8 [N, K] (column n's codes along K; no padding).
"""
import sys

import numpy as np


def roundf(x):
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def block_params(block, bits, sym):
    """block: float32 [rows, N] -> (scale, recip, zp) per column, float32, as MLAS computes them."""
    qmax = np.float32((1 << bits) - 1)
    mid = np.float32(1 << (bits - 1))
    bmin = block.min(axis=0)
    bmax = block.max(axis=0)
    if sym:
        m = np.where(np.abs(bmax) > np.abs(bmin), bmax, bmin).astype(np.float32)
        scale = (-m / mid).astype(np.float32)
        zp = np.full(block.shape[1], mid, dtype=np.float32)
    else:
        lo = np.minimum(bmin, np.float32(0))
        hi = np.maximum(bmax, np.float32(0))
        scale = ((hi - lo).astype(np.float32) / qmax).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            zpf = np.where(scale != 0, np.float32(0) - (lo / scale).astype(np.float32), lo).astype(np.float32)
        zp = np.where(zpf < 0, 0, np.where(zpf > qmax, qmax, roundf(zpf))).astype(np.float32)
    with np.errstate(divide="ignore"):
        recip = np.where(scale != 0, (np.float32(1) / scale).astype(np.float32), np.float32(0)).astype(np.float32)
    return scale, recip, zp


def gptq(w, h, bits, block, sym):
    K, N = w.shape
    qmax = (1 << bits) - 1
    w = w.astype(np.float64).copy()
    h = h.astype(np.float64) + 0.01 * np.mean(np.diag(h)) * np.eye(K)
    u = np.linalg.cholesky(np.linalg.inv(h)).T  # upper: H^-1 = U^T U
    codes = np.zeros((N, K), dtype=np.uint8)
    for k in range(K):
        if k % block == 0:
            scale, recip, zp = block_params(w[k : k + block].astype(np.float32), bits, sym)
        v = w[k].astype(np.float32)
        summed = ((v * recip).astype(np.float32) + zp).astype(np.float32)
        q = np.clip(roundf(summed), 0, qmax)
        codes[:, k] = q
        dq = ((q - zp).astype(np.float32) * scale).astype(np.float32)
        err = (w[k] - dq) / u[k, k]
        w[k + 1 :] -= np.outer(u[k, k + 1 :], err)
    return codes


def main():
    wp, hp, K, N, bits, block, sym, out = sys.argv[1:9]
    K, N, bits, block = int(K), int(N), int(bits), int(block)
    w = np.fromfile(wp, dtype="<f4").reshape(K, N)
    h = np.fromfile(hp, dtype="<f8").reshape(K, K)
    gptq(w, h, bits, block, sym == "1").tofile(out)


if __name__ == "__main__":
    main()
