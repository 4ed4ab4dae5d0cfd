#!/usr/bin/python3
"""Fixture maker: a model whose QOperator weights are initializers (seeded: same bytes every run).

usage: make_qoperator.py OUT.onnx
QLinearMatMul with a per-column int8 b and a per-tensor uint8 b, QLinearConv with per-channel int8 w,
com.microsoft QGemm (transB=1) with a per-tensor uint8 B, MatMulInteger with per-column zero points and
its scale behind Cast -> Mul(Cast, Mul(xs, b_scale)), ConvInteger with its scale in Mul(Cast, scale).
Also BACKEND MODEL.onnx DATASET OUT.onnx NAMES: a backend test model with the inputs NAMES (comma
separated) turned into initializers read from DATASET/input_<i>.pb.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

r = np.random.default_rng(12)
def init(a, name): return nh.from_array(a, name)
I = lambda n, t, s: h.make_tensor_value_info(n, t, s)
inits = [
  init(r.integers(-128, 128, (6, 5)).astype(np.int8), 'qmm_b'),
  init((r.random(5) * 0.05 + 0.01).astype(np.float32), 'qmm_b_scale'),
  init(r.integers(-3, 4, (5,)).astype(np.int8), 'qmm_b_zp'),
  init(r.integers(0, 256, (6, 5)).astype(np.uint8), 'qmm2_b'),
  init(np.array(0.02, np.float32), 'qmm2_b_scale'),
  init(np.array(128, np.uint8), 'qmm2_b_zp'),
  init(np.array(0.1, np.float32), 'a_scale'), init(np.array(0, np.int8), 'a_zp'), init(np.array(0, np.uint8), 'a_zpu'),
  init(np.array(0.2, np.float32), 'y_scale'), init(np.array(0, np.int8), 'y_zp'), init(np.array(0, np.uint8), 'y_zpu'),
  init(r.integers(-128, 128, (4, 3, 3, 3)).astype(np.int8), 'qconv_w'),
  init((r.random(4) * 0.03 + 0.005).astype(np.float32), 'qconv_w_scale'),
  init(np.zeros(4, np.int8), 'qconv_w_zp'),
  init(r.integers(0, 256, (5, 6)).astype(np.uint8), 'qgemm_b'),
  init(np.array(0.015, np.float32), 'qgemm_b_scale'),
  init(np.array(120, np.uint8), 'qgemm_b_zp'),
  init(r.integers(0, 256, (6, 4)).astype(np.uint8), 'mmi_b'),
  init(r.integers(100, 150, (4,)).astype(np.uint8), 'mmi_b_zp'),
  init((r.random(4) * 0.02 + 0.01).astype(np.float32), 'mmi_b_scale'),
  init(r.integers(0, 256, (2, 3, 3, 3)).astype(np.uint8), 'ci_w'),
  init(np.array(131, np.uint8), 'ci_w_zp'),
  init(np.array(0.004, np.float32), 'ci_scale'),
]
nodes = [
  h.make_node('QLinearMatMul', ['xa', 'a_scale', 'a_zp', 'qmm_b', 'qmm_b_scale', 'qmm_b_zp', 'y_scale', 'y_zp'], ['y1']),
  h.make_node('QLinearMatMul', ['xu', 'a_scale', 'a_zpu', 'qmm2_b', 'qmm2_b_scale', 'qmm2_b_zp', 'y_scale', 'y_zpu'], ['y2']),
  h.make_node('QLinearConv', ['xc', 'a_scale', 'a_zp', 'qconv_w', 'qconv_w_scale', 'qconv_w_zp', 'y_scale', 'y_zp'], ['y3']),
  h.make_node('QGemm', ['xu', 'a_scale', 'a_zpu', 'qgemm_b', 'qgemm_b_scale', 'qgemm_b_zp', '', 'y_scale', 'y_zpu'], ['y4'], domain='com.microsoft', transB=1),
  h.make_node('MatMulInteger', ['xu', 'mmi_b', 'a_zpu', 'mmi_b_zp'], ['mmi_i']),
  h.make_node('Cast', ['mmi_i'], ['mmi_f'], to=T.FLOAT),
  h.make_node('Mul', ['xs', 'mmi_b_scale'], ['mmi_s']),
  h.make_node('Mul', ['mmi_f', 'mmi_s'], ['y5']),
  h.make_node('ConvInteger', ['xcu', 'ci_w', 'a_zpu', 'ci_w_zp'], ['ci_i']),
  h.make_node('Cast', ['ci_i'], ['ci_f'], to=T.FLOAT),
  h.make_node('Mul', ['ci_f', 'ci_scale'], ['y6']),
]
g = h.make_graph(nodes, 'qop', [I('xa', T.INT8, [2, 6]), I('xu', T.UINT8, [2, 6]), I('xc', T.INT8, [1, 3, 5, 5]), I('xs', T.FLOAT, []), I('xcu', T.UINT8, [1, 3, 5, 5])],
  [I('y1', T.INT8, None), I('y2', T.UINT8, None), I('y3', T.INT8, None), I('y4', T.UINT8, None), I('y5', T.FLOAT, None), I('y6', T.FLOAT, None)], inits)
m = h.make_model(g, opset_imports=[h.make_opsetid('', 13), h.make_opsetid('com.microsoft', 1)], producer_name='fixture')
m.ir_version = 7


def backend(model_path, dataset, out, names):
    bm = onnx.load(model_path)
    wanted = names.split(',')
    keep = []
    for i, inp in enumerate(bm.graph.input):
        if inp.name in wanted:
            t = onnx.TensorProto()
            with open(os.path.join(dataset, f'input_{i}.pb'), 'rb') as f:
                t.ParseFromString(f.read())
            t.name = inp.name
            bm.graph.initializer.append(t)
        else:
            keep.append(inp)
    del bm.graph.input[:]
    bm.graph.input.extend(keep)
    onnx.save(bm, out)


if sys.argv[1] == 'BACKEND':
    backend(*sys.argv[2:6])
else:
    onnx.save(m, sys.argv[1])
