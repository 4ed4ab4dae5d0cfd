#!/usr/bin/python3
"""Generates the benchmark model: a transformer-like ONNX model with heavy-tailed float32 weights.

Usage:
    /usr/bin/python3 test/bench/make_bench_model.py --out .bench/bench.onnx --target-mb 400 [--seed 1]
        [--hidden D] [--vocab V] [--seq-check]

Structure (opset 17, IR 8; input `input_ids` int64 [1, seq], output `logits` float32 [seq, vocab]):
    Gather(embedding [V, d], input_ids) -> N x {
        LayerNorm(gamma, beta) -> q/k/v = MatMul(x, W[d, d]) + b -> single-head attention
        -> MatMul(W_o [d, d]) + b -> residual;
        LayerNorm -> MatMul(W_1 [d, 4d]) + b_1 -> Relu -> MatMul(W_2 [4d, d]) + b_2 -> residual }
    -> LayerNorm -> Reshape [-1, d] -> Gemm(W_head [V, d], b_head [V], transB=1).

Weights: Student-t (df = 4) scaled to std 0.02, with a few outlier output channels (columns of MatMul
weights, rows of the transB Gemm weight) multiplied by 20. LayerNorm gamma ~ 1 + N(0, 0.02), biases ~ N(0, 0.01).
Every tensor of >= 1 KiB is stored in ONE external data file `<out name>.data` (relative location,
4096-aligned offsets), written tensor by tensor so memory stays at about one tensor; smaller tensors
(the Reshape shape) stay inline. The number of layers is chosen so the weights total about --target-mb MB
(10^6 bytes); the hidden size defaults to 1024 below 1500 MB and 2048 above.
Prints one JSON line: {"path", "dataPath", "bytes", "tensors", "layers", "hidden", "largestTensorBytes", "seconds"}.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
from onnx import helper, TensorProto

ALIGN = 4096
INLINE_LIMIT = 1024


class ExternalWriter:
    """Appends arrays to one data file at 4096-aligned offsets and builds TensorProtos that point there."""

    def __init__(self, data_path):
        self.location = os.path.basename(data_path)
        self.f = open(data_path, "wb")
        self.pos = 0
        self.largest = 0
        self.count = 0

    def tensor(self, name, arr):
        arr = np.ascontiguousarray(arr)
        code = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64}[arr.dtype]
        t = TensorProto()
        t.name = name
        t.data_type = code
        t.dims.extend(arr.shape)
        self.count += 1
        if arr.nbytes < INLINE_LIMIT:
            t.raw_data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
            return t
        pad = (-self.pos) % ALIGN
        if pad:
            self.f.write(b"\0" * pad)
            self.pos += pad
        offset = self.pos
        self.f.write(memoryview(arr.astype(arr.dtype.newbyteorder("<"), copy=False)).cast("B"))
        self.pos += arr.nbytes
        self.largest = max(self.largest, arr.nbytes)
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", self.location), ("offset", str(offset)), ("length", str(arr.nbytes))):
            e = t.external_data.add()
            e.key = k
            e.value = v
        return t

    def close(self):
        self.f.close()


class Weights:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def heavy(self, shape, outlier_axis, std=0.02, outliers=4):
        """Student-t(4) in float32 scaled to `std`, with `outliers` channels along `outlier_axis` ×20."""
        z = self.rng.standard_normal(shape, dtype=np.float32)
        g = self.rng.standard_gamma(2.0, size=shape, dtype=np.float32)  # chi2(4) / 2
        # t = z / sqrt(chi2/4) = z / sqrt(g/2); std(t4) = sqrt(2)
        np.maximum(g, np.float32(1e-6), out=g)
        np.multiply(g, np.float32(0.5), out=g)
        np.sqrt(g, out=g)
        np.divide(z, g, out=z)
        del g
        z *= np.float32(std / np.sqrt(2.0))
        n = shape[outlier_axis]
        idx = self.rng.choice(n, size=min(outliers, n), replace=False)
        if outlier_axis == 0:
            z[idx, :] *= np.float32(20.0)
        else:
            z[:, idx] *= np.float32(20.0)
        return z

    def normal(self, shape, mean, std):
        return (self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std) + np.float32(mean)).astype(np.float32)


def plan(target_mb, hidden, vocab):
    d = hidden or (1024 if target_mb < 1500 else 2048)
    v = vocab or (8192 if d <= 1024 else 16000)
    per_layer = (4 * d * d + 8 * d * d + 4 * d + 4 * d + d + 4 * d) * 4  # weights + biases + 2 LN pairs
    fixed = (2 * v * d + v + 2 * d) * 4
    layers = max(1, int(round((target_mb * 1e6 - fixed) / per_layer)))
    return d, v, layers


def build(out, target_mb, seed, hidden, vocab):
    t0 = time.time()
    d, vocab, layers = plan(target_mb, hidden, vocab)
    data_path = out + ".data"
    w = Weights(seed)
    ext = ExternalWriter(data_path)
    inits = []
    nodes = []

    def init(name, arr):
        inits.append(ext.tensor(name, arr))
        return name

    def node(op, inputs, outputs, **attrs):
        nodes.append(helper.make_node(op, inputs, outputs, name="%s_%d" % (op, len(nodes)), **attrs))
        return outputs[0]

    def layernorm(x, prefix):
        g = init(prefix + ".gamma", w.normal([d], 1.0, 0.02))
        b = init(prefix + ".beta", w.normal([d], 0.0, 0.02))
        return node("LayerNormalization", [x, g, b], [prefix + ".out"], axis=-1, epsilon=1e-5)

    def linear(x, prefix, k, n):
        wt = init(prefix + ".weight", w.heavy((k, n), outlier_axis=1))
        b = init(prefix + ".bias", w.normal([n], 0.0, 0.01))
        y = node("MatMul", [x, wt], [prefix + ".mm"])
        return node("Add", [y, b], [prefix + ".out"])

    emb = init("embed.weight", w.heavy((vocab, d), outlier_axis=1))
    x = node("Gather", [emb, "input_ids"], ["embed.out"], axis=0)
    inv_sqrt_d = init("attn.scale", np.array([1.0 / np.sqrt(d)], dtype=np.float32))
    for i in range(layers):
        p = "layers.%d" % i
        h = layernorm(x, p + ".ln1")
        q = linear(h, p + ".attn.q", d, d)
        k = linear(h, p + ".attn.k", d, d)
        v = linear(h, p + ".attn.v", d, d)
        kt = node("Transpose", [k], [p + ".attn.kt"], perm=[0, 2, 1])
        s = node("MatMul", [q, kt], [p + ".attn.scores"])
        s = node("Mul", [s, inv_sqrt_d], [p + ".attn.scaled"])
        a = node("Softmax", [s], [p + ".attn.probs"], axis=-1)
        ctx = node("MatMul", [a, v], [p + ".attn.ctx"])
        o = linear(ctx, p + ".attn.o", d, d)
        x = node("Add", [x, o], [p + ".res1"])
        h = layernorm(x, p + ".ln2")
        m = linear(h, p + ".mlp.fc1", d, 4 * d)
        m = node("Relu", [m], [p + ".mlp.act"])
        m = linear(m, p + ".mlp.fc2", 4 * d, d)
        x = node("Add", [x, m], [p + ".res2"])
    x = layernorm(x, "final_ln")
    shape = init("head.shape", np.array([-1, d], dtype=np.int64))  # 16 bytes: stays inline
    x = node("Reshape", [x, shape], ["head.in"])
    hw = init("head.weight", w.heavy((vocab, d), outlier_axis=0))  # [N, K], transB=1: outliers are rows
    hb = init("head.bias", w.normal([vocab], 0.0, 0.01))
    node("Gemm", [x, hw, hb], ["logits"], transB=1)
    ext.close()

    graph = helper.make_graph(
        nodes, "bench_transformer",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["seq", vocab])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="big-shrink-bench")
    model.ir_version = 8
    with open(out, "wb") as f:
        f.write(model.SerializeToString())
    return {
        "path": out,
        "dataPath": data_path,
        "bytes": os.path.getsize(out) + os.path.getsize(data_path),
        "tensors": ext.count,
        "layers": layers,
        "hidden": d,
        "vocab": vocab,
        "largestTensorBytes": ext.largest,
        "seconds": round(time.time() - t0, 3),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--target-mb", type=float, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hidden", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    print(json.dumps(build(a.out, a.target_mb, a.seed, a.hidden, a.vocab)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
