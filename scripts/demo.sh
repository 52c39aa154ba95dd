#!/usr/bin/env bash
# The main job on the shipped defaults (README, first command). Installs what is missing, builds the
# `cnnfpga` binary, then runs the pipeline on data/sample with the shipped models.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
OUT=${OUT:-out/demo}
mkdir -p "$OUT"
stage() { printf '\n== %s\n' "$*"; }
stage "build (release)"
cargo build --release -q -p host
BIN=target/release/cnnfpga
stage "train a paper CNN on data/sample (short run)"
$BIN train --data data/sample --arch paper-cnn --augment --epochs 8 --out "$OUT/model"
stage "evaluate it"
$BIN eval --model "$OUT/model" --data data/sample
