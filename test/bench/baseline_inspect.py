#!/usr/bin/python3
"""Baseline for `npm run bench`: what a user would write with onnx + numpy to get per-tensor statistics.

Usage: /usr/bin/python3 test/bench/baseline_inspect.py MODEL.onnx [--bins 64] [--stats-out FILE.json]

Loads the model with `onnx.load` (external data included, onnx's own loader), turns every tensor into a
numpy array with `numpy_helper.to_array`, and computes, in float64, for each one: count, min, max, mean,
std (population), zeros, nan, inf, absMax, sparsity and a histogram of `--bins` equal bins over
[min, max] of the finite values. Tensors: graph initializers, sparse initializers (densified) and
Constant-node values, in the main graph, subgraphs and functions — the set `big-shrink inspect` covers.

Prints one JSON line: {"seconds": load + statistics, "loadSeconds", "statsSeconds", "importSeconds",
"bytes": model + external data bytes, "tensors": number of tensors}. `--stats-out` writes the per-tensor
statistics as JSON (for spot checks against the CLI).
"""
import argparse
import json
import os
import sys
import time

T_IMPORT = time.time()
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper, AttributeProto  # noqa: E402

IMPORT_SECONDS = time.time() - T_IMPORT


def sparse_to_dense(sp):
    values = numpy_helper.to_array(sp.values)
    indices = numpy_helper.to_array(sp.indices).astype(np.int64)
    dims = tuple(sp.dims)
    dense = np.zeros(int(np.prod(dims)) if dims else 1, dtype=values.dtype)
    if indices.ndim == 2:
        indices = np.ravel_multi_index(tuple(indices.T), dims)
    dense[indices] = values.reshape(-1)
    return dense.reshape(dims)


def collect(graph, out):
    for t in graph.initializer:
        out.append((t.name, numpy_helper.to_array(t)))
    for sp in graph.sparse_initializer:
        out.append((sp.values.name, sparse_to_dense(sp)))
    for node in graph.node:
        for a in node.attribute:
            if node.op_type == "Constant":
                if a.name == "value":
                    out.append((node.output[0], numpy_helper.to_array(a.t)))
                elif a.name == "sparse_value":
                    out.append((node.output[0], sparse_to_dense(a.sparse_tensor)))
                elif a.name == "value_float":
                    out.append((node.output[0], np.array(a.f, dtype=np.float32)))
                elif a.name == "value_floats":
                    out.append((node.output[0], np.array(a.floats, dtype=np.float32)))
                elif a.name == "value_int":
                    out.append((node.output[0], np.array(a.i, dtype=np.int64)))
                elif a.name == "value_ints":
                    out.append((node.output[0], np.array(a.ints, dtype=np.int64)))
            if a.type == AttributeProto.GRAPH:
                collect(a.g, out)
            elif a.type == AttributeProto.GRAPHS:
                for g in a.graphs:
                    collect(g, out)


def tensor_stats(arr, bins):
    if arr.dtype.kind in "OSU" or arr.dtype.kind == "c":
        return {"count": int(arr.size)}
    x = arr.astype(np.float64).reshape(-1)
    finite_mask = np.isfinite(x)
    finite = x[finite_mask]
    nan = int(np.isnan(x).sum())
    inf = int(np.isinf(x).sum())
    zeros = int((x == 0).sum())
    s = {"count": int(x.size), "zeros": zeros, "nan": nan, "inf": inf,
         "sparsity": zeros / x.size if x.size else 0.0}
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        if hi > lo and np.isfinite(hi - lo):
            counts = np.histogram(finite, bins=bins, range=(lo, hi))[0]
        else:  # one distinct value (or a span float64 cannot hold): everything in the first bin
            counts = np.zeros(bins, dtype=np.int64)
            counts[0] = finite.size
        s.update(min=lo, max=hi, mean=float(finite.mean()), std=float(finite.std()),
                 absMax=float(np.abs(finite).max()), histogram={"min": lo, "max": hi, "counts": counts.tolist()})
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--bins", type=int, default=64)
    ap.add_argument("--stats-out")
    a = ap.parse_args()

    t0 = time.time()
    model = onnx.load(a.model)  # loads external data next to the model
    tensors = []
    collect(model.graph, tensors)
    for f in model.functions:
        collect(onnx.helper.make_graph(f.node, f.name, [], []), tensors)
    t1 = time.time()
    stats = []
    for name, arr in tensors:
        s = tensor_stats(arr, a.bins)
        s["name"] = name
        stats.append(s)
    t2 = time.time()

    size = os.path.getsize(a.model)
    base = os.path.dirname(os.path.abspath(a.model))
    seen = set()
    for t in onnx.load(a.model, load_external_data=False).graph.initializer:
        for e in t.external_data:
            if e.key == "location" and e.value not in seen:
                seen.add(e.value)
                size += os.path.getsize(os.path.join(base, e.value))
    if a.stats_out:
        with open(a.stats_out, "w") as f:
            json.dump(stats, f)
    print(json.dumps({"seconds": round(t2 - t0, 4), "loadSeconds": round(t1 - t0, 4),
                      "statsSeconds": round(t2 - t1, 4), "importSeconds": round(IMPORT_SECONDS, 4),
                      "bytes": size, "tensors": len(stats)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
