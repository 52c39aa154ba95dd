#!/usr/bin/env bash
# The main job on the shipped defaults (README, first command): installs what is missing, builds
# `cnnfpga`, then runs `cnnfpga demo`: shipped float model -> quantise/compress -> export -> the
# firmware on the Verilated SoC for sample images (engines and software-only) -> summary table,
# report figures and an iCEBreaker bitstream. Extra arguments go to `cnnfpga demo` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== building cnnfpga (release)" >&2
cargo build --release -q -p host
exec target/release/cnnfpga demo "$@"
