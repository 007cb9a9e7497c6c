#!/usr/bin/env bash
# Quick start: the bundled hybrid (a small edge CNN, a learned router, a large
# cloud CNN), from nothing to firmware talking to its cloud:
#  1. installs what is missing (tests/setup.sh: the Arm toolchain, QEMU, make),
#  2. tunes the router's threshold for Cortex-M4 and an NB-IoT link on the
#     validation images (out/tuned.json, plotted in out/tuned.svg),
#  3. compiles edge + router into int8 Cortex-M4 firmware with that threshold,
#  4. runs it under QEMU on the test images, its queries going over the
#     emulated UART through `hybridc gateway` to the cloud model served over
#     KServe v2 (`hybridc serve`), and prints the decisions and the accuracy.
# Everything it writes goes to out/ in the repository.
# The example (a folder of the repository holding edge.onnx, router.onnx,
# cloud.onnx, calib.npy, {val,test}_{x,y}.npy and, when its router reads
# more than the edge's output, hybrid.args with its --bind options);
# EXAMPLE=... overrides it (e.g. EXAMPLE=examples/mnist-hybrid).
EXAMPLE=${EXAMPLE:-examples/fmnist-hybrid}
set -euo pipefail
cd "$(dirname "$0")/.."
./tests/setup.sh
E=$EXAMPLE
NAME=$(basename "$E")
# shellcheck disable=SC2207
ARGS=($(cat "$E/hybrid.args" 2>/dev/null || true))
mkdir -p out
hybridc() { cargo run -q -- "$@"; }
echo "quickstart: building hybridc (the first build takes a few minutes)"
cargo build -q
echo "quickstart: tuning the router threshold on $E/val_x.npy"
hybridc tune --edge "$E/edge.onnx" --router "$E/router.onnx" --cloud "$E/cloud.onnx" ${ARGS[@]+"${ARGS[@]}"} \
  --data "$E/val_x.npy" --labels "$E/val_y.npy" --calib "$E/calib.npy" \
  --target cortex-m4 --link nbiot --goal match-cloud --json out/tuned.json --plot out/tuned.svg
echo "quickstart: compiling edge + router for Cortex-M4"
hybridc compile "$E/edge.onnx" --router "$E/router.onnx" ${ARGS[@]+"${ARGS[@]}"} --tuned out/tuned.json \
  --calib "$E/calib.npy" --target cortex-m4 -o "out/$NAME"
echo "quickstart: running the firmware under QEMU on $E/test_x.npy, with the gateway and the cloud"
hybridc run "out/$NAME" --input "$E/test_x.npy" --labels "$E/test_y.npy" \
  --output out/labels.npy --details out/details.json --cloud "$E/cloud.onnx"
O=$PWD/out
echo "quickstart: operating points in $O/tuned.json, their plot (accuracy against latency) in $O/tuned.svg"
echo "quickstart: the firmware project in $O/$NAME, its decisions in $O/labels.npy and $O/details.json"
echo "quickstart: what the compiler knows of it (layers, arena plan, operating curve): open $O/$NAME/report.html"
