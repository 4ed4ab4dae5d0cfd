#!/usr/bin/python3
"""Independent statistics oracle for the corpus suite (python3-onnx + numpy, Debian packages).

Usage:
    /usr/bin/python3 test/oracle/stats_oracle.py [--bins N] MODEL.onnx [MODEL2.onnx ...]
    /usr/bin/python3 test/oracle/stats_oracle.py [--bins N] --stdin   < list-of-paths   (one path a line)

Prints one JSON line per model, in input order:
    {"path": P, "tensors": [{name, graph, where, dtype, dims, count, min, max, mean, std, zeros,
                             nan, inf, absMax, histogram}, ...]}
or, when the model cannot be read:
    {"path": P, "error": "why"}

It shares no code with the TypeScript engine: protobuf parsing is onnx's (the C++ protobuf runtime),
external data is read with onnx's own loader, and element decoding is written here with numpy.

WHICH TENSORS (the same set `big-shrink inspect --json` lists)
- every GraphProto.initializer                 -> where "initializer", name = TensorProto.name
- every GraphProto.sparse_initializer          -> where "sparse_initializer", name = values.name,
  densified (indices [NNZ] linearized or [NNZ, rank]), dtype = the values' dtype, dims = the sparse dims
- every Constant node (domain "" or "ai.onnx") -> where "constant", name = the node's first output;
  attribute value (TensorProto), sparse_value (densified), value_float (float32, dims []),
  value_floats (float32, [n]), value_int (int64, dims []), value_ints (int64, [n]).
  value_string / value_strings are listed too (dtype "string", dims [] / [n], no stats).
  Tensor attributes of other ops (ConstantOfShape.value, …) are NOT listed.
- in the main graph, in every subgraph (attributes of type GRAPH `g` and GRAPHS `graphs`, any op, any
  depth) and in every model-local function (FunctionProto.node, and subgraphs inside them).

GRAPH PATH CONVENTION (the "graph" field)
- the main graph is "main";
- a model-local function is "function:<domain>:<name>" (domain as written, "" stays empty:
  "function::f");
- a subgraph is "<parent path>/<node label>/<attribute name>", where <node label> is the node's name,
  or, when the name is empty, "<opType>#<index>" with <index> the node's 0-based position among the
  nodes of its own graph (or function); for a GRAPHS attribute "[i]" (0-based) is appended to the
  attribute name: "main/loop_1/body", "main/If#3/then_branch", "main/sc/graphs[1]".
- names are used verbatim (no escaping of "/"); two sibling nodes with the same name give the same
  path, and tensors are then told apart by their order.

ORDER: per graph: initializers, sparse initializers, then the nodes in order; for each node its
Constant tensor (if it is a Constant) and then, depth first, its subgraphs in attribute order.
The main graph comes first, then functions in file order.

STATISTICS (numpy float64)
- count = number of elements (product of dims; 1 for a scalar), NaN and ±Inf included;
- min, max, mean, std (population, ddof=0), absMax are over the finite values; null when there are none;
- zeros = elements == 0 (-0.0 included; False for bool); nan / inf = counts of NaN / ±Inf;
- histogram = {"min", "max", "counts"}: numpy.histogram(finite values, N bins) (--bins, default 64), its
  outer edges and counts; null when there are no finite values;
- string and complex tensors: no statistics (the stats fields are null), count still reported.
- 4-bit types pack two elements per byte, the first in the low nibble; float8/float4 follow the ONNX
  definitions (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, e2m1).
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, AttributeProto
from onnx import external_data_helper

DTYPE_NAMES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
    8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
    14: "complex64", 15: "complex128", 16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz",
    19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1",
}

# numpy dtype of one stored element for the byte-aligned types (raw_data is little-endian)
RAW_NP = {
    1: "<f4", 2: "u1", 3: "i1", 4: "<u2", 5: "<i2", 6: "<i4", 7: "<i8", 9: "u1", 10: "<u2",
    11: "<f8", 12: "<u4", 13: "<u8", 14: "<c8", 15: "<c16", 16: "<u2",
    17: "u1", 18: "u1", 19: "u1", 20: "u1",
}
FP8 = (17, 18, 19, 20)
FOUR_BIT = (21, 22, 23)
NO_STATS = (8, 14, 15)


class OracleError(Exception):
    pass


def dtype_name(code):
    return DTYPE_NAMES.get(code, "undefined" if code == 0 else "dtype%d" % code)


def _minifloat_table(exp_bits, man_bits, bias, kind):
    """All 2^(1+e+m) values of a small float format as float64 (kind: 'fn', 'fnuz', 'ieee', 'e2m1')."""
    n = 1 << (1 + exp_bits + man_bits)
    out = np.empty(n, dtype=np.float64)
    for code in range(n):
        sign = (code >> (exp_bits + man_bits)) & 1
        e = (code >> man_bits) & ((1 << exp_bits) - 1)
        m = code & ((1 << man_bits) - 1)
        if e == 0:
            v = (m / (1 << man_bits)) * 2.0 ** (1 - bias)
        else:
            v = (1 + m / (1 << man_bits)) * 2.0 ** (e - bias)
        v = -v if sign else v
        if kind == "fn":  # e4m3fn: only S.1111.111 is NaN, no infinities
            if e == (1 << exp_bits) - 1 and m == (1 << man_bits) - 1:
                v = np.nan
        elif kind == "fnuz":  # 0x80 is the only NaN, no -0, no infinities
            if code == 0x80:
                v = np.nan
        elif kind == "ieee":  # e5m2: IEEE-like
            if e == (1 << exp_bits) - 1:
                v = (-np.inf if sign else np.inf) if m == 0 else np.nan
        out[code] = v
    return out


FP8_TABLES = {
    17: _minifloat_table(4, 3, 7, "fn"),
    18: _minifloat_table(4, 3, 8, "fnuz"),
    19: _minifloat_table(5, 2, 15, "ieee"),
    20: _minifloat_table(5, 2, 16, "fnuz"),
}
FP4_TABLE = _minifloat_table(2, 1, 1, "e2m1")


def element_count(dims):
    n = 1
    for d in dims:
        if d < 0:
            raise OracleError("negative dim %d" % d)
        n *= int(d)
    return n


def _unpack4(byte_values, count, code):
    b = np.asarray(byte_values, dtype=np.uint8)
    nib = np.empty(b.size * 2, dtype=np.uint8)
    nib[0::2] = b & 0x0F
    nib[1::2] = b >> 4
    if nib.size < count:
        raise OracleError("4-bit payload holds %d elements, dims say %d" % (nib.size, count))
    nib = nib[:count]
    if code == 21:
        return nib.astype(np.float64)
    if code == 22:
        v = nib.astype(np.int16)
        return np.where(v >= 8, v - 16, v).astype(np.float64)
    return FP4_TABLE[nib]


def _from_bits(codes, code):
    """Turn stored integer codes (raw bytes or int32_data) into float64 values for the given dtype."""
    if code == 10:
        return np.asarray(codes, dtype=np.uint16).view(np.float16).astype(np.float64)
    if code == 16:
        u = np.asarray(codes, dtype=np.uint32) & 0xFFFF
        return (u << 16).astype(np.uint32).view(np.float32).astype(np.float64)
    if code in FP8:
        return FP8_TABLES[code][np.asarray(codes, dtype=np.int64) & 0xFF]
    raise AssertionError(code)


def tensor_values(t, base_dir):
    """Values of a TensorProto as a flat float64 array (None for string/complex), and its count."""
    code = t.data_type
    dims = list(t.dims)
    count = element_count(dims)
    if code not in DTYPE_NAMES:
        raise OracleError("tensor %r has unknown data_type %d" % (t.name, code))
    if code == 8:
        if len(t.string_data) != count:
            raise OracleError("tensor %r: %d strings, dims say %d" % (t.name, len(t.string_data), count))
        return None, count
    if t.data_location == TensorProto.EXTERNAL:
        external_data_helper.load_external_data_for_tensor(t, base_dir)
    if t.HasField("raw_data"):
        raw = t.raw_data
        if code in FOUR_BIT:
            need = (count + 1) // 2
            if len(raw) != need:
                raise OracleError("tensor %r: raw_data %d bytes, expected %d" % (t.name, len(raw), need))
            return _unpack4(np.frombuffer(raw, dtype=np.uint8), count, code), count
        arr = np.frombuffer(raw, dtype=RAW_NP[code])
        if arr.size != count or len(raw) != arr.size * arr.itemsize:
            raise OracleError("tensor %r: raw_data %d bytes, expected %d elements" % (t.name, len(raw), count))
        if code in NO_STATS:
            return None, count
        if code == 16 or code in FP8 or code == 10:
            return _from_bits(arr, code), count
        return arr.astype(np.float64), count
    # typed fields
    if code == 1:
        data = np.asarray(t.float_data, dtype=np.float32)
    elif code == 11:
        data = np.asarray(t.double_data, dtype=np.float64)
    elif code == 7:
        data = np.asarray(t.int64_data, dtype=np.int64)
    elif code in (12, 13):
        data = np.asarray(t.uint64_data, dtype=np.uint64)
    elif code in (14, 15):
        n = len(t.float_data) if code == 14 else len(t.double_data)
        if n != 2 * count:
            raise OracleError("tensor %r: %d complex parts, dims say %d" % (t.name, n, count))
        return None, count
    else:  # int32_data holds int32, int16, int8, uint16, uint8, bool, float16/bfloat16/float8 bits, 4-bit pairs
        i32 = np.asarray(t.int32_data, dtype=np.int64)
        if code in FOUR_BIT:
            if i32.size != (count + 1) // 2:
                raise OracleError("tensor %r: int32_data %d entries, expected %d" % (t.name, i32.size, (count + 1) // 2))
            return _unpack4(i32 & 0xFF, count, code), count
        if i32.size != count:
            raise OracleError("tensor %r: int32_data %d entries, dims say %d" % (t.name, i32.size, count))
        if code in (10, 16) or code in FP8:
            return _from_bits(i32, code), count
        data = i32
        if code == 3:
            data = i32.astype(np.int8)
        elif code == 2:
            data = i32.astype(np.uint8)
        elif code == 5:
            data = i32.astype(np.int16)
        elif code == 4:
            data = i32.astype(np.uint16)
        elif code == 9:
            data = (i32 != 0).astype(np.uint8)
    if data.size != count:
        raise OracleError("tensor %r: %d typed values, dims say %d" % (t.name, data.size, count))
    return data.astype(np.float64), count


def sparse_values(sp, base_dir):
    """Densify a SparseTensorProto: (flat float64 values or None, dtype code, dims, count)."""
    dims = list(sp.dims)
    count = element_count(dims)
    vals, nnz = tensor_values(sp.values, base_dir)
    code = sp.values.data_type
    if vals is None:
        return None, code, dims, count
    idx_t = sp.indices
    idx, _ = tensor_values(idx_t, base_dir)
    idx = idx.astype(np.int64)
    if len(idx_t.dims) == 2:
        rank = len(dims)
        if idx_t.dims[1] != rank or idx_t.dims[0] != nnz:
            raise OracleError("sparse %r: indices dims %s do not fit" % (sp.values.name, list(idx_t.dims)))
        idx2 = idx.reshape(nnz, rank)
        lin = np.zeros(nnz, dtype=np.int64)
        for axis in range(rank):
            lin = lin * int(dims[axis]) + idx2[:, axis]
        idx = lin
    elif idx.size != nnz:
        raise OracleError("sparse %r: %d indices for %d values" % (sp.values.name, idx.size, nnz))
    if idx.size and (idx.min() < 0 or idx.max() >= count):
        raise OracleError("sparse %r: index out of range" % sp.values.name)
    dense = np.zeros(count, dtype=np.float64)
    dense[idx] = vals
    return dense, code, dims, count


BINS = 64


def histogram(values, bins):
    """numpy.histogram(values, bins). With one distinct value numpy bins over [v - 0.5, v + 0.5], which puts
    every value in the middle bin; near ±2^63 v ± 0.5 rounds back to v in float64 and numpy fails (an index
    out of bounds), so that case is written out: the same outer edges, every value in bin bins // 2."""
    lo, hi = float(values.min()), float(values.max())
    if lo == hi and lo - 0.5 == lo:
        counts = np.zeros(bins, dtype=np.int64)
        counts[bins // 2] = values.size
        return counts, np.array([lo - 0.5, hi + 0.5])
    return np.histogram(values, bins)


def stats(values, count):
    s = {"count": int(count)}
    if values is None:
        s.update(min=None, max=None, mean=None, std=None, zeros=None, nan=None, inf=None, absMax=None,
                 histogram=None)
        return s
    nan = int(np.count_nonzero(np.isnan(values)))
    inf = int(np.count_nonzero(np.isinf(values)))
    finite = values[np.isfinite(values)] if (nan or inf) else values
    s["zeros"] = int(np.count_nonzero(values == 0))
    s["nan"] = nan
    s["inf"] = inf
    if finite.size == 0:
        s.update(min=None, max=None, mean=None, std=None, absMax=None, histogram=None)
    else:
        counts, edges = histogram(finite.astype(np.float64), BINS)
        s["histogram"] = {"min": float(edges[0]), "max": float(edges[-1]),
                          "counts": [int(c) for c in counts]}
        s["min"] = float(finite.min())
        s["max"] = float(finite.max())
        s["mean"] = float(np.mean(finite))
        s["std"] = float(np.std(finite))
        s["absMax"] = float(np.max(np.abs(finite)))
    return s


class Walker:
    def __init__(self, base_dir):
        self.base_dir = base_dir
        self.out = []

    def emit(self, name, graph, where, code, dims, values, count):
        row = {"name": name, "graph": graph, "where": where, "dtype": dtype_name(code),
               "dims": [int(d) for d in dims]}
        row.update(stats(values, count))
        self.out.append(row)

    def graph(self, g, path):
        for t in g.initializer:
            vals, count = tensor_values(t, self.base_dir)
            self.emit(t.name, path, "initializer", t.data_type, t.dims, vals, count)
        for sp in g.sparse_initializer:
            vals, code, dims, count = sparse_values(sp, self.base_dir)
            self.emit(sp.values.name, path, "sparse_initializer", code, dims, vals, count)
        self.nodes(g.node, path)

    def nodes(self, nodes, path):
        for index, node in enumerate(nodes):
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                self.constant(node, path)
            label = node.name if node.name else "%s#%d" % (node.op_type, index)
            for a in node.attribute:
                if a.type == AttributeProto.GRAPH or (a.type == 0 and a.HasField("g")):
                    self.graph(a.g, "%s/%s/%s" % (path, label, a.name))
                elif a.type == AttributeProto.GRAPHS or (a.type == 0 and len(a.graphs)):
                    for i, sub in enumerate(a.graphs):
                        self.graph(sub, "%s/%s/%s[%d]" % (path, label, a.name, i))

    def constant(self, node, path):
        name = node.output[0] if len(node.output) else ""
        for a in node.attribute:
            if a.name == "value":
                vals, count = tensor_values(a.t, self.base_dir)
                self.emit(name, path, "constant", a.t.data_type, a.t.dims, vals, count)
            elif a.name == "sparse_value":
                vals, code, dims, count = sparse_values(a.sparse_tensor, self.base_dir)
                self.emit(name, path, "constant", code, dims, vals, count)
            elif a.name == "value_float":
                v = np.asarray([a.f], dtype=np.float32).astype(np.float64)
                self.emit(name, path, "constant", 1, [], v, 1)
            elif a.name == "value_floats":
                v = np.asarray(a.floats, dtype=np.float32).astype(np.float64)
                self.emit(name, path, "constant", 1, [v.size], v, v.size)
            elif a.name == "value_int":
                v = np.asarray([a.i], dtype=np.int64).astype(np.float64)
                self.emit(name, path, "constant", 7, [], v, 1)
            elif a.name == "value_ints":
                v = np.asarray(a.ints, dtype=np.int64).astype(np.float64)
                self.emit(name, path, "constant", 7, [v.size], v, v.size)
            elif a.name == "value_string":
                self.emit(name, path, "constant", 8, [], None, 1)
            elif a.name == "value_strings":
                self.emit(name, path, "constant", 8, [len(a.strings)], None, len(a.strings))


def oracle(path):
    model = onnx.load(path, load_external_data=False)
    w = Walker(os.path.dirname(os.path.abspath(path)))
    w.graph(model.graph, "main")
    for f in model.functions:
        w.nodes(f.node, "function:%s:%s" % (f.domain, f.name))
    return w.out


def _clean(x):
    """JSON has no NaN/Inf: the oracle never produces them in stats, but be safe."""
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


@np.errstate(invalid="ignore", over="ignore", divide="ignore")
def main(argv):
    global BINS
    if len(argv) >= 2 and argv[0] == "--bins":
        BINS = int(argv[1])
        argv = argv[2:]
    if argv and argv[0] == "--stdin":
        paths = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    else:
        paths = argv
    if not paths:
        sys.stderr.write("usage: stats_oracle.py MODEL... | --stdin\n")
        return 2
    for p in paths:
        try:
            rows = oracle(p)
            for r in rows:
                for k, v in r.items():
                    r[k] = _clean(v)
            line = json.dumps({"path": p, "tensors": rows}, allow_nan=False)
        except Exception as e:  # one bad model must not stop the batch
            line = json.dumps({"path": p, "error": "%s: %s" % (type(e).__name__, e)})
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
