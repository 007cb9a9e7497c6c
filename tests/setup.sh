#!/usr/bin/env bash
# Installs what hybridc's quick start and test suite need on a fresh
# Debian/Ubuntu machine, when missing: the Arm GNU toolchain, QEMU, a host C
# compiler, make. With --tests, also what only the tests use: python3 and pip,
# Python packages (numpy, onnx, onnxruntime, tritonclient, kserve) and the
# Rust targets and lint tools of the Rust backend's checks. Shared by
# tests/run.sh (--tests) and examples/quickstart.sh; safe to run again.
set -euo pipefail

tests=false
[ "${1:-}" = "--tests" ] && tests=true

if ! command -v cargo >/dev/null; then
  echo "setup: hybridc needs a Rust toolchain (cargo); install one with rustup, then run this again" >&2
  exit 1
fi

need=()
command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v cc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
if $tests; then
  command -v python3 >/dev/null || need+=(python3)
  command -v cmake >/dev/null || need+=(cmake)
  command -v chromium >/dev/null || need+=(chromium)
  command -v clang >/dev/null || need+=(clang)
  # Debian's python3 comes without pip.
  python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

$tests || exit 0

# A Debian python3 refuses system-wide installs unless told (PEP 668).
pip_install() {
  echo "setup: installing $*"
  python3 -m pip install -q "$@" || python3 -m pip install -q --break-system-packages "$@"
}
# The interop test of `hybridc serve` uses NVIDIA's official Python client.
python3 -c "import tritonclient.http, numpy" 2>/dev/null || pip_install 'tritonclient[http]' numpy
# tests/dsp_layers.rs and tests/overflow.rs write their small models with the onnx package.
python3 -c "import onnx" 2>/dev/null || pip_install onnx
# tests/hybrid.rs runs the cloud model in KServe's own Python ModelServer
# (tests/kserve_server.py) on onnxruntime; about half a minute to install.
python3 -c "import kserve, onnxruntime" 2>/dev/null || pip_install kserve onnxruntime

# The Rust backend's firmware and its lint checks.
if command -v rustup >/dev/null; then
  rustup target list --installed | grep -qx thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt
fi
