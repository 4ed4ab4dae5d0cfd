#!/usr/bin/python3
"""Baseline for the prune benchmark (test/bench/pruneBench.ts): global magnitude pruning as a user would
write it with onnx + numpy.

Usage: /usr/bin/python3 test/bench/baseline_prune.py MODEL.onnx [--sparsity 0.5] [--names NAMES.json]

Loads the model with `onnx.load` (external data included, onnx's own loader) and turns the weights into
numpy arrays with `numpy_helper.to_array`, as baseline_inspect.py does. The weights are the initializers
named in `--names` (a JSON list: the tensors `big-shrink prune` pruned, in its order, so both prune the
same set), else every float initializer of two or more dimensions that a MatMul, Gemm or Conv reads as
its weight. Then the same selection as `big-shrink prune --method magnitude --scope global`: k =
round(sparsity × N) of all N weights; the threshold is the k-th smallest |w| (np.partition, no full
sort); every |w| below it is zeroed, then the first values equal to it in reading order until k are.

Prints one JSON line: {"seconds": load + select + zero, "loadSeconds", "selectSeconds", "zeroSeconds",
"importSeconds", "threshold", "weights": N, "zeros": zeros after, "tensors"}.
"""
import argparse
import json
import sys
import time

T_IMPORT = time.time()
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

IMPORT_SECONDS = time.time() - T_IMPORT

WEIGHT_OPS = {"MatMul", "Gemm", "Conv", "ConvTranspose"}


def default_names(graph, inits):
    names = []
    for node in graph.node:
        if node.op_type in WEIGHT_OPS and len(node.input) > 1:
            w = node.input[1]
            t = inits.get(w)
            if t is not None and len(t.dims) >= 2 and t.data_type == onnx.TensorProto.FLOAT and w not in names:
                names.append(w)
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--names")
    a = ap.parse_args()

    t0 = time.time()
    model = onnx.load(a.model)  # loads external data next to the model
    inits = {t.name: t for t in model.graph.initializer}
    if a.names:
        with open(a.names) as f:
            names = json.load(f)
    else:
        names = default_names(model.graph, inits)
    weights = [numpy_helper.to_array(inits[n]).astype(np.float32, copy=False) for n in names]
    t1 = time.time()

    total = sum(w.size for w in weights)
    k = int(round(a.sparsity * total))
    threshold = 0.0
    if k > 0:
        mags = np.concatenate([np.abs(w).reshape(-1) for w in weights])
        mags.partition(k - 1)  # in place: the k-th smallest lands at k - 1, no full sort
        threshold = float(mags[k - 1])
        del mags
    t2 = time.time()

    zeros = 0
    if k > 0:
        below = [np.abs(w) < threshold for w in weights]
        ties = k - int(sum(int(b.sum()) for b in below))
        pruned = []
        for w, b in zip(weights, below):
            w = np.array(w, copy=True) if not w.flags.writeable else w
            w[b] = 0
            if ties > 0:  # values equal to the threshold, in reading order, until k are zeroed
                flat = w.reshape(-1)
                at = np.flatnonzero(np.abs(flat) == threshold)[:ties]
                flat[at] = 0
                ties -= at.size
            zeros += int(w.size - np.count_nonzero(w))
            pruned.append(w)
        weights = pruned
    t3 = time.time()

    print(json.dumps({"seconds": round(t3 - t0, 4), "loadSeconds": round(t1 - t0, 4),
                      "selectSeconds": round(t2 - t1, 4), "zeroSeconds": round(t3 - t2, 4),
                      "importSeconds": round(IMPORT_SECONDS, 4), "threshold": threshold,
                      "weights": int(total), "zeros": zeros, "tensors": len(weights)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
