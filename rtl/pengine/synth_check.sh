#!/usr/bin/env bash
# Standalone area check of the P-layer engine on the iCE40 UP5K:
#   yosys synth_ice40 -dsp of pengine alone (rtl/pengine.f order), then nextpnr-ice40
#   --pack-only for the logic-cell count (LUT4 + FF + carry packed into ICESTORM_LCs, the
#   number docs/fpga.md and the board build report). IO cells are not counted.
#
# Usage: rtl/pengine/synth_check.sh [AddrW]     (default 18, as soc_core passes it)
# Output: one line `addr_w=A lc=X dsp=Y ebr=Z lut4=L ff=F carry=C`.
# Per-module numbers: SYNTH_CHECK_NOFLATTEN=1 also prints yosys `stat` per module.
# Tools: yosys 0.23, nextpnr-ice40 0.4 (scripts/setup.sh). Single-threaded.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
addr_w="${1:-18}"
work="$(mktemp -d "${TMPDIR:-/tmp}/pengine-synth.XXXXXX")"
trap 'rm -rf "$work"' EXIT

files=""
while read -r f; do
  [ -n "$f" ] && files="$files $here/$f"
done < <(grep -v '^\s*\(#\|//\|$\)' "$here/rtl/pengine.f")

{
  echo "read_verilog -defer -sv$files"
  echo "chparam -set AddrW $addr_w pengine"
  if [ "${SYNTH_CHECK_NOFLATTEN:-0}" = 1 ]; then
    echo "synth_ice40 -dsp -top pengine -noflatten"
    echo "tee -o $work/stat_hier.txt stat"
    echo "flatten"
    echo "synth_ice40 -dsp -top pengine -run fine:"
  else
    echo "synth_ice40 -dsp -top pengine"
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

echo "addr_w=$addr_w lc=$lc dsp=$dsp ebr=$ebr lut4=$lut ff=$ff carry=$carry"
