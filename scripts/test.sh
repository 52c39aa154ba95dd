#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, then runs every test tier of the
# workspace: firmware kernels/reader/runner, host layers/training/quantiser, Verilated RTL and SoC
# conformance, lint, register-map staleness, firmware target build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo test --workspace --no-fail-fast "$@"
