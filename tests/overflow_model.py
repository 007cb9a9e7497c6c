"""Writes a one-layer int8 QDQ model whose every output channel has one
constant weight, for tests/overflow.rs (accumulators past 2^31).

    python3 tests/overflow_model.py SPEC.json OUT.onnx      (needs numpy, onnx)

SPEC: {"kind": "fc" | "conv" | "depthwise", "input": [1, N] (fc) or
[1, H, W, C] (NHWC, conv and depthwise: the kernel covers the whole H x W,
so the output is one pixel), "weights": [w per output channel; depthwise:
one per input channel], "bias": [int32 per output channel], "in_scale",
"in_zp", "w_scale", "out_scale", "out_zp"}. The output is int8 [1, out].
"""
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

spec = json.load(open(sys.argv[1]))
kind, shape = spec["kind"], spec["input"]
w_per = np.array(spec["weights"], np.int8)
out = len(spec["bias"])
f32 = lambda v: np.array(v, np.float32)
s_in, s_w = f32(spec["in_scale"]), f32(spec["w_scale"])
inits = [
    numpy_helper.from_array(s_in, "s_in"), numpy_helper.from_array(np.array(spec["in_zp"], np.int8), "zp_in"),
    numpy_helper.from_array(s_w, "s_w"), numpy_helper.from_array(np.array(0, np.int8), "zp_w"),
    numpy_helper.from_array(s_in * s_w, "s_b"), numpy_helper.from_array(np.array(0, np.int32), "zp_b"),
    numpy_helper.from_array(f32(spec["out_scale"]), "s_out"),
    numpy_helper.from_array(np.array(spec["out_zp"], np.int8), "zp_out"),
    numpy_helper.from_array(np.array(spec["bias"], np.int32), "B"),
    numpy_helper.from_array(np.array([1, out], np.int64), "out_shape"),
]
nodes = [
    helper.make_node("DequantizeLinear", ["W", "s_w", "zp_w"], ["Wf"]),
    helper.make_node("DequantizeLinear", ["B", "s_b", "zp_b"], ["Bf"]),
]
if kind == "fc":
    # Gemm with transB: W is [out, N].
    weights = np.repeat(w_per[:, None], shape[1], axis=1)
    nodes += [
        helper.make_node("DequantizeLinear", ["x", "s_in", "zp_in"], ["xf"]),
        helper.make_node("Gemm", ["xf", "Wf", "Bf"], ["yf"], transB=1),
        helper.make_node("QuantizeLinear", ["yf", "s_out", "zp_out"], ["y"]),
    ]
else:
    _, h, w, c = shape
    group = c if kind == "depthwise" else 1
    weights = np.broadcast_to(w_per[:, None, None, None], (out, c // group, h, w)).copy()
    nodes += [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]),
        helper.make_node("DequantizeLinear", ["xt", "s_in", "zp_in"], ["xf"]),
        helper.make_node("Conv", ["xf", "Wf", "Bf"], ["cf"], kernel_shape=[h, w], group=group),
        helper.make_node("QuantizeLinear", ["cf", "s_out", "zp_out"], ["c"]),
        helper.make_node("Reshape", ["c", "out_shape"], ["y"]),
    ]
inits.append(numpy_helper.from_array(weights, "W"))
g = helper.make_graph(nodes, f"overflow_{kind}", [helper.make_tensor_value_info("x", TensorProto.INT8, shape)],
                      [helper.make_tensor_value_info("y", TensorProto.INT8, [1, out])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, sys.argv[2])
