"""Measures the conformance zoo with a built hybridc and prints docs/zoo.md's table.

    cargo build && python3 tests/zoo/measure.py [target/debug/hybridc] > /tmp/zoo.md

(from the repository root; needs numpy, arm-none-eabi-gcc and qemu-system-arm; no torch.)
For each model of tests/fixtures/zoo: `hybridc compile NAME.onnx --calib NAME_calib.npy`
for the host, `hybridc run` on NAME_x.npy and the SQNR of the int8 output against
onnxruntime's float output NAME_y.npy; then the same for cortex-m4 with
`hybridc run --profile`, whose profile gives the arena, flash and estimated cycles
per inference. A model that does not compile gets its error instead.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np

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
    print("| model | params | MACs | arena B (M4) | flash B (M4) | SQNR dB (host) | SQNR dB (M4) | est. cycles on M4 | status |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in meta:
        params, macs = meta[name]
        host, err = compile_run(hybridc, name, "host")
        if host is None:
            err = re.sub(r"cannot (compile|quantize) \S+: ", "", err.replace("hybridc: error: ", ""))
            err = re.sub(r" \(supported: .*\)", "", err)
            print(f"| {name} | {params} | {macs} | - | - | - | - | - | does not compile: {err.replace('|', '/')} |", flush=True)
            continue
        m4, err = compile_run(hybridc, name, "cortex-m4")
        if m4 is None:
            print(f"| {name} | {params} | {macs} | - | - | {host[0]:.1f} | - | - | cortex-m4: {err} |", flush=True)
            continue
        db, p = m4
        print(f"| {name} | {params} | {macs} | {p['arena_bytes']:,} | {p['flash_bytes']:,} | {host[0]:.1f} | {db:.1f} "
              f"| {p['cycles_estimate']:,} | compiles, runs |", flush=True)


if __name__ == "__main__":
    main()
