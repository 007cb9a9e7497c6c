"""Checks DSP kernels against the portable ones on small float models that
reach the paths the MLPerf Tiny goldens miss (first-layer convolutions with
odd channel counts, edges, dilation, short tiles; row and column kernels
with widths not a multiple of 4, unequal strides, a fused ReLU6; odd out_c
on the generic path; Add with either input the larger scale; pointwise
layers with dead channels, and depthwise layers after them). Each model is calibrated, built for cortex-m4 with
--kernels dsp and --kernels portable, run under QEMU, and the outputs must
be equal byte for byte.

    python3 tests/dsp_layers_check.py [HYBRIDC [TARGET]]   (needs numpy, onnx; tests/dsp_layers.rs runs it)
"""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HYBRIDC = sys.argv[1] if len(sys.argv) > 1 else "target/release/hybridc"
TARGET = sys.argv[2] if len(sys.argv) > 2 else "cortex-m4"
rng = np.random.default_rng(1)

# name, in_c, h, w, out_c, kh, kw, stride, pads (t, l, b, r), dilation
CONVS = [
    ("c3s1", 3, 9, 9, 6, 3, 3, 1, (1, 1, 1, 1), 1),
    ("c1k10x4", 1, 20, 9, 5, 10, 4, 2, (4, 1, 5, 1), 1),
    ("c2s2", 2, 11, 13, 8, 3, 3, 2, (1, 1, 1, 1), 1),
    ("c5", 5, 7, 7, 4, 3, 3, 1, (1, 1, 1, 1), 1),
    ("c3dil", 3, 12, 12, 16, 5, 5, 1, (4, 4, 4, 4), 2),
    ("c3big", 3, 50, 60, 4, 3, 3, 1, (1, 1, 1, 1), 1),
    ("c1big", 1, 100, 85, 32, 10, 4, 2, (4, 1, 5, 2), 1),
    ("c3s2big", 3, 70, 70, 8, 3, 3, 2, (0, 0, 1, 1), 1),
    ("c6", 6, 8, 8, 10, 2, 2, 1, (0, 0, 1, 1), 1),
    ("c3k7", 3, 20, 20, 8, 7, 7, 2, (3, 3, 3, 3), 1),
    # in_c % 4 == 0: row kernel (k > 1x1), column kernel (1x1), the generic path.
    ("c8k2", 8, 9, 11, 6, 2, 2, 1, (0, 0, 1, 1), 1),
    ("c8k1x3s12", 8, 10, 13, 10, 1, 3, (1, 2), (0, 1, 0, 1), 1),
    ("c16s2", 16, 13, 13, 16, 3, 3, 2, (1, 1, 1, 1), 1),
    ("c4pw_odd", 4, 7, 7, 5, 1, 1, 1, (0, 0, 0, 0), 1),
    ("c8pw_relu6", 8, 6, 7, 8, 1, 1, 1, (0, 0, 0, 0), 1, "relu6"),
    ("c8k3_relu6", 8, 9, 9, 8, 3, 3, 1, (1, 1, 1, 1), 1, "relu6"),
    # Narrow pointwise kernel (in_c <= 16, 64+ pixels): last groups of 1, 3 and 2 pixels.
    ("c4pw_n1", 4, 9, 9, 6, 1, 1, 1, (0, 0, 0, 0), 1),
    ("c12pw_n3", 12, 9, 11, 10, 1, 1, 1, (0, 0, 0, 0), 1),
    ("c16pw_n2", 16, 11, 6, 8, 1, 1, 1, (0, 0, 0, 0), 1),
    # ReLU (output zero point -128): the uniform shift of the first-layer and narrow pointwise kernels.
    ("c3s2_relu", 3, 15, 15, 8, 3, 3, 2, (0, 0, 1, 1), 1, "relu"),
    ("c8pw_relu", 8, 9, 7, 16, 1, 1, 1, (0, 0, 0, 0), 1, "relu"),
    ("c16pw_relu", 16, 8, 9, 6, 1, 1, 1, (0, 0, 0, 0), 1, "relu"),
    # Narrow pointwise layers of more than 32 outputs: the group's pair loop (not unrolled).
    ("c8pw_wide", 8, 9, 8, 40, 1, 1, 1, (0, 0, 0, 0), 1),
    ("c12pw_wide_relu", 12, 7, 9, 36, 1, 1, 1, (0, 0, 0, 0), 1, "relu"),
    ("c32pw_n3", 32, 7, 9, 20, 1, 1, 1, (0, 0, 0, 0), 1),
    ("c24pw_relu_n1", 24, 9, 9, 34, 1, 1, 1, (0, 0, 0, 0), 1, "relu"),
]

# Pointwise layers whose weights leave channels dead: name, in_c, h, w, out_c, live outputs, live inputs
# (odd live counts, last groups of 3 and 1 pixels, all dead).
DEAD = [
    ("c32pw_dead", 32, 5, 7, 24, 5, 6),
    ("c64pw_dead", 64, 3, 3, 128, 19, 30),
    ("c16pw_alldead", 16, 4, 4, 16, 0, 0),
]
# A pointwise layer with dead outputs (ReLU of a negative bias: the zero point) feeding a 3x3 depthwise
# layer, which then runs on its live channels: name, in_c, h, w, channels, live channels, stride.
DEAD_DW = [
    ("dw_dead_s1", 16, 7, 9, 32, 9, 1),
    ("dw_dead_s2", 16, 9, 8, 64, 20, 2),
]


def nhwc_model(name, h, w, c, out_shape, body, inits):
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2])] + body
    nodes.append(helper.make_node("Transpose", ["yt"], ["y"], perm=[0, 2, 3, 1]))
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, h, w, c])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def conv_model(name, ic, h, w, oc, kh, kw, s, pad, d, act=None):
    sh, sw = s if isinstance(s, tuple) else (s, s)
    wt = numpy_helper.from_array((rng.standard_normal((oc, ic, kh, kw)) * 0.3).astype(np.float32), "W")
    b = numpy_helper.from_array((rng.standard_normal(oc) * 0.1).astype(np.float32), "B")
    conv = helper.make_node("Conv", ["xt", "W", "B"], ["c" if act else "yt"], strides=[sh, sw], pads=list(pad),
                            dilations=[d, d], kernel_shape=[kh, kw])
    body, inits = [conv], [wt, b]
    if act == "relu":
        body.append(helper.make_node("Relu", ["c"], ["yt"]))
    if act == "relu6":
        inits += [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("lo", 0.0), ("hi", 6.0))]
        body.append(helper.make_node("Clip", ["c", "lo", "hi"], ["yt"]))
    oh = (h + pad[0] + pad[2] - d * (kh - 1) - 1) // sh + 1
    ow = (w + pad[1] + pad[3] - d * (kw - 1) - 1) // sw + 1
    return nhwc_model(name, h, w, ic, [1, oh, ow, oc], body, inits), (h, w, ic)


def dead_model(name, ic, h, w, oc, live_out, live_in):
    wt = (rng.standard_normal((oc, ic, 1, 1)) * 0.3).astype(np.float32)
    wt[rng.permutation(oc)[live_out:]] = 0
    wt[:, rng.permutation(ic)[live_in:]] = 0
    inits = [numpy_helper.from_array(wt, "W"), numpy_helper.from_array((rng.standard_normal(oc) * 0.5).astype(np.float32), "B")]
    body = [helper.make_node("Conv", ["xt", "W", "B"], ["yt"], kernel_shape=[1, 1])]
    return nhwc_model(name, h, w, ic, [1, h, w, oc], body, inits), (h, w, ic)


def dead_dw_model(name, ic, h, w, c, live, s):
    wt = (rng.standard_normal((c, ic, 1, 1)) * 0.3).astype(np.float32)
    b = (rng.standard_normal(c) * 0.5).astype(np.float32)
    dead = rng.permutation(c)[live:]
    wt[dead], b[dead] = 0, -np.abs(b[dead]) - 0.1
    inits = [numpy_helper.from_array(wt, "W"), numpy_helper.from_array(b, "B"),
             numpy_helper.from_array((rng.standard_normal((c, 1, 3, 3)) * 0.5).astype(np.float32), "D"),
             numpy_helper.from_array((rng.standard_normal(c) * 0.5).astype(np.float32), "DB")]
    body = [helper.make_node("Conv", ["xt", "W", "B"], ["p"], kernel_shape=[1, 1]),
            helper.make_node("Relu", ["p"], ["r"]),
            helper.make_node("Conv", ["r", "D", "DB"], ["yt"], kernel_shape=[3, 3], group=c, strides=[s, s],
                             pads=[1, 1, 1, 1])]
    oh, ow = (h - 1) // s + 1, (w - 1) // s + 1
    return nhwc_model(name, h, w, ic, [1, oh, ow, c], body, inits), (h, w, ic)


def add_model(name, swap):
    """Add of two 1x1 convolutions of very different scales, then ReLU."""
    c = 8
    inits = [numpy_helper.from_array((rng.standard_normal((c, c, 1, 1)) * f).astype(np.float32), n)
             for n, f in (("W1", 2.0), ("W2", 0.1))]
    inits += [numpy_helper.from_array((rng.standard_normal(c) * 0.1).astype(np.float32), n) for n in ("B1", "B2")]
    body = [helper.make_node("Conv", ["xt", "W1", "B1"], ["a"], kernel_shape=[1, 1]),
            helper.make_node("Conv", ["xt", "W2", "B2"], ["b"], kernel_shape=[1, 1]),
            helper.make_node("Add", ["b", "a"] if swap else ["a", "b"], ["s"]),
            helper.make_node("Relu", ["s"], ["yt"])]
    return nhwc_model(name, 6, 6, c, [1, 6, 6, c], body, inits), (6, 6, c)


def run(dir, name, model, shape, kernel=None):
    onnx.save(model, dir / f"{name}.onnx")
    # Scaled so that a ReLU6 clamp cuts some outputs.
    np.save(dir / "cal.npy", (3 * rng.standard_normal((8, *shape))).astype(np.float32))
    np.save(dir / "x.npy", (3 * rng.standard_normal((3, *shape))).astype(np.float32))
    outs = []
    for k in ("dsp", "portable"):
        proj = dir / f"{name}_{k}"
        for cmd in ([HYBRIDC, "compile", dir / f"{name}.onnx", "--calib", dir / "cal.npy", "--target", TARGET,
                     "--kernels", k, "-o", proj],
                    [HYBRIDC, "run", proj, "--input", dir / "x.npy", "--output", dir / f"{name}_{k}.npy"]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"{name}: {' '.join(map(str, cmd[:2]))} failed: {r.stderr.strip()}")
        outs.append(np.load(dir / f"{name}_{k}.npy"))
    if kernel and not re.search(kernel, (dir / f"{name}_dsp" / "model.c").read_text()):
        sys.exit(f"{name}: the DSP build does not call {kernel}")
    same = outs[0].shape == outs[1].shape and (outs[0] == outs[1]).all()
    print(f"{name}: {'equal' if same else 'DIFFERENT'}")
    return same


with tempfile.TemporaryDirectory() as t:
    d = Path(t)
    ok = [run(d, cfg[0], *conv_model(*cfg)) for cfg in CONVS]
    ok += [run(d, cfg[0], *dead_model(*cfg), kernel="hyb_dsp_conv_pw_live_s8") for cfg in DEAD]
    # The depthwise kernel's last argument: its sparse path.
    ok += [run(d, cfg[0], *dead_dw_model(*cfg), kernel=r"hyb_dsp_depthwise3x3_s8\([^;]*, 1\);") for cfg in DEAD_DW]
    ok += [run(d, n, *add_model(n, swap)) for n, swap in (("add_a_larger", False), ("add_b_larger", True))]
sys.exit(0 if all(ok) else 1)
