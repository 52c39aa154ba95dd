# Sources of the iCEBreaker build, in read order (yosys `read_verilog -defer -sv`), relative to
# the repository root; `$PICORV32/` is the venv's pythondata_cpu_picorv32 data directory
# (`.venv/bin/python -c "import pythondata_cpu_picorv32 as p; print(p.data_location)"`, or
# $PICORV32_DIR). The board SoC (soc_rtl.f, which the simulation reads too) plus the board top.
# Every file listed here is hashed into the place-and-route cache key. Format: filelist/src/lib.rs.
-f rtl/board/icebreaker/soc_rtl.f
rtl/board/icebreaker/icebreaker_top.sv
$PICORV32/picorv32.v
$PICORV32/picosoc/ice40up5k_spram.v
