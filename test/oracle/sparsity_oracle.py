#!/usr/bin/python3
"""Test oracle: what pruning did to a model, measured independently with onnx + numpy.

usage: sparsity_oracle.py JOBS.json    prints a JSON list, one result per job
JOB: {"original": path, "pruned": path, "tensors": [{"name", "nm": [axis, n, m]?, "channel_axis": int?}],
      "mask": path?}
Per tensor: count, zeros before/after, `changed` (positions whose value changed to anything but 0),
largest |w| pruned and smallest |w| kept (original values), N:M groups that break the pattern (a trailing
partial group is padded with zeros), all-zero channels and channel L2 norms. With "mask": positions where
the pruned model is non-zero but the mask says 0, and where the mask says 1 but a non-zero weight was zeroed.
Also the model's sparse_initializer payload bytes (values + indices) and how many there are.
"""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper as nh

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from safetensors_oracle import DTYPES  # noqa: E402


def tensors_of(path):
    m = onnx.load(path)  # external data is loaded from the model's folder
    g = m.graph
    out = {t.name: nh.to_array(t) for t in g.initializer}
    for s in g.sparse_initializer:
        dense = np.zeros(int(np.prod(s.dims)), dtype=nh.to_array(s.values).dtype)
        idx = nh.to_array(s.indices)
        assert idx.ndim == 1 and np.all(np.diff(idx) > 0), "linear ascending indices expected"
        dense[idx] = nh.to_array(s.values)
        out[s.values.name] = dense.reshape(list(s.dims))
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    out[n.output[0]] = nh.to_array(a.t)
    sparse_bytes = sum(nh.to_array(s.values).nbytes + nh.to_array(s.indices).nbytes for s in g.sparse_initializer)
    return out, {"sparseInitializers": len(g.sparse_initializer), "sparsePayloadBytes": int(sparse_bytes)}


def read_masks(path):
    import struct

    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    return {
        k: np.frombuffer(data[e["data_offsets"][0] : e["data_offsets"][1]], DTYPES[e["dtype"]]).reshape(e["shape"])
        for k, e in header.items()
        if k != "__metadata__"
    }


def check(job):
    before, _ = tensors_of(job["original"])
    after, model = tensors_of(job["pruned"])
    masks = read_masks(job["mask"]) if job.get("mask") else {}
    result = {"model": model, "tensors": {}}
    for spec in job["tensors"]:
        name = spec["name"]
        a = before[name].astype(np.float64)
        b = after[name].astype(np.float64)
        pruned = (a != 0) & (b == 0)
        kept = b != 0
        r = {
            "count": int(a.size),
            "zerosBefore": int((a == 0).sum()),
            "zerosAfter": int((b == 0).sum()),
            "changed": int(((b != a) & (b != 0)).sum()),
            "maxPrunedAbs": float(np.abs(a[pruned]).max()) if pruned.any() else None,
            "minKeptAbs": float(np.abs(a[kept]).min()) if kept.any() else None,
        }
        if "nm" in spec:
            axis, n, m = spec["nm"]
            w = np.moveaxis(b, axis, -1)
            size = w.shape[-1]
            pad = (-size) % m
            w = np.concatenate([w, np.zeros(w.shape[:-1] + (pad,))], axis=-1) if pad else w
            groups = (w.reshape(w.shape[:-1] + (w.shape[-1] // m, m)) != 0).sum(axis=-1)
            r["nmGroups"] = int(groups.size)
            r["nmViolations"] = int((groups > n).sum())
        if "channel_axis" in spec:
            ax = spec["channel_axis"]
            rows_after = np.moveaxis(b, ax, 0).reshape(b.shape[ax], -1)
            rows_before = np.moveaxis(a, ax, 0).reshape(a.shape[ax], -1)
            r["zeroChannels"] = [int(i) for i in np.nonzero(~rows_after.any(axis=1))[0]]
            r["channelNorms"] = [float(x) for x in np.sqrt((rows_before**2).sum(axis=1))]
            # Every non-zeroed channel is unchanged.
            live = rows_after.any(axis=1)
            r["liveChannelsChanged"] = int((rows_after[live] != rows_before[live]).any(axis=1).sum())
        if name in masks:
            mk = masks[name]
            r["maskShape"] = list(mk.shape)
            r["nonZeroWhereMask0"] = int(((mk == 0) & (b != 0)).sum())
            r["zeroedWhereMask1"] = int(((mk == 1) & (a != 0) & (b == 0)).sum())
        result["tensors"][name] = r
    return result


if __name__ == "__main__":
    print(json.dumps([check(job) for job in json.load(open(sys.argv[1]))]))
