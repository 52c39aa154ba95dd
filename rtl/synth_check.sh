#!/usr/bin/env bash
# Standalone area check of one engine on the iCE40 UP5K:
#   yosys synth_ice40 -dsp of the engine alone (its file list's order), then nextpnr-ice40
#   --pack-only for the logic-cell count (LUT4 + FF + carry packed into ICESTORM_LCs, the
#   number docs/fpga.md and the board build report). IO cells are not counted.
#
# Usage: rtl/synth_check.sh conv [Lanes] [AddrBits] [extra chparam args...]
#          defaults: Lanes from accel_pkg (via the RTL default), AddrBits ENGINE_ADDR_BITS.
#          Output: one line `lanes=N addr_bits=A lc=X dsp=Y ebr=Z lut4=L ff=F carry=C`.
#        rtl/synth_check.sh pengine [AddrW]
#          default AddrW ENGINE_ADDR_BITS (as soc_core passes it).
#          Output: one line `addr_w=A lc=X dsp=Y ebr=Z lut4=L ff=F carry=C`.
#        rtl/synth_check.sh --files conv|pengine|LIST.f
#          prints the entries of the engine's list (or of any file list), one a line.
# ENGINE_ADDR_BITS is read from the generated rtl/gen/accel_pkg.sv (rtl/regmap/accel.toml).
# Per-module numbers: SYNTH_CHECK_NOFLATTEN=1 also prints yosys `stat` per module.
# Tools: yosys 0.23, nextpnr-ice40 0.4 (scripts/setup.sh). Single-threaded.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"

# The file-list format of filelist/src/lib.rs (`-f` includes, comments, a file reached twice
# read once); sim/tests/synth_area.rs checks that this reader and the crate agree.
declare -a listed=()
read_list() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line%% #*}"
    line="$(echo "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')"
    case "$line" in
      '' | '#'* | '//'*) ;;
      '-f '*) read_list "$(echo "${line#-f}" | sed 's/^[[:space:]]*//')" ;;
      *)
        local seen=0 e
        for e in ${listed[@]+"${listed[@]}"}; do [ "$e" = "$line" ] && seen=1; done
        [ $seen = 1 ] || listed+=("$line")
        ;;
    esac
  done < "$here/$1"
}

engine_list() {
  case "$1" in
    conv) echo rtl/accel.f ;;
    pengine) echo rtl/pengine.f ;;
    *) echo "synth_check: engine must be conv or pengine, not '$1'" >&2; exit 2 ;;
  esac
}

if [ "${1:-}" = "--files" ]; then
  case "${2:-}" in
    *.f) read_list "$2" ;;
    *) read_list "$(engine_list "${2:-}")" ;;
  esac
  printf '%s\n' "${listed[@]}"
  exit 0
fi

engine="${1:-}"
list="$(engine_list "$engine")"
shift
addr_default="$(sed -n 's/.*localparam int unsigned ENGINE_ADDR_BITS = \([0-9]*\);.*/\1/p' "$here/rtl/gen/accel_pkg.sv")"
[ -n "$addr_default" ] || { echo "synth_check: no ENGINE_ADDR_BITS in rtl/gen/accel_pkg.sv (run cargo xtask codegen)" >&2; exit 1; }
case "$engine" in
  conv)
    top=conv_engine
    lanes="${1:-}"
    addr="${2:-$addr_default}"
    shift $(( $# > 2 ? 2 : $# ))
    params="-set AddrBits $addr"
    [ -n "$lanes" ] && params="$params -set Lanes $lanes"
    for p in "$@"; do params="$params $p"; done
    label="lanes=${lanes:-default} addr_bits=$addr"
    ;;
  pengine)
    top=pengine
    addr="${1:-$addr_default}"
    params="-set AddrW $addr"
    label="addr_w=$addr"
    ;;
esac
work="$(mktemp -d "${TMPDIR:-/tmp}/$engine-synth.XXXXXX")"
trap 'rm -rf "$work"' EXIT

read_list "$list"
files=""
for f in "${listed[@]}"; do files="$files $here/$f"; done

{
  echo "read_verilog -defer -sv$files"
  echo "chparam $params $top"
  if [ "${SYNTH_CHECK_NOFLATTEN:-0}" = 1 ]; then
    echo "synth_ice40 -dsp -top $top -noflatten"
    echo "tee -o $work/stat_hier.txt stat"
    echo "flatten"
    echo "synth_ice40 -dsp -top $top -run fine:"
  else
    echo "synth_ice40 -dsp -top $top"
  fi
  echo "tee -o $work/stat.txt stat"
  echo "write_json $work/engine.json"
} > "$work/synth.ys"

yosys -q -s "$work/synth.ys" > "$work/yosys.log" 2>&1 || { cat "$work/yosys.log" >&2; exit 1; }
[ "${SYNTH_CHECK_NOFLATTEN:-0}" = 1 ] && cat "$work/stat_hier.txt"

cnt() { awk -v c="$1" '$1 == c { s += $2 } END { print s + 0 }' "$work/stat.txt"; }
lut=$(cnt SB_LUT4); carry=$(cnt SB_CARRY); dsp=$(cnt SB_MAC16); ebr=$(cnt SB_RAM40_4K)
ff=$(awk '$1 ~ /^SB_DFF/ { s += $2 } END { print s + 0 }' "$work/stat.txt")

nextpnr-ice40 --up5k --package sg48 --json "$work/engine.json" --pack-only --threads 1 \
  --pcf-allow-unconstrained -q -l "$work/pack.log" > /dev/null 2>&1 || true
lc=$(awk '/ICESTORM_LC:/ { split($3, a, "/"); print a[1] + 0 }' "$work/pack.log" | tail -1)
[ -n "$lc" ] || { echo "synth_check: nextpnr-ice40 --pack-only failed:" >&2; tail -5 "$work/pack.log" >&2; exit 1; }

echo "$label lc=$lc dsp=$dsp ebr=$ebr lut4=$lut ff=$ff carry=$carry"
