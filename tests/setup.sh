#!/usr/bin/env bash
# Installs what hybridc's quick start and test suite need on a fresh
# Debian/Ubuntu machine, when missing: the Arm GNU toolchain, QEMU, a host C
# compiler, make. With --tests, also what only the tests use: Python
# packages (onnx, tritonclient, numpy) and the Rust targets and lint tools
# of the Rust backend's checks. Shared by tests/run.sh and
# examples/quickstart.sh; safe to run again.
set -euo pipefail

need=()
command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v cc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3 python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

[ "${1:-}" = "--tests" ] || exit 0

# A Debian python3 refuses system-wide installs unless told (PEP 668).
pip_install() {
  echo "setup: installing $*"
  python3 -m pip install -q "$@" || python3 -m pip install -q --break-system-packages "$@"
}
# The interop test of `hybridc serve` uses NVIDIA's official Python client.
python3 -c "import tritonclient.http, numpy" 2>/dev/null || pip_install 'tritonclient[http]' numpy
# tests/dsp_layers.rs and tests/overflow.rs write their small models with the onnx package.
python3 -c "import onnx" 2>/dev/null || pip_install onnx

# The Rust backend's firmware and its lint checks.
if command -v rustup >/dev/null; then
  rustup target list --installed | grep -qx thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt
fi
