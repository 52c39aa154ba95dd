#!/usr/bin/env bash
# Builds the soft-core firmware at the shipped profile and reports text/data/bss
# (text includes .rodata) with riscv64-unknown-elf-size, plus the largest functions.
# Usage: firmware/scripts/size.sh [--top N]
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=riscv32i-unknown-none-elf
cargo build -q -p firmware --profile firmware --target "$TARGET" --features soc
ELF="${CARGO_TARGET_DIR:-target}/$TARGET/firmware/soc"
riscv64-unknown-elf-size "$ELF"
if [[ "${1:-}" == "--top" ]]; then
  riscv64-unknown-elf-nm -C --size-sort -S "$ELF" | tail -n "${2:-15}"
fi
