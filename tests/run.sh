#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs (the Arm
# GNU toolchain and QEMU, when missing), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v cc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3 python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${need[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# The interop test of `hybridc serve` uses NVIDIA's official Python client.
if ! python3 -c "import tritonclient.http, numpy" 2>/dev/null; then
  echo "tests/run.sh: installing tritonclient[http] and numpy"
  # A Debian python3 refuses system-wide installs unless told (PEP 668).
  python3 -m pip install -q 'tritonclient[http]' numpy \
    || python3 -m pip install -q --break-system-packages 'tritonclient[http]' numpy
fi

# tests/dsp_layers.rs writes its small models with the onnx package.
if ! python3 -c "import onnx" 2>/dev/null; then
  echo "tests/run.sh: installing onnx"
  python3 -m pip install -q onnx || python3 -m pip install -q --break-system-packages onnx
fi

# The Rust backend's firmware and its lint checks.
if command -v rustup >/dev/null; then
  rustup target list --installed | grep -qx thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt
fi

cargo test --workspace
