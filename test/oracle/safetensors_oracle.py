#!/usr/bin/python3
"""Test oracle: safetensors read and written by hand (json + numpy; the `safetensors` package is not used),
to check Big Shrink's keep-mask files against an independent reader and writer.

usage: safetensors_oracle.py read FILE         prints JSON {name: {dtype, shape, ones, zeros, sha256}}
       safetensors_oracle.py write FILE SEED   writes U8 0/1 masks (shapes fixed below, values from SEED) with
                                               a header in reverse data order and no padding; prints the same JSON
"""
import hashlib
import json
import struct
import sys

import numpy as np

DTYPES = {"U8": np.uint8, "I8": np.int8, "F32": np.float32, "F16": np.float16, "I64": np.int64}


def read(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    out, ends = {}, []
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        arr = np.frombuffer(data[b:end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        ends.append((b, end))
        out[name] = describe(e["dtype"], arr)
    ends.sort()
    # The format has no holes: the buffers tile the data exactly.
    assert [b for b, _ in ends] == [0] + [e for _, e in ends[:-1]] and (not ends or ends[-1][1] == len(data)), ends
    return out, header.get("__metadata__", {})


def describe(dtype, arr):
    return {
        "dtype": dtype,
        "shape": list(arr.shape),
        "ones": int((arr == 1).sum()),
        "zeros": int((arr == 0).sum()),
        "sha256": hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest(),
    }


def write(path, seed):
    rng = np.random.default_rng(seed)
    masks = {"w.a": (rng.random((3, 5)) < 0.5), "block/w:b": (rng.random((2, 2, 3)) < 0.3), "empty": np.zeros((0, 4), bool)}
    header, blobs, offset = {}, [], 0
    for name, m in masks.items():
        b = m.astype(np.uint8).tobytes()
        header[name] = {"dtype": "U8", "shape": list(m.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    # Reverse the header order: readers must follow data_offsets, not key order.
    text = json.dumps(dict(reversed(list(header.items())))).encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return {n: describe("U8", m.astype(np.uint8)) for n, m in masks.items()}


if __name__ == "__main__":
    if sys.argv[1] == "read":
        tensors, metadata = read(sys.argv[2])
        print(json.dumps({"tensors": tensors, "metadata": metadata}))
    elif sys.argv[1] == "write":
        print(json.dumps({"tensors": write(sys.argv[2], int(sys.argv[3])), "metadata": {}}))
    else:
        sys.exit(__doc__)
