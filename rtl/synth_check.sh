#!/usr/bin/env bash
# Standalone area check of the conv engine on the iCE40 UP5K:
#   yosys synth_ice40 -dsp of conv_engine alone (rtl/accel.f order), then nextpnr-ice40
#   --pack-only for the logic-cell count (LUT4 + FF + carry packed into ICESTORM_LCs, the
#   number docs/fpga.md and the board build report). IO cells are not counted.
#
# Usage: rtl/accel/synth_check.sh [Lanes] [AddrBits] [extra chparam args...]
#   defaults: Lanes from accel_pkg (via the RTL default), AddrBits 18 (the SoC's pointers).
# Output: one line `lanes=N addr_bits=A lc=X dsp=Y ebr=Z lut4=L ff=F carry=C`.
# Per-module numbers: SYNTH_CHECK_NOFLATTEN=1 also prints yosys `stat` per module.
# Tools: yosys 0.23, nextpnr-ice40 0.4 (scripts/setup.sh). Single-threaded.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
lanes="${1:-}"
addr_bits="${2:-18}"
shift $(( $# > 2 ? 2 : $# ))
work="$(mktemp -d "${TMPDIR:-/tmp}/conv-synth.XXXXXX")"
trap 'rm -rf "$work"' EXIT

files=""
while read -r f; do
  [ -n "$f" ] && files="$files $here/$f"
done < <(grep -v '^\s*\(#\|//\|$\)' "$here/rtl/accel.f")

params="-set AddrBits $addr_bits"
[ -n "$lanes" ] && params="$params -set Lanes $lanes"
for p in "$@"; do params="$params $p"; done

{
  echo "read_verilog -defer -sv$files"
  echo "chparam $params conv_engine"
  if [ "${SYNTH_CHECK_NOFLATTEN:-0}" = 1 ]; then
    echo "synth_ice40 -dsp -top conv_engine -noflatten"
    echo "tee -o $work/stat_hier.txt stat"
    echo "flatten"
    echo "synth_ice40 -dsp -top conv_engine -run fine:"
  else
    echo "synth_ice40 -dsp -top conv_engine"
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

echo "lanes=${lanes:-default} addr_bits=$addr_bits lc=$lc dsp=$dsp ebr=$ebr lut4=$lut ff=$ff carry=$carry"
