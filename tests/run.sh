#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs (the Arm
# GNU toolchain, QEMU and the tests' Python packages, when missing), then
# runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./tests/setup.sh --tests
cargo test --workspace
