# Sources of the iCEBreaker build, in read order (yosys `read_verilog -defer -sv`), relative to
# the repository root; `$PICORV32/` and `$SERV/` are the venv's pythondata_cpu_picorv32 and
# pythondata_cpu_serv data directories (`.venv/bin/python -c "import pythondata_cpu_serv as p;
# print(p.data_location)"`, or $PICORV32_DIR, $SERV_DIR). The board SoC (soc_rtl.f, which the simulation reads too) plus the board top.
# Every file listed here is hashed into the place-and-route cache key. Format: filelist/src/lib.rs.
-f rtl/board/icebreaker/soc_rtl.f
rtl/board/icebreaker/icebreaker_top.sv
-f rtl/cpus.f
