#!/usr/bin/env bash
# Quick start: compile the bundled keyword-spotting model (MLPerf Tiny DS-CNN,
# int8) for the host, run it on the bundled inputs, and check every output
# byte against TensorFlow Lite Micro's.
set -euo pipefail
cd "$(dirname "$0")/.."
M=tests/fixtures/mlperf-tiny
cargo run -q -- compile $M/kws_dscnn_int8.onnx --target host -o out/kws_dscnn
cargo run -q -- run out/kws_dscnn --input $M/vectors/kws_dscnn_inputs_int8.npy \
  --output out/kws_dscnn_outputs.npy --expect $M/vectors/kws_dscnn_tflm_outputs_int8.npy
