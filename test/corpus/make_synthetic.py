#!/usr/bin/python3
"""Writes small hand-made ONNX models that cover what the real corpus lacks (Debian python3-onnx + numpy).

Usage: /usr/bin/python3 test/corpus/make_synthetic.py OUTDIR

The real corpus (test/models, libonnx-testdata) has no sparse initializers, no model-local functions,
no typed fp16/int8 payloads, no float8/int4/bfloat16, no strings and no external data beyond one file.
Each model here isolates one of those so that a disagreement with the oracle points at one decoder:

  dtypes_raw.onnx        one initializer per dtype in raw_data; every fp16/bf16/fp8/fp4/int4 bit pattern
  dtypes_typed.onnx      the same values through float_data/int32_data/int64_data/double_data/uint64_data
  constants.onnx         Constant nodes: value, value_float(s), value_int(s), value_string(s), sparse_value;
                         unnamed nodes; a Constant in a non-standard domain (not a tensor)
  sparse.onnx            sparse_initializer with linear [NNZ] and [NNZ, rank] indices, NNZ = 0
  nested.onnx            If / Loop / Scan bodies nested 6 deep, a custom op with a GRAPHS attribute,
                         unnamed nodes (OpType#index paths), a shared name at two depths
  functions.onnx         model-local functions holding Constants and an If with a subgraph
  external/model.onnx    external data: two files, a sub-folder, unaligned offsets, length omitted,
                         external tensors in a subgraph, in a Constant and in a sparse initializer
  shapes.onnx            scalars, zero-sized dims, init-as-graph-input (IR 3), 1M heavy-tailed floats,
                         int64/uint64 extremes, all-NaN and all-Inf tensors
"""
import os
import sys

import numpy as np
import onnx
from onnx import helper, TensorProto, AttributeProto

RNG = np.random.default_rng(1234)


def t_raw(name, code, dims, raw):
    t = TensorProto()
    t.name = name
    t.data_type = code
    t.dims.extend(dims)
    t.raw_data = bytes(raw)
    return t


def t_typed(name, code, dims, field, values):
    t = TensorProto()
    t.name = name
    t.data_type = code
    t.dims.extend(dims)
    getattr(t, field).extend(values)
    return t


def model(graph, opset=13, ir=8, functions=None, extra_opsets=()):
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="big-shrink-synthetic")
    m.ir_version = ir
    if functions:
        m.functions.extend(functions)
    return m


def consume_all(inits, out="y"):
    """A graph whose only node reads nothing (tensors are weights held by the graph, read by Identity)."""
    nodes = [helper.make_node("Identity", [inits[0].name], [out], name="id0")] if inits else []
    return nodes


def float_specials():
    return np.array([0.0, -0.0, 1.0, -1.0, 0.5, 1e-8, -3.25, 65504.0, 1e-45, 3.4e38, np.nan, np.inf, -np.inf,
                     1e30, -1e-30], dtype=np.float64)


def all_codes_u16():
    return np.arange(65536, dtype=np.uint32).astype(np.uint16)


def pack4(codes):
    codes = np.asarray(codes, dtype=np.uint8) & 0x0F
    if codes.size % 2:
        codes = np.append(codes, 0)
    return (codes[0::2] | (codes[1::2] << 4)).astype(np.uint8)


def dtype_tensors(typed):
    out = []
    f = float_specials()
    n4 = 15  # odd: the last byte holds one element and a zero pad nibble
    codes4 = np.arange(n4) % 16
    ints = {
        2: np.array([0, 1, 127, 128, 255, 0], dtype=np.uint8),
        3: np.array([0, -1, 127, -128, 5, 0], dtype=np.int8),
        4: np.array([0, 1, 65535, 32768], dtype=np.uint16),
        5: np.array([0, -1, 32767, -32768], dtype=np.int16),
        6: np.array([0, -1, 2147483647, -2147483648, 7], dtype=np.int32),
        7: np.array([0, -1, 2 ** 62, -(2 ** 63), 2 ** 63 - 1, 3], dtype=np.int64),
        9: np.array([True, False, True, True], dtype=np.bool_),
        12: np.array([0, 1, 4294967295, 12345], dtype=np.uint32),
        13: np.array([0, 1, 2 ** 64 - 1, 2 ** 53 + 1], dtype=np.uint64),
    }
    if not typed:
        out.append(t_raw("f32", 1, [f.size], f.astype("<f4").tobytes()))
        out.append(t_raw("f64", 11, [f.size], f.astype("<f8").tobytes()))
        out.append(t_raw("f16_all", 10, [256, 256], all_codes_u16().astype("<u2").tobytes()))
        out.append(t_raw("bf16_all", 16, [65536], all_codes_u16().astype("<u2").tobytes()))
        for code in (17, 18, 19, 20):
            out.append(t_raw("fp8_%d_all" % code, code, [16, 16], np.arange(256, dtype=np.uint8).tobytes()))
        out.append(t_raw("fp4_all", 23, [16], pack4(np.arange(16)).tobytes()))
        out.append(t_raw("u4", 21, [n4], pack4(codes4).tobytes()))
        out.append(t_raw("i4", 22, [3, 5], pack4(codes4).tobytes()))
        for code, arr in ints.items():
            out.append(t_raw("int_%d" % code, code, [arr.size], arr.astype(arr.dtype.newbyteorder("<")).tobytes()))
        out.append(t_raw("c64", 14, [2], np.array([1 + 2j, -3j], dtype="<c8").tobytes()))
    else:
        out.append(t_typed("f32", 1, [f.size], "float_data", f.astype(np.float32).tolist()))
        out.append(t_typed("f64", 11, [f.size], "double_data", f.tolist()))
        out.append(t_typed("f16_all", 10, [256, 256], "int32_data", all_codes_u16().astype(np.int64).tolist()))
        out.append(t_typed("bf16_all", 16, [65536], "int32_data", all_codes_u16().astype(np.int64).tolist()))
        for code in (17, 18, 19, 20):
            out.append(t_typed("fp8_%d_all" % code, code, [16, 16], "int32_data", list(range(256))))
        out.append(t_typed("fp4_all", 23, [16], "int32_data", pack4(np.arange(16)).astype(np.int64).tolist()))
        out.append(t_typed("u4", 21, [n4], "int32_data", pack4(codes4).astype(np.int64).tolist()))
        out.append(t_typed("i4", 22, [3, 5], "int32_data", pack4(codes4).astype(np.int64).tolist()))
        for code, arr in ints.items():
            if code == 7:
                out.append(t_typed("int_7", 7, [arr.size], "int64_data", arr.tolist()))
            elif code in (12, 13):
                out.append(t_typed("int_%d" % code, code, [arr.size], "uint64_data", [int(x) for x in arr]))
            else:
                out.append(t_typed("int_%d" % code, code, [arr.size], "int32_data", arr.astype(np.int64).tolist()))
        out.append(t_typed("c64", 14, [2], "float_data", [1.0, 2.0, 0.0, -3.0]))
        out.append(t_typed("strs", 8, [3], "string_data", [b"a", b"", "\u00e9".encode()]))
    return out


def dtypes_model(typed):
    inits = dtype_tensors(typed)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"], name="id")], "dtypes", [x], [y], inits)
    return model(g, opset=21, ir=10)


def constants_model():
    nodes = [
        helper.make_node("Constant", [], ["c_value"], name="c1",
                         value=helper.make_tensor("t", TensorProto.FLOAT, [2, 3], [1, -2, 3, 0, 5, -0.5])),
        helper.make_node("Constant", [], ["c_float"], name="c2", value_float=-2.5),
        helper.make_node("Constant", [], ["c_floats"], value_floats=[0.0, 1.5, -3.0, 1e-7]),  # unnamed
        helper.make_node("Constant", [], ["c_int"], value_int=-7),
        helper.make_node("Constant", [], ["c_ints"], name="c5", value_ints=[3, 0, -(2 ** 40), 9]),
        helper.make_node("Constant", [], ["c_str"], name="c6", value_string="hello"),
        helper.make_node("Constant", [], ["c_strs"], name="c7", value_strings=["a", "bc"]),
        helper.make_node("Constant", [], ["c_sparse"], name="c8", sparse_value=helper.make_sparse_tensor(
            helper.make_tensor("sv", TensorProto.FLOAT, [3], [4.0, -1.0, 2.5]),
            helper.make_tensor("si", TensorProto.INT64, [3], [1, 5, 11]), [3, 4])),
        helper.make_node("Constant", [], ["c_empty_floats"], name="c9", value_floats=[]),
        helper.make_node("Constant", [], ["c_f16"], name="c10",
                         value=t_typed("h", TensorProto.FLOAT16, [3], "int32_data", [0x3C00, 0x8000, 0x7C00])),
        # Not the standard Constant: its tensor attribute is not a weight tensor.
        helper.make_node("Constant", [], ["c_custom"], name="c11", domain="custom.domain",
                         value=helper.make_tensor("t2", TensorProto.FLOAT, [1], [9.0])),
        helper.make_node("ConstantOfShape", ["c_ints"], ["cos"], name="cos",
                         value=helper.make_tensor("t3", TensorProto.FLOAT, [1], [1.0])),
        helper.make_node("Add", ["c_value", "c_float"], ["y"], name="add"),
    ]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    g = helper.make_graph(nodes, "constants", [], [y])
    return model(g, opset=13, ir=8, extra_opsets=[("custom.domain", 1)])


def sparse_model():
    sp_lin = helper.make_sparse_tensor(
        helper.make_tensor("sp_lin", TensorProto.FLOAT, [4], [1.0, -2.0, 3.5, 7.0]),
        helper.make_tensor("sp_lin_idx", TensorProto.INT64, [4], [0, 3, 10, 23]), [4, 6])
    sp_2d = helper.make_sparse_tensor(
        helper.make_tensor("sp_2d", TensorProto.FLOAT, [3], [0.25, -8.0, 1.0]),
        helper.make_tensor("sp_2d_idx", TensorProto.INT64, [3, 3], [0, 0, 1, 0, 2, 0, 1, 1, 3]), [2, 3, 4])
    sp_empty = helper.make_sparse_tensor(
        helper.make_tensor("sp_empty", TensorProto.FLOAT, [0], []),
        helper.make_tensor("sp_empty_idx", TensorProto.INT64, [0], []), [5, 5])
    sp_i8 = helper.make_sparse_tensor(
        t_raw("sp_i8", TensorProto.INT8, [2], np.array([-3, 4], dtype=np.int8).tobytes()),
        helper.make_tensor("sp_i8_idx", TensorProto.INT64, [2], [1, 2]), [8])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 6])
    g = helper.make_graph([helper.make_node("Add", ["x", "sp_lin"], ["y"], name="add")], "sparse", [x], [y],
                          initializer=[helper.make_tensor("dense", TensorProto.FLOAT, [2], [1.0, 2.0])],
                          sparse_initializer=[sp_lin, sp_2d, sp_empty, sp_i8])
    return model(g, opset=13, ir=8)


def branch(depth, tag):
    """A then/else body holding an initializer, a Constant and (until depth 0) another If."""
    w = helper.make_tensor("w_%s_%d" % (tag, depth), TensorProto.FLOAT, [3],
                           (RNG.standard_normal(3) * (depth + 1)).tolist())
    nodes = [helper.make_node("Constant", [], ["k_%s_%d" % (tag, depth)], value_floats=[float(depth), -1.0])]
    if depth > 0:
        then_g = branch(depth - 1, tag + "t")
        else_g = branch(depth - 1, tag + "e")
        # unnamed If: its path label is "If#1"
        nodes.append(helper.make_node("If", ["cond"], ["r_%s_%d" % (tag, depth)], then_branch=then_g, else_branch=else_g))
        nodes.append(helper.make_node("Add", ["r_%s_%d" % (tag, depth), w.name], ["o_%s_%d" % (tag, depth)], name="same"))
    else:
        nodes.append(helper.make_node("Add", [w.name, w.name], ["o_%s_%d" % (tag, depth)], name="same"))
    out = helper.make_tensor_value_info("o_%s_%d" % (tag, depth), TensorProto.FLOAT, [3])
    return helper.make_graph(nodes, "b_%s_%d" % (tag, depth), [], [out], [w])


def nested_model():
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    # Loop body: (iter, cond_in, carried) -> (cond_out, carried_out), with its own initializer
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Constant", [], ["step"], value=helper.make_tensor("st", TensorProto.FLOAT, [3], [1, 2, 3])),
         helper.make_node("Add", ["carried", "step"], ["c1"]),
         helper.make_node("Add", ["c1", "body_w"], ["carried_out"], name="loop_add")],
        "body",
        [helper.make_tensor_value_info("iter", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("carried", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("carried_out", TensorProto.FLOAT, [3])],
        [helper.make_tensor("body_w", TensorProto.FLOAT, [3], [0.5, -0.5, 0.25])])
    scan_body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "s_x"], ["s_out"]),
         helper.make_node("Identity", ["s_out"], ["s_y"])],
        "scan_body",
        [helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("s_x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("s_y", TensorProto.FLOAT, [3])],
        [helper.make_tensor("scan_w", TensorProto.FLOAT16, [2], [1.5, -2.0])])
    g_a = helper.make_graph([helper.make_node("Constant", [], ["ga"], value_int=1)], "ga", [],
                            [helper.make_tensor_value_info("ga", TensorProto.INT64, [])],
                            [helper.make_tensor("ga_w", TensorProto.INT64, [2], [5, 6])])
    g_b = helper.make_graph([helper.make_node("Constant", [], ["gb"], value_int=2)], "gb", [],
                            [helper.make_tensor_value_info("gb", TensorProto.INT64, [])])
    multi = helper.make_node("MultiGraph", [], ["mg"], domain="custom.domain")
    multi.attribute.append(helper.make_attribute("graphs", [g_a, g_b]))
    nodes = [
        helper.make_node("If", ["cond"], ["r_top"], name="top_if", then_branch=branch(5, "t"), else_branch=branch(5, "e")),
        helper.make_node("Loop", ["trip", "cond", "init"], ["loop_out"], body=body),  # unnamed: Loop#1
        helper.make_node("Scan", ["init", "xs"], ["scan_state", "scan_ys"], name="", num_scan_inputs=1, body=scan_body),
        multi,  # unnamed: MultiGraph#3
    ]
    g = helper.make_graph(nodes, "nested", [cond, helper.make_tensor_value_info("xs", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("r_top", TensorProto.FLOAT, [3])],
                          [helper.make_tensor("trip", TensorProto.INT64, [], [2]),
                           helper.make_tensor("init", TensorProto.FLOAT, [3], [0, 0, 0])])
    return model(g, opset=13, ir=8, extra_opsets=[("custom.domain", 1)])


def functions_model():
    inner = helper.make_graph(
        [helper.make_node("Constant", [], ["fi"], name="fc_inner", value_floats=[7.0, 8.0])], "fthen", [],
        [helper.make_tensor_value_info("fi", TensorProto.FLOAT, [2])])
    f1 = helper.make_function(
        "my.fns", "Scale", ["X"], ["Y"],
        [helper.make_node("Constant", [], ["s"], name="fscale", value_float=3.0),
         helper.make_node("Constant", [], ["b"], value=helper.make_tensor("bt", TensorProto.FLOAT, [2], [0.5, -0.5])),
         helper.make_node("If", ["X"], ["z"], then_branch=inner, else_branch=inner),
         helper.make_node("Mul", ["X", "s"], ["Y"])],
        [helper.make_opsetid("", 13)])
    f2 = helper.make_function(
        "", "NoDomain", ["X"], ["Y"],
        [helper.make_node("Constant", [], ["k"], name="k", value_ints=[1, 2, 3]),
         helper.make_node("Identity", ["X"], ["Y"])],
        [helper.make_opsetid("", 13)])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    g = helper.make_graph([helper.make_node("Scale", ["x"], ["y"], name="call", domain="my.fns")], "fn", [x], [y],
                          [helper.make_tensor("main_w", TensorProto.FLOAT, [2], [1.0, 2.0])])
    return model(g, opset=13, ir=8, functions=[f1, f2], extra_opsets=[("my.fns", 1)])


def set_external(t, location, offset, length):
    del t.external_data[:]
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is None:
            continue
        e = t.external_data.add()
        e.key = k
        e.value = str(v)
    t.ClearField("raw_data")


def external_model(outdir):
    d = os.path.join(outdir, "external")
    os.makedirs(os.path.join(d, "sub"), exist_ok=True)
    arrays = {
        "ext_a": RNG.standard_t(4, size=(64, 32)).astype(np.float32),
        "ext_b": RNG.standard_normal(100).astype(np.float16),
        "ext_c": np.arange(-50, 50, dtype=np.int8),
        "ext_sub": (RNG.standard_normal(257) * 1e-3).astype(np.float32),
        "ext_last": RNG.standard_normal(33).astype(np.float64),
        "ext_const": RNG.standard_normal(16).astype(np.float32),
        "ext_sparse_vals": np.array([9.0, -9.0], dtype=np.float32),
        "ext_branch": RNG.standard_normal(12).astype(np.float32),
    }
    code = {np.dtype(np.float32): 1, np.dtype(np.float16): 10, np.dtype(np.int8): 3, np.dtype(np.float64): 11}
    placement = {}
    with open(os.path.join(d, "weights.bin"), "wb") as f:
        for name in ("ext_a", "ext_b", "ext_c", "ext_const", "ext_sparse_vals", "ext_branch"):
            pos = f.tell()
            if name == "ext_b":  # unaligned on purpose
                f.write(b"\x01\x02\x03")
                pos += 3
            elif pos % 4096:
                f.write(b"\0" * (4096 - pos % 4096))
                pos = f.tell()
            f.write(arrays[name].tobytes())
            placement[name] = ("weights.bin", pos, arrays[name].nbytes)
        # ext_last: the last tensor of the file, with no length key (read to the end)
        pos = f.tell()
        f.write(arrays["ext_last"].tobytes())
        placement["ext_last"] = ("weights.bin", pos, None)
    with open(os.path.join(d, "sub", "more.bin"), "wb") as f:
        f.write(arrays["ext_sub"].tobytes())
        placement["ext_sub"] = ("sub/more.bin", None, arrays["ext_sub"].nbytes)  # offset omitted = 0

    def ext(name, dims=None):
        a = arrays[name]
        t = t_raw(name, code[a.dtype], list(dims if dims is not None else a.shape), b"")
        loc, off, length = placement[name]
        set_external(t, loc, off, length)
        return t

    then_g = helper.make_graph([helper.make_node("Identity", ["ext_branch"], ["bo"])], "then", [],
                               [helper.make_tensor_value_info("bo", TensorProto.FLOAT, [12])], [ext("ext_branch")])
    else_g = helper.make_graph([helper.make_node("Identity", ["ext_branch"], ["bo"])], "else", [],
                               [helper.make_tensor_value_info("bo", TensorProto.FLOAT, [12])])
    sp = helper.make_sparse_tensor(ext("ext_sparse_vals"),
                                   helper.make_tensor("ext_sp_idx", TensorProto.INT64, [2], [0, 7]), [2, 4])
    nodes = [
        helper.make_node("Constant", [], ["const_out"], name="cst", value=ext("ext_const")),
        helper.make_node("If", ["cond"], ["bo_top"], name="branchy", then_branch=then_g, else_branch=else_g),
        helper.make_node("MatMul", ["x", "ext_a"], ["y"], name="mm"),
    ]
    g = helper.make_graph(nodes, "ext", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64]),
                                         helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])],
                          [ext("ext_a"), ext("ext_b"), ext("ext_c"), ext("ext_sub"), ext("ext_last"),
                           helper.make_tensor("inline_small", TensorProto.FLOAT, [2], [1.0, 2.0])],
                          sparse_initializer=[sp])
    onnx.save(model(g, opset=13, ir=8), os.path.join(d, "model.onnx"))


def shapes_model():
    heavy = (RNG.standard_t(3, size=1 << 20) * 0.02).astype(np.float32)
    heavy[::997] *= 50.0
    offset = (RNG.standard_normal(4096) * 1e-4 + 1000.0).astype(np.float32)  # large mean, tiny spread
    inits = [
        helper.make_tensor("scalar_f", TensorProto.FLOAT, [], [3.5]),
        helper.make_tensor("scalar_i", TensorProto.INT64, [], [-9]),
        t_raw("empty_0", TensorProto.FLOAT, [0], b""),
        t_raw("empty_302", TensorProto.FLOAT, [3, 0, 2], b""),
        t_raw("heavy", TensorProto.FLOAT, [1024, 1024], heavy.tobytes()),
        t_raw("offset", TensorProto.FLOAT, [4096], offset.tobytes()),
        t_raw("all_nan", TensorProto.FLOAT, [3], np.array([np.nan] * 3, dtype="<f4").tobytes()),
        t_raw("all_inf", TensorProto.FLOAT16, [2], np.array([np.inf, -np.inf], dtype="<f2").tobytes()),
        t_raw("zeros_neg", TensorProto.FLOAT, [4], np.array([0.0, -0.0, 0.0, -0.0], dtype="<f4").tobytes()),
        t_raw("big_i64", TensorProto.INT64, [3], np.array([2 ** 63 - 1, 2 ** 63 - 2, -(2 ** 63)], dtype="<i8").tobytes()),
        t_raw("big_u64", TensorProto.UINT64, [2], np.array([2 ** 64 - 1, 2 ** 64 - 2], dtype="<u8").tobytes()),
        t_raw("w_in", TensorProto.FLOAT, [2, 2], np.array([1, 2, 3, 4], dtype="<f4").tobytes()),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])
    w_in = helper.make_tensor_value_info("w_in", TensorProto.FLOAT, [2, 2])  # IR 3 style: initializer is also an input
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w_in"], ["y"], name="mm")], "shapes", [x, w_in], [y], inits)
    return model(g, opset=9, ir=3)


def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    onnx.save(dtypes_model(False), os.path.join(outdir, "dtypes_raw.onnx"))
    onnx.save(dtypes_model(True), os.path.join(outdir, "dtypes_typed.onnx"))
    onnx.save(constants_model(), os.path.join(outdir, "constants.onnx"))
    onnx.save(sparse_model(), os.path.join(outdir, "sparse.onnx"))
    onnx.save(nested_model(), os.path.join(outdir, "nested.onnx"))
    onnx.save(functions_model(), os.path.join(outdir, "functions.onnx"))
    onnx.save(shapes_model(), os.path.join(outdir, "shapes.onnx"))
    external_model(outdir)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: make_synthetic.py OUTDIR\n")
        sys.exit(2)
    main(sys.argv[1])
