#!/usr/bin/env bash
# Quick start: the bundled hybrid (examples/mnist-hybrid: a 1k-parameter edge
# CNN, a learned router, a 131k-parameter cloud CNN) compiled into int8
# Cortex-M4 firmware, run under QEMU on the 500 test images with its queries
# going over the emulated UART, through the gateway, to the cloud model served
# over KServe v2; then the operating point tuned for an NB-IoT link.
set -euo pipefail
cd "$(dirname "$0")/.."
E=examples/mnist-hybrid
./tests/setup.sh   # the Arm toolchain and QEMU, when missing
mkdir -p out
cargo run -q -- tune --edge $E/edge.onnx --router $E/router.onnx --cloud $E/cloud.onnx \
  --data $E/val_x.npy --labels $E/val_y.npy --calib $E/calib.npy \
  --target cortex-m4 --link nbiot --goal match-cloud --json out/tuned.json --plot out/tuned.svg
cargo run -q -- compile $E/edge.onnx --router $E/router.onnx --tuned out/tuned.json \
  --calib $E/calib.npy --target cortex-m4 -o out/mnist-hybrid
cargo run -q -- run out/mnist-hybrid --input $E/test_x.npy --labels $E/test_y.npy \
  --output out/labels.npy --details out/details.json --cloud $E/cloud.onnx
echo "quickstart: operating points in out/tuned.json, their plot in out/tuned.svg,"
echo "quickstart: the firmware project in out/mnist-hybrid, its decisions in out/labels.npy and out/details.json"
