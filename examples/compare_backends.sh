#!/usr/bin/env bash
# Profiles the four MLPerf Tiny int8 models on Cortex-M4 under QEMU as C
# (DSP kernels and portable kernels) and as the Rust crate (--emit rust), on
# the seed0 golden input, and prints one markdown table (README: Rust backend).
set -euo pipefail
cd "$(dirname "$0")/.."
HYBRIDC=${HYBRIDC:-"cargo run --quiet --"}
F=tests/fixtures/mlperf-tiny
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "| model | backend | instructions | est. cycles | MAC/cycle | flash B | arena B |"
echo "|---|---|---:|---:|---:|---:|---:|"
for m in ic_resnet8 kws_dscnn vww_mbnv1 ad_fcae; do
  for b in "c dsp" "c portable" "rust auto"; do
    set -- $b
    $HYBRIDC compile $F/${m}_int8.onnx --target cortex-m4 --emit $1 --kernels $2 -o "$OUT/$m-$1-$2" >/dev/null
    $HYBRIDC run "$OUT/$m-$1-$2" --input $F/ref/${m}_seed0_input_int8.npy --output "$OUT/y.npy" \
      --expect $F/ref/${m}_seed0_tflm_output_int8.npy --profile "$OUT/p.json" >/dev/null
    python3 - "$OUT/p.json" "$m" "$1 ($2)" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
name = sys.argv[3].replace("rust (auto)", "Rust").replace("c (", "C (")
print(f"| {sys.argv[2]}_int8 | {name} | {p['instructions']} | {p['cycles_estimate']} | {p['mac_per_cycle']:.3f} | {p['flash_bytes']} | {p['arena_bytes']} |")
PY
  done
done
