"""Measures the conformance zoo with a built hybridc and prints docs/zoo.md's table.

    cargo build && python3 tests/zoo/measure.py [target/debug/hybridc] > /tmp/zoo.md

(from the repository root; needs numpy, onnxruntime, arm-none-eabi-gcc and qemu-system-arm; no torch.)
For each model of tests/fixtures/zoo: `hybridc compile NAME.onnx --calib NAME_calib.npy`
for the host, `hybridc run` on NAME_x.npy and the SQNR of the int8 output against
onnxruntime's float output NAME_y.npy; then the same for cortex-m4 with
`hybridc run --profile`, whose profile gives the arena, flash and estimated cycles
per inference. A model that does not compile gets its error instead.

Two more columns, computed with onnxruntime only (independent of hybridc), show how
quantizable each model is in the first place:
  ORT int8 SQNR dB  onnxruntime's own static quantization (quantize_static after
                    quant_pre_process: QDQ format, QInt8 activations and weights,
                    per-channel weights, MinMax calibration on the same 32 calibration
                    inputs), SQNR against the float output on NAME_x.npy;
  noise gain        the float model's output SNR when Gaussian noise at 40 dB SNR is
                    added to 16 calibration inputs (40 means noise passes unamplified;
                    a chaotic model, on which no int8 quantizer can do well, gives far less).
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ZOO = os.path.join(ROOT, "tests", "fixtures", "zoo")
OUT = "/tmp/hybridc-zoo"


def readme_rows():
    """name -> (params, MACs) from the fixtures' README table."""
    rows = {}
    for line in open(os.path.join(ZOO, "README.md")):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 9 and cells[5].replace(",", "").isdigit():
            rows[cells[0]] = (cells[5], cells[6])
    return rows


def sqnr_db(want, got):
    want, got = want.astype(np.float64).ravel(), got.astype(np.float64).ravel()
    return 10 * np.log10((want**2).sum() / max(((want - got) ** 2).sum(), 1e-30))


def ort_outputs(sess, x):
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[k:k + 1]})[0] for k in range(len(x))]).astype(np.float64)


def ort_int8_sqnr(name):
    """onnxruntime's static int8 quantization (QDQ, QInt8/QInt8, per channel, MinMax) vs the float output."""
    z = lambda suffix: os.path.join(ZOO, name + suffix)
    out = os.path.join(OUT, "ort", name)
    os.makedirs(out, exist_ok=True)
    calib = np.load(z("_calib.npy"))
    iname = ort.InferenceSession(z(".onnx"), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{iname: calib[k:k + 1]} for k in range(len(calib))])

        def get_next(self):
            return next(self.it, None)

    pre, q = os.path.join(out, "pre.onnx"), os.path.join(out, "int8.onnx")
    quant_pre_process(z(".onnx"), pre)
    quantize_static(pre, q, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    got = ort_outputs(ort.InferenceSession(q, providers=["CPUExecutionProvider"]), np.load(z("_x.npy")))
    return sqnr_db(np.load(z("_y.npy")), got)


def noise_gain(name, in_db=40.0):
    """Float output SNR (dB) for Gaussian noise at in_db SNR on 16 calibration inputs."""
    z = lambda suffix: os.path.join(ZOO, name + suffix)
    sess = ort.InferenceSession(z(".onnx"), providers=["CPUExecutionProvider"])
    x = np.load(z("_calib.npy"))[:16]
    noise = np.random.default_rng(0).standard_normal(x.shape)
    noise *= np.sqrt((x.astype(np.float64) ** 2).sum() / (noise**2).sum() / 10 ** (in_db / 10))
    return sqnr_db(ort_outputs(sess, x), ort_outputs(sess, (x + noise).astype(np.float32)))


def compile_run(hybridc, name, target):
    out = os.path.join(OUT, target, name)
    z = lambda suffix: os.path.join(ZOO, name + suffix)
    r = subprocess.run([hybridc, "compile", z(".onnx"), "--calib", z("_calib.npy"), "--target", target, "-o", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines() or [f"exit code {r.returncode}"]
        return None, lines[-1]
    cmd = [hybridc, "run", out, "--input", z("_x.npy"), "--output", os.path.join(out, "y.npy")]
    if target != "host":
        cmd += ["--profile", os.path.join(out, "profile.json")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, "run: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    db = sqnr_db(np.load(z("_y.npy")), np.load(os.path.join(out, "y.npy")))
    profile = json.load(open(os.path.join(out, "profile.json"))) if target != "host" else None
    return (db, profile), None


def main():
    hybridc = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug", "hybridc")
    meta = readme_rows()
    print("| model | params | MACs | noise gain (40 dB in) | ORT int8 SQNR dB | arena B (M4) | flash B (M4) "
          "| SQNR dB (host) | SQNR dB (M4) | est. cycles on M4 | status |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in meta:
        params, macs = meta[name]
        gain = f"{noise_gain(name):.1f}"
        try:
            ort_db = f"{ort_int8_sqnr(name):.1f}"
        except Exception as e:  # noqa: BLE001 (reported in the table)
            print(f"{name}: onnxruntime quantization failed: {e}", file=sys.stderr)
            ort_db = "fails"
        lead = f"{name} | {params} | {macs} | {gain} | {ort_db}"
        host, err = compile_run(hybridc, name, "host")
        if host is None:
            err = re.sub(r"cannot (compile|quantize) \S+: ", "", err.replace("hybridc: error: ", ""))
            err = re.sub(r" \(supported: .*\)", "", err)
            print(f"| {lead} | - | - | - | - | - | does not compile: {err.replace('|', '/')} |", flush=True)
            continue
        m4, err = compile_run(hybridc, name, "cortex-m4")
        if m4 is None:
            print(f"| {lead} | - | - | {host[0]:.1f} | - | - | cortex-m4: {err} |", flush=True)
            continue
        db, p = m4
        print(f"| {lead} | {p['arena_bytes']:,} | {p['flash_bytes']:,} | {host[0]:.1f} | {db:.1f} "
              f"| {p['cycles_estimate']:,} | compiles, runs |", flush=True)


if __name__ == "__main__":
    main()
